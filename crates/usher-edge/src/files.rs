//! Sending published files. Published media never changes in place (a re-publish writes
//! a new generation prefix), so files up to [`MAX_CACHED_FILE`] are kept in memory,
//! keyed by blob key, with no invalidation: a hit is a reference-counted buffer that
//! hyper writes straight to the socket, with no open, stat or read. Larger files (MP4
//! downloads) stream in large chunks, so memory stays flat however big they are.
//! Ranges (one per request, as players send) and conditional requests are handled
//! here for cached files and by tower-http's `ServeFile` for streamed ones.
//!
//! Where the blob store has no local files (S3), misses are read through the store
//! instead ([`store`]): small files into the same memory cache, large ones streamed
//! window by window, with the same status codes and headers as from disk.

mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use usher_store::Blobs;

pub use store::STORE_WAIT;

/// Files up to this size are served from memory.
pub const MAX_CACHED_FILE: u64 = 8 << 20;
/// Chunk size when streaming a large file from disk.
const STREAM_CHUNK: usize = 256 << 10;

/// What conditional and range requests are checked against: the same for a file in
/// memory and one streamed from the store.
#[derive(Debug)]
struct Validators {
    /// `Content-Length` of the whole file, formatted once.
    length: HeaderValue,
    etag: HeaderValue,
    last_modified: Option<HeaderValue>,
    modified: Option<SystemTime>,
}

impl Validators {
    /// From size and modification time only, so every edge process reading the same
    /// blob gives the same ETag.
    fn new(len: u64, modified: Option<SystemTime>) -> Self {
        let stamp = modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = HeaderValue::from_str(&format!("\"{len:x}-{stamp:x}\""))
            .unwrap_or(HeaderValue::from_static("\"0\""));
        let last_modified =
            modified.and_then(|m| HeaderValue::from_str(&httpdate::fmt_http_date(m)).ok());
        Self {
            length: HeaderValue::from(len),
            etag,
            last_modified,
            modified,
        }
    }
}

#[derive(Debug)]
struct Cached {
    bytes: Bytes,
    v: Validators,
}

#[derive(Clone)]
struct BySize;

impl Weighter<String, Arc<Cached>> for BySize {
    fn weight(&self, _: &String, v: &Arc<Cached>) -> u64 {
        // Never zero: zero-weight entries would be unevictable.
        v.bytes.len() as u64 + 256
    }
}

/// The in-memory file cache, bounded by total bytes.
pub struct Files {
    /// By blob key: a hit needs no path resolution (which percent-encodes and parses a
    /// URL in object_store, a measurable share of a small response's CPU).
    cache: Cache<String, Arc<Cached>, BySize>,
    /// Reading through the store when blobs are not local files.
    store: store::StoreReads,
}

impl Files {
    pub fn new(budget_bytes: u64) -> Self {
        let items = usize::try_from(budget_bytes / (64 << 10))
            .unwrap_or(1024)
            .max(64);
        Self {
            cache: Cache::with_weighter(items, budget_bytes.max(1), BySize),
            store: store::StoreReads::default(),
        }
    }

    /// Answers `req` with the published file `key` of `blobs`: 200, 206, 304, 416, 404
    /// when the file is missing, or 503 when the store cannot be read now. Headers other
    /// than validators and ranges are the caller's.
    pub async fn respond(&self, key: &str, blobs: &Blobs, req: Request) -> Response {
        if let Some(c) = self.cache.get(key) {
            return from_memory(&c, req.method(), req.headers());
        }
        let Some(path) = blobs.local_path(key) else {
            return self.respond_from_store(key, blobs, req).await;
        };
        match load(&path).await {
            Ok(Some(c)) => {
                self.cache.insert(key.to_owned(), c.clone());
                from_memory(&c, req.method(), req.headers())
            }
            Ok(None) => stream(&path, req).await,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                StatusCode::NOT_FOUND.into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot read a published file");
                StatusCode::NOT_FOUND.into_response()
            }
        }
    }
}

/// Reads a file small enough to cache; `None` when it is too large.
async fn load(path: &Path) -> std::io::Result<Option<Arc<Cached>>> {
    let meta = tokio::fs::metadata(path).await?;
    if !meta.is_file() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    if meta.len() > MAX_CACHED_FILE {
        return Ok(None);
    }
    let bytes = Bytes::from(tokio::fs::read(path).await?);
    let v = Validators::new(bytes.len() as u64, meta.modified().ok());
    Ok(Some(Arc::new(Cached { bytes, v })))
}

async fn stream(path: &Path, req: Request) -> Response {
    match ServeFile::new(path)
        .with_buf_chunk_size(STREAM_CHUNK)
        .oneshot(req.map(|_| Body::empty()))
        .await
    {
        Ok(r) => r.map(Body::new).into_response(),
        Err(e) => match e {},
    }
}

fn not_modified(v: &Validators, headers: &HeaderMap) -> bool {
    let get = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(inm) = get(header::IF_NONE_MATCH) {
        return etag_listed(inm, &v.etag);
    }
    match (get(header::IF_MODIFIED_SINCE), v.modified) {
        (Some(since), Some(modified)) => {
            httpdate::parse_http_date(since).is_ok_and(|since| truncate_to_secs(modified) <= since)
        }
        _ => false,
    }
}

fn truncate_to_secs(t: SystemTime) -> SystemTime {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(t, |d| {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs())
    })
}

/// Weak comparison, as `If-None-Match` uses.
fn etag_listed(list: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or("");
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == ours)
}

/// What a request gets from a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    NotModified,
    Whole,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

fn answer(v: &Validators, len: u64, headers: &HeaderMap) -> Answer {
    if not_modified(v, headers) {
        return Answer::NotModified;
    }
    // If-Range with another validator: the client's partial copy is stale, send all.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|h| *h == v.etag || v.last_modified.as_ref() == Some(h));
    let range = headers
        .get(header::RANGE)
        .filter(|_| if_range_ok)
        .and_then(|h| h.to_str().ok())
        .map(|h| parse_range(h, len));
    match range {
        None | Some(Range::Ignore) => Answer::Whole,
        Some(Range::Unsatisfiable) => Answer::Unsatisfiable,
        Some(Range::Bytes(start, end)) => Answer::Part(start, end),
    }
}

/// Headers an edge answer carries: validators, length, ranges, type, caching, CORS and
/// the request id. Reserved at once, the map never grows (each growth is two
/// allocations).
const RESPONSE_HEADERS: usize = 12;

/// The response for `answer` about a file of `len` bytes with validators `v`, with its
/// body (already cut to the range).
fn framed(answer: Answer, len: u64, v: &Validators, body: Body) -> Response {
    let (status, body) = match answer {
        Answer::NotModified => (StatusCode::NOT_MODIFIED, Body::empty()),
        Answer::Whole => (StatusCode::OK, body),
        Answer::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, Body::empty()),
        Answer::Part(..) => (StatusCode::PARTIAL_CONTENT, body),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.reserve(RESPONSE_HEADERS);
    match answer {
        Answer::NotModified => {}
        // What nearly every request gets: nothing to format.
        Answer::Whole => {
            h.insert(header::CONTENT_LENGTH, v.length.clone());
        }
        Answer::Unsatisfiable => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
        Answer::Part(start, end) => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
    }
    h.insert(header::ETAG, v.etag.clone());
    if let Some(lm) = &v.last_modified {
        h.insert(header::LAST_MODIFIED, lm.clone());
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    r
}

fn from_memory(c: &Cached, method: &Method, headers: &HeaderMap) -> Response {
    let len = c.bytes.len() as u64;
    let a = answer(&c.v, len, headers);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match a {
            Answer::Whole => Body::from(c.bytes.clone()),
            Answer::Part(start, end) => Body::from(c.bytes.slice(start as usize..=end as usize)),
            Answer::NotModified | Answer::Unsatisfiable => Body::empty(),
        }
    };
    framed(a, len, &c.v, body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// Inclusive byte positions within the file.
    Bytes(u64, u64),
    Unsatisfiable,
    /// Malformed, or several ranges: answered with the whole file, as RFC 9110 allows.
    Ignore,
}

/// Parses a `Range` header against a file of `len` bytes.
fn parse_range(v: &str, len: u64) -> Range {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let num = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (a.trim().is_empty(), num(a), num(b)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Range::Unsatisfiable
            } else {
                Range::Bytes(len.saturating_sub(n), len - 1)
            }
        }
        (false, Some(start), end) if b.trim().is_empty() || end.is_some() => {
            if let Some(end) = end
                && end < start
            {
                return Range::Ignore;
            }
            if start >= len {
                return Range::Unsatisfiable;
            }
            Range::Bytes(start, end.map_or(len - 1, |e| e.min(len - 1)))
        }
        _ => Range::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_as_players_send_them() {
        assert_eq!(parse_range("bytes=0-99", 1000), Range::Bytes(0, 99));
        assert_eq!(parse_range("bytes=900-", 1000), Range::Bytes(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), Range::Bytes(900, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), Range::Bytes(0, 999));
        assert_eq!(parse_range("bytes=0-5000", 1000), Range::Bytes(0, 999));
        assert_eq!(parse_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Range::Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Range::Ignore);
        assert_eq!(parse_range("items=0-1", 1000), Range::Ignore);
        assert_eq!(parse_range("bytes=a-b", 1000), Range::Ignore);
        assert_eq!(parse_range("bytes=+1-2", 1000), Range::Ignore);
    }

    proptest! {
        #[test]
        fn any_header_gives_an_in_bounds_range(v in ".{0,40}", len in 0u64..10_000) {
            if let Range::Bytes(s, e) = parse_range(&v, len) {
                prop_assert!(s <= e && e < len);
            }
        }

        #[test]
        fn a_valid_range_round_trips(len in 1u64..1_000_000, a in 0u64..1_000_000, n in 0u64..1_000_000) {
            let start = a % len;
            let end = (start + n).min(len - 1);
            prop_assert_eq!(parse_range(&format!("bytes={start}-{end}"), len), Range::Bytes(start, end));
        }
    }

    /// Conditional and range headers as a client might send them: arbitrary text, or
    /// the file's own validators (bare, weak, in a list) so the positive paths are taken.
    fn conditional(etag: String, date: String) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            ".{0,60}",
            Just(etag.clone()),
            Just(format!("W/{etag}")),
            Just(format!("\"other\", {etag}")),
            Just("*".to_owned()),
            Just(date),
            "bytes=[0-9]{0,5}-[0-9]{0,5}",
        ])
    }

    fn headers_for(len: u64, stamp: u32) -> impl Strategy<Value = (u64, Validators, HeaderMap)> {
        let modified = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(stamp.into());
        let v = Validators::new(len, Some(modified));
        let etag = v.etag.to_str().unwrap().to_owned();
        let date = httpdate::fmt_http_date(modified);
        let one = || conditional(etag.clone(), date.clone());
        (one(), one(), one(), one()).prop_map(move |(inm, ims, if_range, range)| {
            let mut h = HeaderMap::new();
            for (name, value) in [
                (header::IF_NONE_MATCH, inm),
                (header::IF_MODIFIED_SINCE, ims),
                (header::IF_RANGE, if_range),
                (header::RANGE, range),
            ] {
                if let Some(Ok(value)) = value.map(|s| HeaderValue::from_str(&s)) {
                    h.insert(name, value);
                }
            }
            (len, Validators::new(len, Some(modified)), h)
        })
    }

    proptest! {
        #[test]
        fn any_conditional_request_gets_a_consistent_answer(
            (len, v, h) in (0u64..10_000, any::<u32>()).prop_flat_map(|(len, stamp)| headers_for(len, stamp)),
        ) {
            let a = answer(&v, len, &h);
            if let Answer::Part(start, end) = a {
                prop_assert!(start <= end && end < len);
            }
            // Our own ETag, however listed, means the client's copy is current.
            let inm = h.get(header::IF_NONE_MATCH).and_then(|x| x.to_str().ok());
            if inm.is_some_and(|x| x.split(',').any(|t| t.trim().trim_start_matches("W/") == v.etag)) {
                prop_assert_eq!(a, Answer::NotModified);
            }
            let resp = framed(a, len, &v, Body::empty());
            prop_assert!([200, 206, 304, 416].contains(&resp.status().as_u16()));
        }
    }

    async fn at(files: &Files, blobs: &Blobs, key: &str, req: Request) -> Response {
        files.respond(key, blobs, req).await
    }

    #[tokio::test]
    async fn memory_and_disk_answer_alike() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(&format!("file://{}", dir.path().display())).unwrap();
        let small = "small";
        std::fs::write(dir.path().join(small), b"0123456789").unwrap();
        let files = Files::new(1 << 20);
        let get = |h: &[(&str, &str)]| {
            let mut b = Request::builder().uri("/x");
            for (k, v) in h {
                b = b.header(*k, *v);
            }
            b.body(Body::empty()).unwrap()
        };
        let r = at(&files, &blobs, small, get(&[])).await;
        assert_eq!(r.status(), 200);
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(r.into_body(), 100).await.unwrap();
        assert_eq!(&body[..], b"0123456789");

        let r = at(&files, &blobs, small, get(&[("range", "bytes=2-4")])).await;
        assert_eq!(r.status(), 206);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        let body = axum::body::to_bytes(r.into_body(), 100).await.unwrap();
        assert_eq!(&body[..], b"234");

        let r = at(&files, &blobs, small, get(&[("if-none-match", &etag)])).await;
        assert_eq!(r.status(), 304);
        let r = at(
            &files,
            &blobs,
            small,
            get(&[("if-none-match", "\"other\"")]),
        )
        .await;
        assert_eq!(r.status(), 200);
        let r = at(&files, &blobs, small, get(&[("range", "bytes=10-")])).await;
        assert_eq!(r.status(), 416);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */10");
        let r = at(
            &files,
            &blobs,
            small,
            get(&[("range", "bytes=2-4"), ("if-range", "\"stale\"")]),
        )
        .await;
        assert_eq!(r.status(), 200);

        // Over the in-memory limit: streamed from disk, same semantics.
        std::fs::write(
            dir.path().join("big"),
            vec![7u8; MAX_CACHED_FILE as usize + 1],
        )
        .unwrap();
        let r = at(&files, &blobs, "big", get(&[("range", "bytes=0-9")])).await;
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes 0-9/{}", MAX_CACHED_FILE + 1).as_str()
        );
        let r = at(&files, &blobs, "missing", get(&[])).await;
        assert_eq!(r.status(), 404);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let r = at(&files, &blobs, "sub", get(&[])).await;
        assert_eq!(r.status(), 404);
    }
}
