//! The MP4s that thumbnails are cut from, when blobs are not local files (S3).
//!
//! ffmpeg is given a local copy: it seeks in its input (the index at the front, then the
//! frames at the requested time), which over a store would mean teaching it to read
//! signed byte-range URLs; a file in scratch space works with every store and keeps the
//! store's credentials out of ffmpeg's command line. Copies are kept for further cuts
//! (a player's seek bar asks for many times of one video in a row), least recently
//! used out first, within [`SOURCE_BUDGET`] bytes. A copy in use when it is pushed out
//! is deleted once its cut finishes, so the disk used is at most the budget plus one
//! copy per cut running at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Mutex as AsyncMutex;
use usher_store::{Blobs, StoreError};

/// Bytes of downloaded MP4s kept in scratch space for later cuts.
pub const SOURCE_BUDGET: u64 = 1 << 30;

/// A local copy of a blob; the file goes when the last holder drops it.
#[derive(Debug)]
pub struct Source {
    path: tempfile::TempPath,
    size: u64,
}

impl Source {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Default)]
struct Kept {
    /// Oldest use first. Few entries (a budget's worth of videos), so a scan is cheap.
    entries: Vec<(String, Arc<Source>)>,
    bytes: u64,
}

pub struct Sources {
    dir: PathBuf,
    budget: u64,
    kept: Mutex<Kept>,
    /// One download per blob at a time: concurrent cuts of one video share it.
    fetching: AsyncMutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

impl Sources {
    pub fn new(dir: PathBuf, budget: u64) -> Self {
        Self {
            dir,
            budget,
            kept: Mutex::default(),
            fetching: AsyncMutex::default(),
        }
    }

    /// A local copy of blob `key`, downloaded unless one is kept.
    pub async fn get(&self, blobs: &Blobs, key: &str) -> Result<Arc<Source>, StoreError> {
        if let Some(s) = self.kept(key) {
            return Ok(s);
        }
        let lock = {
            let mut fetching = self.fetching.lock().await;
            fetching.entry(key.to_owned()).or_default().clone()
        };
        let result = async {
            let _one = lock.lock().await;
            if let Some(s) = self.kept(key) {
                return Ok(s);
            }
            let source = Arc::new(self.download(blobs, key).await?);
            self.keep(key, source.clone());
            Ok(source)
        }
        .await;
        let mut fetching = self.fetching.lock().await;
        if fetching.get(key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            fetching.remove(key);
        }
        result
    }

    async fn download(&self, blobs: &Blobs, key: &str) -> Result<Source, StoreError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = tempfile::Builder::new()
            .prefix("source-")
            .suffix(".mp4")
            .tempfile_in(&self.dir)?
            .into_temp_path();
        // On failure `path` is dropped here, and the partial copy with it.
        let size = blobs.download_to(key, &path).await?;
        Ok(Source { path, size })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kept(&self, key: &str) -> Option<Arc<Source>> {
        let mut kept = self.lock();
        let i = kept.entries.iter().position(|(k, _)| k == key)?;
        let entry = kept.entries.remove(i);
        let source = entry.1.clone();
        kept.entries.push(entry);
        Some(source)
    }

    fn keep(&self, key: &str, source: Arc<Source>) {
        if source.size > self.budget {
            return; // used for this cut only
        }
        let evicted = {
            let mut kept = self.lock();
            kept.bytes += source.size;
            kept.entries.push((key.to_owned(), source));
            let mut evicted = Vec::new();
            while kept.bytes > self.budget && !kept.entries.is_empty() {
                let (_, old) = kept.entries.remove(0);
                kept.bytes -= old.size;
                evicted.push(old);
            }
            evicted
        };
        // Outside the lock: the last holder's drop deletes the file.
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, path::Path as StorePath};

    async fn store(blobs: &[(&str, usize)]) -> Blobs {
        let mem = Arc::new(InMemory::new());
        for (key, len) in blobs {
            mem.put(&StorePath::from(*key), vec![b'x'; *len].into())
                .await
                .unwrap();
        }
        Blobs::from_store(mem)
    }

    #[tokio::test]
    async fn copies_are_kept_within_the_budget_and_deleted_when_no_longer_used() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(&[("a", 400), ("b", 400), ("c", 400), ("huge", 5000)]).await;
        let sources = Sources::new(dir.path().join("sources"), 1000);

        let a = sources.get(&blobs, "a").await.unwrap();
        assert_eq!(std::fs::read(a.path()).unwrap(), vec![b'x'; 400]);
        let again = sources.get(&blobs, "a").await.unwrap();
        assert!(Arc::ptr_eq(&a, &again), "kept, not downloaded twice");
        drop(again);
        let a_path = a.path().to_owned();

        let b = sources.get(&blobs, "b").await.unwrap();
        let b_path = b.path().to_owned();
        drop(b);
        // "a" is used again, so "b" is now the oldest and goes when "c" comes.
        assert!(Arc::ptr_eq(&a, &sources.get(&blobs, "a").await.unwrap()));
        let c = sources.get(&blobs, "c").await.unwrap();
        assert!(!b_path.exists(), "evicted and unused: deleted");
        assert!(a_path.exists());

        // Over the budget on its own: served, never kept.
        let huge = sources.get(&blobs, "huge").await.unwrap();
        let huge_path = huge.path().to_owned();
        drop(huge);
        assert!(!huge_path.exists());

        // Pushed out while a cut still reads it: the file lives until that cut is done.
        let big = store(&[("d", 900)]).await;
        let d = sources.get(&big, "d").await.unwrap();
        assert!(a_path.exists(), "still held");
        drop(a);
        assert!(!a_path.exists());
        drop((c, d));
        assert!(sources.lock().bytes <= 1000);

        let missing = sources.get(&blobs, "nope").await.unwrap_err();
        assert!(matches!(
            missing,
            StoreError::Blob(object_store::Error::NotFound { .. })
        ));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("sources"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "only the kept copy of d: {left:?}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_cuts_of_one_video_download_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = store(&[("v", 100_000)]).await;
        let sources = Arc::new(Sources::new(dir.path().to_owned(), SOURCE_BUDGET));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (sources, blobs) = (sources.clone(), blobs.clone());
                tokio::spawn(async move { sources.get(&blobs, "v").await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        assert!(got.iter().all(|s| Arc::ptr_eq(s, &got[0])));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
