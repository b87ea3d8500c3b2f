//! The master key that seals account signing keys at rest (SPEC §9): opened (or
//! created, with a warning) when an API process starts, which also seals any key still
//! in the clear; and `usher keys rotate-master`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use usher_store::Db;
use usher_store::master_key::{MasterKeys, seal_account_keys};

use crate::cli::RotateMasterArgs;
use crate::storage;

/// Opens the master key file, creating it when there is none, and seals every account
/// key not yet sealed under its current key.
pub async fn open_for_api(db: &Db, path: &Path) -> anyhow::Result<Arc<MasterKeys>> {
    let in_use = db.master_key_ids_in_use().await?;
    // A new key would open none of the keys already sealed: refuse rather than start a
    // server that cannot sign for any existing account.
    anyhow::ensure!(
        in_use.is_empty() || path.exists(),
        "the database holds signing keys sealed under master key {}, but there is no \
         master key file at {}: start with the deployment's file (--master-key-file)",
        in_use.join(", "),
        path.display()
    );
    let (keys, created) = MasterKeys::load_or_create(path)
        .with_context(|| format!("opening the master key file {}", path.display()))?;
    let missing: Vec<&str> = in_use
        .iter()
        .map(String::as_str)
        .filter(|id| !keys.holds(id))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the database holds signing keys sealed under master key {}, which {} does not \
         hold: is it this deployment's file?",
        missing.join(", "),
        path.display()
    );
    if created {
        tracing::warn!(
            file = %path.display(),
            "created a new master key: it seals every account's signing key, so back it up \
             apart from the database, and give every API process the same file \
             (--master-key-file)"
        );
    }
    let sealed = seal_account_keys(db, &keys)
        .await
        .context("sealing account keys under the master key")?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed account signing keys that were in the clear");
    }
    Ok(Arc::new(keys))
}

/// `usher keys new-master`.
pub fn create(path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !path.exists(),
        "{} exists: a master key file is never overwritten (rotate with `usher keys rotate-master`)",
        path.display()
    );
    let (keys, created) =
        MasterKeys::load_or_create(path).with_context(|| format!("writing {}", path.display()))?;
    anyhow::ensure!(
        created,
        "{} appeared meanwhile; left as it is",
        path.display()
    );
    println!(
        "master key {} written to {} (mode 0600). Copy it to every API machine, and back \
         it up apart from the database.",
        keys.current_id(),
        path.display()
    );
    Ok(())
}

/// `usher keys rotate-master`.
pub async fn rotate(args: RotateMasterArgs) -> anyhow::Result<()> {
    let path = args.master_key.path(&args.storage);
    let keys = MasterKeys::load(&path).with_context(|| {
        format!(
            "opening the master key file {} (rotate with the file the servers use)",
            path.display()
        )
    })?;
    let stores = storage::open(&args.storage).await?;
    let old = keys.current_id();
    let new = keys.rotate().context("writing the new master key")?;
    let sealed = seal_account_keys(&stores.db, &keys)
        .await
        .context("re-sealing account keys (run the command again to finish)")?;
    stores.db.close().await;
    println!(
        "master key rotated: {old} -> {new}; {sealed} account signing keys re-sealed.\n\
         Copy {} to every API machine. The old key stays in the file for processes still \
         running with it; once all have restarted it may be removed from the file.",
        path.display()
    );
    Ok(())
}
