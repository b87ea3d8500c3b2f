//! Media blobs behind one interface: `object_store` on the local filesystem or on any
//! S3-compatible store, through the same calls. Writes stream in bounded chunks and
//! become visible only when finished, so a crash never exposes a partial blob.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Result, StoreError};

mod concat;
mod read;
pub use concat::Concat;
pub use read::{BlobMeta, BlobRead, READ_WINDOW};

/// Bytes buffered per part before it is handed to the store. Also above S3's 5 MiB
/// minimum for every part but the last.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once per writer; together with `PART_SIZE` this bounds the memory
/// one upload can use.
const PARTS_IN_FLIGHT: usize = 2;
/// Read size when streaming a local file into the store.
const COPY_CHUNK: usize = 1024 * 1024;

/// Where the media lives, as `--media-url` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MediaUrl<'a> {
    /// `file://PATH`, absolute or relative.
    File(&'a str),
    /// `s3://BUCKET[/PREFIX]`: every key is stored under `PREFIX/`.
    S3 { bucket: &'a str, prefix: &'a str },
}

impl<'a> MediaUrl<'a> {
    fn parse(url: &'a str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(Self::File(path));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(StoreError::Config(format!(
                "unsupported media URL {url:?}: expected file://PATH or s3://BUCKET[/PREFIX]"
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Config(format!(
                "media URL {url:?} names no bucket: expected s3://BUCKET[/PREFIX]"
            )));
        }
        // S3 bucket names: lowercase letters, digits, dots and hyphens. Anything else
        // (a query, credentials, a port) is a mistake better reported here than as a
        // signature error from the server.
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(StoreError::Config(format!(
                "media URL {url:?}: {bucket:?} is not a valid bucket name"
            )));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            Path::parse(prefix).map_err(|e| {
                StoreError::Config(format!("media URL {url:?}: invalid prefix: {e}"))
            })?;
        }
        Ok(Self::S3 { bucket, prefix })
    }
}

#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The same store, for writes that must be durable when they return: on local files
    /// a handle that fsyncs each file and its directory; elsewhere `store` itself (an S3
    /// write is durable once acknowledged).
    durable: Arc<dyn ObjectStore>,
    /// Set when blobs are plain files, so the edge can serve them with sendfile.
    local: Option<Arc<LocalFileSystem>>,
    /// The directory behind `local`.
    local_root: Option<Arc<FsPath>>,
}

impl Blobs {
    /// Opens `file://PATH` (absolute or relative, created if missing) or
    /// `s3://BUCKET[/PREFIX]`. For S3 the endpoint, region and credentials come from the
    /// standard environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true` for a plain-http endpoint), and
    /// requests are path-style so that any S3-compatible server works.
    pub fn open(media_url: &str) -> Result<Self> {
        match MediaUrl::parse(media_url)? {
            MediaUrl::File(path) => Self::open_local(path),
            MediaUrl::S3 { bucket, prefix } => Self::open_s3(bucket, prefix),
        }
    }

    fn open_local(path: &str) -> Result<Self> {
        std::fs::create_dir_all(path)?;
        let root = std::fs::canonicalize(path)?;
        let fs = Arc::new(LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true));
        let durable = LocalFileSystem::new_with_prefix(&root)?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        Ok(Self {
            store: fs.clone(),
            durable: Arc::new(durable),
            local: Some(fs),
            local_root: Some(Arc::from(root.as_path())),
        })
    }

    fn open_s3(bucket: &str, prefix: &str) -> Result<Self> {
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .build()?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, Path::parse(prefix).map_err(path_err)?))
        };
        Ok(Self {
            durable: store.clone(),
            store,
            local: None,
            local_root: None,
        })
    }

    /// Where the blob lives on disk, when the store is the local filesystem; `None` on
    /// S3, where it has to be read through the store.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let fs = self.local.as_ref()?;
        fs.path_to_filesystem(&Path::parse(key).ok()?).ok()
    }

    pub async fn writer(&self, key: &str) -> Result<BlobWriter> {
        let upload = self
            .store
            .put_multipart(&Path::parse(key).map_err(path_err)?)
            .await?;
        Ok(BlobWriter {
            inner: WriteMultipart::new_with_chunk_size(upload, PART_SIZE),
            written: 0,
        })
    }

    /// Stores a small blob in one request (manifests, captions): no multipart upload
    /// for a few hundred bytes. Atomic like every write: readers see the old blob or the
    /// new one.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&Path::parse(key).map_err(path_err)?, bytes.into())
            .await?;
        Ok(())
    }

    /// Reads a small blob whole, or `None` if there is none; a blob larger than `max`
    /// bytes is an error rather than an allocation the caller did not plan for. One
    /// request, so a blob replaced meanwhile (a live playlist, every segment) is read as
    /// the old version or the new one, never as a mismatch between a `HEAD` and a `GET`.
    pub async fn get_bytes(&self, key: &str, max: u64) -> Result<Option<Bytes>> {
        let Ok(path) = Path::parse(key) else {
            return Ok(None);
        };
        let got = match self.store.get(&path).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if got.meta.size > max {
            return Err(StoreError::Corrupt(format!(
                "{key} is {} bytes, more than the {max} expected",
                got.meta.size
            )));
        }
        Ok(Some(got.bytes().await?))
    }

    /// Copies the blob `from` to `to` inside the store, replacing `to` if it exists: S3
    /// `CopyObject`, or a hard link locally (blobs are only ever replaced, never changed
    /// in place, so sharing the file is safe). The bytes never pass through this process.
    pub async fn copy(&self, from: &str, to: &str) -> Result<()> {
        let from = Path::parse(from).map_err(path_err)?;
        let to = Path::parse(to).map_err(path_err)?;
        self.store.copy(&from, &to).await?;
        Ok(())
    }

    /// Streams a local file into the store; returns its size.
    pub async fn put_file(&self, key: &str, file: &FsPath) -> Result<u64> {
        let mut f = tokio::fs::File::open(file).await?;
        let mut w = self.writer(key).await?;
        let mut buf = vec![0u8; COPY_CHUNK];
        loop {
            let n = match f.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    w.abort().await;
                    return Err(e.into());
                }
            };
            if let Err(e) = w.write(Bytes::copy_from_slice(&buf[..n])).await {
                w.abort().await;
                return Err(e);
            }
        }
        w.finish().await
    }

    /// Streams a blob into a local file, window by window (see [`read`]); returns its
    /// size.
    pub async fn download_to(&self, key: &str, file: &FsPath) -> Result<u64> {
        let Some(read) = self.get_range(key, None).await? else {
            return Err(StoreError::Blob(object_store::Error::NotFound {
                path: key.to_owned(),
                source: "no such blob".into(),
            }));
        };
        let mut stream = read.stream;
        let mut out = tokio::fs::File::create(file).await?;
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            n += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(n)
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.store.head(&Path::parse(key).map_err(path_err)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = Path::parse(prefix).map_err(path_err)?;
        let mut out = Vec::new();
        let mut stream = self.store.list(Some(&prefix));
        while let Some(meta) = stream.next().await {
            out.push(meta?.location.to_string());
        }
        Ok(out)
    }

    /// The immediate "directories" under `prefix`.
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = Path::parse(prefix).map_err(path_err)?;
        let listed = self.store.list_with_delimiter(Some(&prefix)).await?;
        Ok(listed
            .common_prefixes
            .iter()
            .map(|p| p.to_string())
            .collect())
    }

    /// Removes the staging files of writes that were never finished because their
    /// process died (`kill -9`, power loss), once untouched for `older_than`; returns how
    /// many. On the local filesystem these are `<key>#<n>` files beside the blob (a live
    /// writer keeps its own fresh, and a process that stops cleanly removes its own).
    /// S3 stores expire unfinished multipart uploads by their own lifecycle rules
    /// (`AbortIncompleteMultipartUpload`), so there this does nothing.
    pub async fn remove_abandoned_staging(&self, older_than: std::time::Duration) -> Result<usize> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        let removed = tokio::task::spawn_blocking(move || sweep_staging(&root, older_than))
            .await
            .map_err(std::io::Error::other)??;
        Ok(removed)
    }

    /// Deletes the blob `key` (not what lies under it: see [`Blobs::delete_prefix`]);
    /// a blob already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self
            .store
            .delete(&Path::parse(key).map_err(path_err)?)
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every key under `prefix`; returns how many. S3 deletes them in batches
    /// (one request per thousand keys) rather than one request each.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let prefix = Path::parse(prefix).map_err(path_err)?;
        let keys = self
            .store
            .list(Some(&prefix))
            .map(|meta| meta.map(|m| m.location));
        let mut deleted = self.store.delete_stream(keys.boxed());
        let mut n = 0;
        while let Some(done) = deleted.next().await {
            match done {
                Ok(_) => n += 1,
                // Deleted by someone else between the listing and the delete.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }
}

/// Walks `dir` for `#`-named staging files older than `older_than` and removes them.
fn sweep_staging(dir: &FsPath, older_than: std::time::Duration) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let stale = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > older_than);
            if stale && entry.file_name().to_string_lossy().contains('#') {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(removed)
}

fn path_err(e: object_store::path::Error) -> StoreError {
    StoreError::Config(format!("invalid blob key: {e}"))
}

/// A blob being written. Nothing is visible under its key until `finish`; dropping it
/// without finishing leaves only a staging file (on S3, an unfinished multipart upload)
/// that `abort`, the reaper or the store's lifecycle rules remove.
pub struct BlobWriter {
    inner: WriteMultipart,
    written: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, data: Bytes) -> Result<()> {
        self.inner.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.written += data.len() as u64;
        self.inner.put(data);
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn finish(self) -> Result<u64> {
        let n = self.written;
        self.inner.finish().await?;
        Ok(n)
    }

    pub async fn abort(self) {
        if let Err(e) = self.inner.abort().await {
            tracing::warn!(error = %e, "could not clean up an unfinished blob");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::MediaUrl;
    use crate::error::StoreError;

    #[test]
    fn media_urls_name_a_directory_or_a_bucket_and_prefix() {
        assert_eq!(
            MediaUrl::parse("file:///var/media").unwrap(),
            MediaUrl::File("/var/media")
        );
        assert_eq!(
            MediaUrl::parse("file://data/media").unwrap(),
            MediaUrl::File("data/media")
        );
        for (url, bucket, prefix) in [
            ("s3://media", "media", ""),
            ("s3://media/", "media", ""),
            ("s3://media/usher", "media", "usher"),
            ("s3://my.media-1/a/b/", "my.media-1", "a/b"),
        ] {
            assert_eq!(
                MediaUrl::parse(url).unwrap(),
                MediaUrl::S3 { bucket, prefix },
                "{url}"
            );
        }
    }

    #[test]
    fn malformed_media_urls_are_configuration_errors() {
        for url in [
            "s3://",
            "s3:///prefix",
            "s3://Media",
            "s3://media?region=x",
            "s3://key:secret@media",
            "s3://media/../up",
            "s3://media/a//b",
            "gs://media",
            "/var/media",
        ] {
            match MediaUrl::parse(url) {
                Err(StoreError::Config(msg)) => assert!(msg.contains(url), "{msg}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let Err(StoreError::Config(msg)) = MediaUrl::parse("s3:///x") else {
            panic!("no bucket accepted");
        };
        assert!(msg.contains("names no bucket"), "{msg}");
    }
}
