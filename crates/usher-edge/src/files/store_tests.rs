//! The store path answers exactly as the disk path does, reads each small file once
//! however many ask at once, streams large ones by range, and turns a failing store
//! into a 503 rather than a 404 or a hang.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::http::HeaderValue;
use futures_util::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use super::*;
use crate::files::MAX_CACHED_FILE;

/// An in-memory store that counts reads and can be made to fail.
#[derive(Debug, Default)]
struct Counted {
    inner: InMemory,
    heads: AtomicUsize,
    gets: AtomicUsize,
    failing: AtomicBool,
    /// Never answers, as a store behind a dropped network does.
    hanging: AtomicBool,
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counted")
    }
}

#[async_trait::async_trait]
impl ObjectStore for Counted {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let n = if options.head {
            &self.heads
        } else {
            &self.gets
        };
        n.fetch_add(1, Ordering::SeqCst);
        // Slow enough that concurrent misses overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "Counted",
                source: "connection refused".into(),
            });
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

impl Counted {
    fn reads(&self) -> (usize, usize) {
        (
            self.heads.load(Ordering::SeqCst),
            self.gets.load(Ordering::SeqCst),
        )
    }
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn request(method: Method, headers: &[(String, String)]) -> Request {
    let mut b = Request::builder().method(method).uri("/x");
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(Body::empty()).unwrap()
}

fn get(headers: &[(&str, &str)]) -> Request {
    request(Method::GET, &owned(headers))
}

/// Bytes that differ from one position to the next, so a wrong offset shows.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The same file on disk and in a store without local files.
async fn both(key: &str, bytes: &[u8]) -> (tempfile::TempDir, Blobs, Arc<Counted>, Blobs) {
    let dir = tempfile::tempdir().unwrap();
    let local = Blobs::open(&format!("file://{}", dir.path().display())).unwrap();
    let path = local.local_path(key).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let counted = Arc::new(Counted::default());
    counted
        .put(&Path::parse(key).unwrap(), bytes.to_vec().into())
        .await
        .unwrap();
    let store = Blobs::from_store(counted.clone());
    assert!(store.local_path(key).is_none());
    (dir, local, counted, store)
}

/// What a viewer can tell apart, except the validators' values (modification times
/// differ between the two copies).
async fn seen(r: Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = r.status().as_u16();
    let mut headers: Vec<(String, String)> = [
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
    ]
    .iter()
    .filter_map(|h| {
        r.headers()
            .get(h)
            .map(|v| (h.to_string(), v.to_str().unwrap().to_owned()))
    })
    .collect();
    for h in [header::ETAG, header::LAST_MODIFIED] {
        headers.push((h.to_string(), r.headers().contains_key(&h).to_string()));
    }
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

/// Requests whose answers must not depend on where the file lives.
fn cases(etag: &str, last_modified: &str) -> Vec<(Method, Vec<(String, String)>)> {
    let h = owned;
    vec![
        (Method::GET, h(&[])),
        (Method::HEAD, h(&[])),
        (Method::GET, h(&[("range", "bytes=0-99")])),
        (Method::GET, h(&[("range", "bytes=1000-")])),
        (Method::GET, h(&[("range", "bytes=-77")])),
        (Method::GET, h(&[("range", "bytes=5-1")])),
        (Method::GET, h(&[("range", "bytes=999999999-")])),
        (Method::HEAD, h(&[("range", "bytes=10-19")])),
        (Method::GET, h(&[("if-none-match", etag)])),
        (Method::GET, h(&[("if-none-match", "\"other\"")])),
        (Method::GET, h(&[("if-modified-since", last_modified)])),
        (
            Method::GET,
            h(&[("range", "bytes=3-4"), ("if-range", etag)]),
        ),
        (
            Method::GET,
            h(&[("range", "bytes=3-4"), ("if-range", "\"stale\"")]),
        ),
    ]
}

/// Where ServeFile strays: an invalid range (`bytes=5-1`) must be ignored, not a 416;
/// a stale `If-Range` must get the whole file, not the range.
fn serve_file_differs(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(k, v)| (k == "range" && v == "bytes=5-1") || (k == "if-range" && v == "\"stale\""))
}

#[tokio::test]
async fn the_store_answers_every_request_as_the_disk_does() {
    for len in [10_000, MAX_CACHED_FILE as usize + 4321] {
        let key = "videos/v/g/downloads/default.mp4";
        let bytes = content(len);
        let (_dir, local, _, store) = both(key, &bytes).await;
        let (from_disk, from_store) = (Files::new(64 << 20), Files::new(64 << 20));
        let validators = |r: &Response| {
            let v = |h| r.headers()[h].to_str().unwrap().to_owned();
            (v(header::ETAG), v(header::LAST_MODIFIED))
        };
        let disk_v = validators(&from_disk.respond(key, &local, get(&[])).await);
        let store_v = validators(&from_store.respond(key, &store, get(&[])).await);
        // Each side is asked with its own validators.
        for (method, headers) in cases(&disk_v.0, &disk_v.1) {
            let store_headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| {
                    let v = if *v == disk_v.0 {
                        store_v.0.clone()
                    } else if *v == disk_v.1 {
                        store_v.1.clone()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect();
            let d = seen(
                from_disk
                    .respond(key, &local, request(method.clone(), &headers))
                    .await,
            )
            .await;
            let s = seen(
                from_store
                    .respond(key, &store, request(method.clone(), &store_headers))
                    .await,
            )
            .await;
            let what = format!("{len} bytes, {method} {headers:?}");
            if len as u64 > MAX_CACHED_FILE && serve_file_differs(&headers) {
                // tower-http's ServeFile (large files on disk) answers these against
                // RFC 9110; the store gives what the memory cache gives any file.
                assert_eq!((s.0, s.2.len()), (200, len), "{what}");
                continue;
            }
            let (mut dh, mut sh) = (d.1, s.1);
            if d.0 == 304 {
                // ServeFile leaves Accept-Ranges off a 304.
                dh.retain(|(k, _)| k != "accept-ranges");
                sh.retain(|(k, _)| k != "accept-ranges");
            }
            assert_eq!(d.0, s.0, "{what}: status");
            assert_eq!(dh, sh, "{what}: headers");
            assert!(d.2 == s.2, "{what}: body differs");
        }
    }
}

#[tokio::test]
async fn a_small_file_is_read_once_for_many_viewers_then_served_from_memory() {
    let key = "videos/v/g/manifest/v0/seg_00001.m4s";
    let bytes = content(300_000);
    let (_dir, _, counted, store) = both(key, &bytes).await;
    let files = Arc::new(Files::new(64 << 20));
    let viewers: Vec<_> = (0..20)
        .map(|_| {
            let (files, store) = (files.clone(), store.clone());
            tokio::spawn(async move { seen(files.respond(key, &store, get(&[])).await).await })
        })
        .collect();
    for v in viewers {
        let (status, _, body) = v.await.unwrap();
        assert_eq!(status, 200);
        assert!(body == bytes);
    }
    assert_eq!(counted.reads(), (1, 1), "one metadata and one data request");
    let r = files
        .respond(key, &store, get(&[("range", "bytes=10-19")]))
        .await;
    assert_eq!(seen(r).await.2, &bytes[10..20]);
    assert_eq!(counted.reads(), (1, 1), "from memory");
}

#[tokio::test]
async fn a_large_file_streams_each_range_with_one_store_request() {
    let key = "videos/v/g/downloads/default.mp4";
    let bytes = content(MAX_CACHED_FILE as usize * 2 + 99);
    let (_dir, _, counted, store) = both(key, &bytes).await;
    let files = Files::new(64 << 20);
    let start = MAX_CACHED_FILE as usize - 5;
    let range = format!("bytes={start}-{}", start + 9);
    let (status, _, body) = seen(files.respond(key, &store, get(&[("range", &range)])).await).await;
    assert_eq!(status, 206);
    assert_eq!(body, &bytes[start..start + 10]);
    assert_eq!(counted.reads(), (1, 1));
    let (status, _, body) = seen(
        files
            .respond(key, &store, get(&[("range", "bytes=-3")]))
            .await,
    )
    .await;
    assert_eq!((status, &body[..]), (206, &bytes[bytes.len() - 3..]));
    assert_eq!(counted.reads(), (1, 2), "metadata remembered");
    // The whole file: windows asked for one after another as the body is read.
    let (status, _, body) = seen(files.respond(key, &store, get(&[])).await).await;
    assert_eq!(status, 200);
    assert!(body == bytes);
    let windows = bytes.len().div_ceil(usher_store::READ_WINDOW as usize);
    assert_eq!(counted.reads(), (1, 2 + windows));
    assert_eq!(
        files.cache.get(key).map(|c| c.bytes.len()),
        None,
        "never held in memory"
    );
}

#[tokio::test]
async fn a_failing_store_is_a_503_and_a_missing_blob_a_404() {
    let small = "videos/v/g/manifest/video.m3u8";
    let (_dir, _, counted, store) = both(small, b"#EXTM3U\n").await;
    let large = "videos/v/g/downloads/default.mp4";
    counted
        .put(
            &Path::parse(large).unwrap(),
            content(MAX_CACHED_FILE as usize + 1).into(),
        )
        .await
        .unwrap();
    let files = Files::new(64 << 20);
    // The large file's metadata is known before the store goes away.
    assert_eq!(
        files
            .respond(large, &store, get(&[("range", "bytes=0-0")]))
            .await
            .status(),
        206
    );
    counted.failing.store(true, Ordering::SeqCst);
    for key in [small, large] {
        let r = files.respond(key, &store, get(&[])).await;
        assert_eq!(r.status(), 503, "{key}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            r.headers()[header::RETRY_AFTER],
            HeaderValue::from_static("1")
        );
        let (_, _, body) = seen(r).await;
        assert_eq!(body, b"media store unavailable\n");
    }
    // Failures are not remembered: the store back, the file is served.
    counted.failing.store(false, Ordering::SeqCst);
    assert_eq!(files.respond(small, &store, get(&[])).await.status(), 200);
    let r = files
        .respond("videos/v/g/manifest/missing.m3u8", &store, get(&[]))
        .await;
    assert_eq!(r.status(), 404);
    // Deleted from under a remembered large file: a 404, and forgotten.
    counted.delete(&Path::parse(large).unwrap()).await.unwrap();
    assert_eq!(files.respond(large, &store, get(&[])).await.status(), 404);
    assert!(files.store.large.get(large).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_is_a_503_after_the_wait() {
    let large = "videos/v/g/downloads/default.mp4";
    let (_dir, _, counted, store) = both(large, &content(MAX_CACHED_FILE as usize + 1)).await;
    counted
        .put(&Path::from("small"), b"x".to_vec().into())
        .await
        .unwrap();
    let files = Files::new(1 << 20);
    assert_eq!(
        files
            .respond(large, &store, get(&[("range", "bytes=0-0")]))
            .await
            .status(),
        206
    );
    counted.hanging.store(true, Ordering::SeqCst);
    for key in ["small", large] {
        let asked = tokio::time::Instant::now();
        assert_eq!(
            files.respond(key, &store, get(&[])).await.status(),
            503,
            "{key}"
        );
        assert!(asked.elapsed() >= STORE_WAIT, "{key}");
        assert!(asked.elapsed() < STORE_WAIT * 2, "{key}");
    }
}
