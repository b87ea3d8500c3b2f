//! Account signing keys sealed under the master key (SPEC §9), on both backends: keys
//! in the clear are sealed, a rotation re-seals, and the database is scrubbed after
//! (SQLite's WAL checkpointed, PostgreSQL's table rewritten).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::KeyId;
use usher_core::time_fmt::now_micros;
use usher_store::master_key::{MasterKeys, account_key_aad, seal_account_keys};
use usher_store::{KeyKind, KeyRecord};

use crate::{Fixture, account};

async fn keys_in_the_clear_are_sealed_and_rotation_reseals_them(f: &Fixture) {
    let a = account(&f.db).await;
    let der = b"pretend PKCS#8 DER of an RSA key".to_vec();
    let id = KeyId::generate();
    f.db.insert_key(
        &KeyRecord {
            id: id.clone(),
            account_id: a.clone(),
            kind: KeyKind::Account,
            public_key: "cHVi".into(),
            private_key: Some(STANDARD.encode(&der)),
            master_key_id: None,
            created: now_micros(),
            revoked_at: None,
        },
        usize::MAX,
    )
    .await
    .unwrap();
    let (keys, _) = MasterKeys::load_or_create(&f.dir.path().join("master.key")).unwrap();
    assert!(f.db.master_key_ids_in_use().await.unwrap().is_empty());

    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 1);
    let stored = f.db.account_key(&a).await.unwrap().unwrap();
    let first = keys.current_id();
    assert_eq!(stored.master_key_id.as_deref(), Some(first.as_str()));
    let sealed = stored.private_key.clone().unwrap();
    assert_ne!(sealed, STANDARD.encode(&der));
    let aad = account_key_aad(&id, &a);
    assert_eq!(*keys.open(&first, &sealed, &aad).unwrap(), der);
    assert_eq!(
        f.db.master_key_ids_in_use().await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 0, "once");

    let second = keys.rotate().unwrap();
    assert_eq!(seal_account_keys(&f.db, &keys).await.unwrap(), 1);
    let stored = f.db.account_key(&a).await.unwrap().unwrap();
    assert_eq!(stored.master_key_id.as_deref(), Some(second.as_str()));
    assert_eq!(
        *keys
            .open(&second, stored.private_key.as_deref().unwrap(), &aad)
            .unwrap(),
        der
    );
    assert_eq!(f.db.master_key_ids_in_use().await.unwrap(), [second]);
    // A stale reader's re-seal of the old row changes nothing.
    let mut stale = stored.clone();
    stale.private_key = Some(sealed);
    assert!(!f.db.reseal_key(&stale, &first, "x").await.unwrap());
}

conformance!(keys_in_the_clear_are_sealed_and_rotation_reseals_them);
