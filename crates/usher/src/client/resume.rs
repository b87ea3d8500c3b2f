//! Where `usher upload` remembers unfinished uploads, so running the same command again
//! resumes instead of starting over: one small file per upload under
//! `$XDG_STATE_HOME/usher/uploads/` (default `~/.local/state/usher/uploads/`), named by a
//! fingerprint of the server, the account and the file (path, size, modification time).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// An upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Remembered {
    /// The tus upload URL.
    pub url: String,
    /// The video's uid.
    pub uid: String,
}

pub struct ResumeStore {
    dir: PathBuf,
}

impl ResumeStore {
    pub fn open() -> anyhow::Result<Self> {
        let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(
                std::env::var_os("HOME").context("neither XDG_STATE_HOME nor HOME is set")?,
            )
            .join(".local/state"),
        };
        let dir = base.join("usher/uploads");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// Identifies one file's upload to one account on one server.
    pub fn fingerprint(server: &str, account: &str, file: &Path) -> anyhow::Result<String> {
        let abs =
            std::fs::canonicalize(file).with_context(|| format!("reading {}", file.display()))?;
        let meta = std::fs::metadata(&abs)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let text = format!(
            "{server}\n{account}\n{}\n{}\n{mtime}",
            abs.display(),
            meta.len()
        );
        Ok(usher_core::secret::digest_hex(text.as_bytes()))
    }

    fn path(&self, fingerprint: &str) -> PathBuf {
        self.dir.join(format!("{fingerprint}.json"))
    }

    pub fn get(&self, fingerprint: &str) -> Option<Remembered> {
        let text = std::fs::read_to_string(self.path(fingerprint)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn put(&self, fingerprint: &str, r: &Remembered) -> anyhow::Result<()> {
        let path = self.path(fingerprint);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(r)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    pub fn forget(&self, fingerprint: &str) {
        let _ = std::fs::remove_file(self.path(fingerprint));
    }
}
