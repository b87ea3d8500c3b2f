//! Durable writes and concatenation, for resumable uploads staged as parts: a part is
//! stored whole and durably before it is acknowledged, and the finished upload is the
//! parts' concatenation. On local files that is an in-kernel copy of each part into a
//! staging file that is fsynced and renamed into place; on S3 a multipart upload fed
//! part by part, window by window. Either way memory stays bounded and the result
//! appears under its key only when complete.

use std::io::ErrorKind;
use std::path::{Path as FsPath, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::{Blobs, path_err};
use crate::error::{Result, StoreError};

/// How a concatenation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concat {
    /// The result is in place; this many bytes.
    Done(u64),
    /// The source at this index is missing or not the size expected; nothing was
    /// written.
    BadPart(usize),
}

impl Blobs {
    /// Stores `chunks` as the blob `key` in one write, durable when this returns (fsynced
    /// on local files).
    pub async fn put_durably(&self, key: &str, chunks: Vec<Bytes>) -> Result<()> {
        let payload: PutPayload = chunks.into_iter().collect();
        self.durable
            .put(&Path::parse(key).map_err(path_err)?, payload)
            .await?;
        Ok(())
    }

    /// Writes the concatenation of `parts` (each a key and the size it must have) to
    /// `to`, durably, replacing it if present. The parts are left as they are.
    pub async fn concat(&self, parts: &[(String, u64)], to: &str) -> Result<Concat> {
        if let (Some(dest), Some(sources)) = (
            self.local_path(to),
            parts
                .iter()
                .map(|(k, size)| self.local_path(k).map(|p| (p, *size)))
                .collect::<Option<Vec<_>>>(),
        ) {
            return tokio::task::spawn_blocking(move || concat_files(&sources, &dest))
                .await
                .map_err(std::io::Error::other)?;
        }
        self.concat_streaming(parts, to).await
    }

    /// The concatenation through the store: a multipart upload of bounded parts, fed
    /// from each source's read windows in turn.
    async fn concat_streaming(&self, parts: &[(String, u64)], to: &str) -> Result<Concat> {
        let mut out = self.writer(to).await?;
        for (i, (key, size)) in parts.iter().enumerate() {
            let read = match self.get_range(key, None).await {
                Ok(Some(read)) if read.meta.size == *size => read,
                Ok(_) => {
                    out.abort().await;
                    return Ok(Concat::BadPart(i));
                }
                Err(e) => {
                    out.abort().await;
                    return Err(e);
                }
            };
            let mut stream = read.stream;
            while let Some(chunk) = stream.next().await {
                let written = match chunk {
                    Ok(chunk) => out.write(chunk).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = written {
                    out.abort().await;
                    return Err(e);
                }
            }
        }
        Ok(Concat::Done(out.finish().await?))
    }
}

/// The local concatenation: each source copied in the kernel (`copy_file_range`) into
/// `<dest>#<digits>` — a name the store's listings skip and the sweep of abandoned
/// writes removes — which is fsynced and renamed over `dest`.
fn concat_files(sources: &[(PathBuf, u64)], dest: &FsPath) -> Result<Concat> {
    let dir = dest
        .parent()
        .ok_or_else(|| StoreError::Config(format!("{} has no directory", dest.display())))?;
    std::fs::create_dir_all(dir)?;
    let mut staging = dest.as_os_str().to_owned();
    staging.push(format!("#{}", staging_digits()));
    let mut staging = Staging {
        path: PathBuf::from(staging),
        placed: false,
    };
    let mut out = std::fs::File::create(&staging.path)?;
    let mut total = 0u64;
    for (i, (path, size)) in sources.iter().enumerate() {
        let mut part = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Concat::BadPart(i)),
            Err(e) => return Err(e.into()),
        };
        if part.metadata()?.len() != *size {
            return Ok(Concat::BadPart(i));
        }
        let copied = std::io::copy(&mut part, &mut out)?;
        if copied != *size {
            return Ok(Concat::BadPart(i));
        }
        total += copied;
    }
    out.sync_all()?;
    drop(out);
    std::fs::rename(&staging.path, dest)?;
    staging.placed = true;
    // The rename itself must survive a power cut too.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(Concat::Done(total))
}

/// A unique all-digit suffix, as object_store names its own staging files.
fn staging_digits() -> u128 {
    u128::from_str_radix(&usher_core::ids::random_hex_id(), 16).unwrap_or_default()
}

/// A staging file, removed unless it was renamed into place.
struct Staging {
    path: PathBuf,
    placed: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %self.path.display(), "could not remove a staging file");
        }
    }
}
