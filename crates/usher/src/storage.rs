//! Opening the stores named by the storage flags, with the embedded defaults under
//! `--data-dir` when no URL is given.

use std::path::PathBuf;

use anyhow::Context;
use usher_store::{Blobs, Db};

use crate::cli::StorageArgs;

pub struct Stores {
    pub db: Db,
    pub blobs: Blobs,
    /// Scratch space for workers (same filesystem as local media, so renames are cheap).
    pub scratch: PathBuf,
}

pub async fn open(args: &StorageArgs) -> anyhow::Result<Stores> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;
    let db_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("usher.db").display()));
    let media_url = args
        .media_url
        .clone()
        .unwrap_or_else(|| format!("file://{}", data_dir.join("media").display()));
    let options = usher_store::DbOptions {
        max_connections: args.database_connections,
        ..usher_store::DbOptions::default()
    };
    let db = Db::connect_with(&db_url, &options)
        .await
        .with_context(|| format!("opening database {}", redact(&db_url)))?;
    let blobs =
        Blobs::open(&media_url).with_context(|| format!("opening media store {media_url}"))?;
    Ok(Stores {
        db,
        blobs,
        scratch: data_dir.join("tmp"),
    })
}

/// A URL fit for logs: any password is replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite:///x/y.db"), "sqlite:///x/y.db");
    }
}
