//! Staging files for resumable uploads: one local file per upload, appended by whichever
//! request holds its exclusive lock (an OS file lock, so it holds across processes
//! sharing the data dir). The database says how much of the file is acknowledged;
//! anything past that (bytes written before a crash, never acknowledged) is cut off
//! before the next append, so a resumed upload always continues from a known offset.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use usher_core::VideoId;

use crate::error::Result;

/// Bytes gathered in memory before a write to the file.
const WRITE_BUFFER: usize = 1024 * 1024;
/// How long a request waits for another request on the same upload to let go.
const LOCK_WAIT: Duration = Duration::from_secs(3);
const LOCK_RETRY: Duration = Duration::from_millis(25);

/// The directory of staging files.
#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path(&self, uid: &VideoId) -> PathBuf {
        self.dir.join(uid.as_str())
    }

    /// Opens (creating if needed) the upload's file and takes its lock; `None` if
    /// another request still holds it after a short wait.
    pub async fn lock(&self, uid: &VideoId) -> Result<Option<StagingFile>> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.path(uid);
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_locked(&path))
                .await
                .map_err(std::io::Error::other)??
        };
        Ok(opened.map(|file| StagingFile {
            out: BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file)),
            path,
        }))
    }

    /// Whether the upload has a staging file.
    pub async fn exists(&self, uid: &VideoId) -> bool {
        tokio::fs::metadata(self.path(uid)).await.is_ok()
    }

    /// Removes the upload's staging file, if any.
    pub async fn remove(&self, uid: &VideoId) -> Result<()> {
        match tokio::fs::remove_file(self.path(uid)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn open_locked(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(LOCK_RETRY);
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// A locked staging file. The lock is released when it is dropped.
pub struct StagingFile {
    out: BufWriter<tokio::fs::File>,
    path: PathBuf,
}

impl StagingFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cuts the file to `offset` (dropping bytes never acknowledged) and positions the
    /// next write there.
    pub async fn rewind_to(&mut self, offset: u64) -> Result<()> {
        self.out.flush().await?;
        let f = self.out.get_mut();
        f.set_len(offset).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok(())
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.out.write_all(data).await?;
        Ok(())
    }

    /// Makes everything written so far durable.
    pub async fn sync(&mut self) -> Result<()> {
        self.out.flush().await?;
        self.out.get_ref().sync_data().await?;
        Ok(())
    }
}
