//! Reading blobs through the store itself, for when they are not local files (S3): their
//! metadata, and their bytes as a stream, whole or one byte range.
//!
//! A read is fetched in windows of [`READ_WINDOW`] bytes, one ranged request each, asked
//! for only as the consumer takes the previous one. Memory per read stays at what one
//! request has in flight however large the blob, and no single request outlives the
//! store client's request timeout (object_store's is 30 s, which a 1 GiB download to a
//! slow viewer would otherwise exceed).

use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use super::Blobs;
use crate::error::{Result, StoreError};

/// Bytes asked of the store per request when streaming a blob.
pub const READ_WINDOW: u64 = 8 * 1024 * 1024;

/// What the store knows of a blob without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub last_modified: SystemTime,
    /// The store's own validator, when it has one.
    pub e_tag: Option<String>,
}

impl From<object_store::ObjectMeta> for BlobMeta {
    fn from(m: object_store::ObjectMeta) -> Self {
        Self {
            size: m.size,
            last_modified: m.last_modified.into(),
            e_tag: m.e_tag,
        }
    }
}

/// A blob being read: what it is, and the requested bytes as they arrive.
pub struct BlobRead {
    pub meta: BlobMeta,
    /// Exactly the requested range (clamped to the blob); an error if the store cannot
    /// deliver all of it, or the blob changes under the read.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for BlobRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobRead")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Blobs {
    /// A store that is not the local filesystem (tests use `InMemory`): blobs are then
    /// only ever read through the store.
    pub fn from_store(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            durable: store.clone(),
            store,
            local: None,
            local_root: None,
        }
    }

    /// The blob's metadata, or `None` if there is no such blob. A key that is not a
    /// valid path names no blob.
    pub async fn head(&self, key: &str) -> Result<Option<BlobMeta>> {
        let Ok(path) = Path::parse(key) else {
            return Ok(None);
        };
        match self.store.head(&path).await {
            Ok(m) => Ok(Some(m.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams the blob, or `range` of it (clamped to its end), or `None` if there is
    /// no such blob. The first request is made before this returns, so a missing blob
    /// or an unreachable store is known before anything is sent on. With a range that
    /// request is the first window itself (its answer carries the metadata); without
    /// one the size must be asked first.
    pub async fn get_range(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<BlobRead>> {
        let Ok(path) = Path::parse(key) else {
            return Ok(None);
        };
        let mut reader = Reader {
            store: self.store.clone(),
            path,
            e_tag: None,
            next: 0,
            end: 0,
            window: None,
            left: 0,
        };
        let meta = match range {
            Some(r) if !r.is_empty() => {
                reader.next = r.start;
                reader.end = r.end;
                match reader.open_next().await {
                    Ok(meta) => meta,
                    Err(StoreError::Blob(object_store::Error::NotFound { .. })) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            _ => {
                let Some(meta) = self.head(key).await? else {
                    return Ok(None);
                };
                let r = range.unwrap_or(0..meta.size);
                reader.end = r.end.min(meta.size);
                reader.next = r.start.min(reader.end);
                reader.e_tag = meta.e_tag.clone();
                meta
            }
        };
        let stream = futures_util::stream::try_unfold(reader, |mut r| async move {
            Ok(r.chunk().await?.map(|c| (c, r)))
        });
        Ok(Some(BlobRead {
            meta,
            stream: stream.boxed(),
        }))
    }
}

/// One read in progress: the window being received and the range still to request.
struct Reader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    /// Later windows must come from the same version of the blob as the first.
    e_tag: Option<String>,
    next: u64,
    end: u64,
    window: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    /// Bytes the current window still owes: a body cut short is an error, not a
    /// silently shorter blob.
    left: u64,
}

impl Reader {
    async fn chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(window) = self.window.as_mut() {
                match window.next().await {
                    Some(chunk) => {
                        let chunk = chunk?;
                        let n = chunk.len() as u64;
                        if n > self.left {
                            return Err(self.corrupt("sent more than was asked"));
                        }
                        self.left -= n;
                        if n > 0 {
                            return Ok(Some(chunk));
                        }
                    }
                    None if self.left > 0 => return Err(self.corrupt("ended early")),
                    None => self.window = None,
                }
                continue;
            }
            if self.next >= self.end {
                return Ok(None);
            }
            self.open_next().await?;
        }
    }

    /// Requests the next window (`next` < `end`); returns the blob's metadata as that
    /// answer gives it, and clamps the range to the blob's end.
    async fn open_next(&mut self) -> Result<BlobMeta> {
        let want = self.next..self.end.min(self.next.saturating_add(READ_WINDOW));
        let got = self
            .store
            .get_opts(
                &self.path,
                GetOptions {
                    if_match: self.e_tag.clone(),
                    range: Some(GetRange::Bounded(want.clone())),
                    ..Default::default()
                },
            )
            .await?;
        let meta = BlobMeta::from(got.meta.clone());
        self.end = self.end.min(meta.size);
        let want = want.start..want.end.min(meta.size);
        if got.range != want {
            return Err(self.corrupt("answered another range"));
        }
        if self.e_tag.is_none() {
            self.e_tag = meta.e_tag.clone();
        }
        self.next = want.end;
        self.left = want.end - want.start;
        self.window = Some(got.into_stream());
        Ok(meta)
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt(format!("blob {}: the store {what}", self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    /// Two and a bit windows of bytes that differ from one position to the next.
    fn content() -> Vec<u8> {
        (0..2 * READ_WINDOW + 1234)
            .map(|i| (i % 251) as u8)
            .collect()
    }

    async fn store_with(key: &str, bytes: &[u8]) -> (Arc<InMemory>, Blobs) {
        let mem = Arc::new(InMemory::new());
        mem.put(&Path::parse(key).unwrap(), bytes.to_vec().into())
            .await
            .unwrap();
        (mem.clone(), Blobs::from_store(mem))
    }

    async fn read(blobs: &Blobs, key: &str, range: Option<Range<u64>>) -> Option<Vec<u8>> {
        let got = blobs.get_range(key, range).await.unwrap()?;
        let chunks: Vec<Bytes> = got.stream.try_collect().await.unwrap();
        Some(chunks.concat())
    }

    #[tokio::test]
    async fn whole_blobs_and_ranges_across_windows_read_back_exactly() {
        let bytes = content();
        let (_, blobs) = store_with("v/g/downloads/default.mp4", &bytes).await;
        let key = "v/g/downloads/default.mp4";
        let meta = blobs.head(key).await.unwrap().unwrap();
        assert_eq!(meta.size, bytes.len() as u64);

        assert_eq!(read(&blobs, key, None).await.unwrap(), bytes);
        let w = READ_WINDOW;
        for r in [0..1, w - 10..w + 10, 5..2 * w + 7, 2 * w..2 * w + 1234] {
            let got = read(&blobs, key, Some(r.clone())).await.unwrap();
            assert_eq!(got, &bytes[r.start as usize..r.end as usize], "{r:?}");
        }
        // Past the end: clamped, as object_store and HTTP do.
        let end = bytes.len() as u64;
        assert_eq!(
            read(&blobs, key, Some(end - 3..end + 100)).await.unwrap(),
            &bytes[bytes.len() - 3..]
        );
        assert_eq!(read(&blobs, key, Some(4..4)).await.unwrap(), b"");
        let got = blobs.get_range(key, Some(0..10)).await.unwrap().unwrap();
        assert_eq!(got.meta, meta, "a ranged read reports the same metadata");
    }

    #[tokio::test]
    async fn missing_blobs_and_impossible_keys_are_none() {
        let (_, blobs) = store_with("a/b", b"x").await;
        for key in ["a/c", "../etc/passwd", "a//b", ""] {
            assert!(blobs.head(key).await.unwrap().is_none(), "{key}");
            assert!(blobs.get_range(key, None).await.unwrap().is_none(), "{key}");
            assert!(
                blobs.get_range(key, Some(0..1)).await.unwrap().is_none(),
                "{key}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let err = blobs
            .download_to("a/c", &dir.path().join("out"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Blob(object_store::Error::NotFound { .. })),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_blob_replaced_mid_read_fails_the_read_instead_of_mixing_versions() {
        let bytes = content();
        let (mem, blobs) = store_with("k", &bytes).await;
        let mut got = blobs.get_range("k", None).await.unwrap().unwrap().stream;
        let first = got.try_next().await.unwrap().unwrap();
        assert_eq!(first, &bytes[..first.len()]);
        mem.put(&Path::from("k"), vec![0u8; bytes.len()].into())
            .await
            .unwrap();
        let rest: std::result::Result<Vec<Bytes>, _> = got.try_collect().await;
        assert!(
            rest.is_err(),
            "the next window must not come from the new blob"
        );
    }

    #[tokio::test]
    async fn download_to_and_ranges_work_alike_on_the_local_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(&format!("file://{}", dir.path().join("m").display())).unwrap();
        let bytes = content();
        let src = dir.path().join("src");
        std::fs::write(&src, &bytes).unwrap();
        blobs.put_file("u/original", &src).await.unwrap();
        let out = dir.path().join("out");
        assert_eq!(
            blobs.download_to("u/original", &out).await.unwrap(),
            bytes.len() as u64
        );
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        let w = READ_WINDOW;
        assert_eq!(
            read(&blobs, "u/original", Some(w - 1..w + 1))
                .await
                .unwrap(),
            &bytes[w as usize - 1..w as usize + 1]
        );

        // And from a store that is not local, the same bytes.
        let (_, mem) = store_with("u/original", &bytes).await;
        let out2 = dir.path().join("out2");
        mem.download_to("u/original", &out2).await.unwrap();
        assert_eq!(std::fs::read(&out2).unwrap(), bytes);
        assert!(mem.local_path("u/original").is_none());
    }
}
