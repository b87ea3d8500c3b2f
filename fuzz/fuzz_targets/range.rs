//! `Range`, `If-Range`, `If-None-Match` and `If-Modified-Since` as the edge answers them
//! (`usher_edge::files::Files::respond`), on every path a published file can take: a
//! small file from disk (then from the memory cache), an empty one, a large one streamed
//! from disk, and small and large ones read through an object store (as on S3).
//!
//! The answer must be 200, 206, 304 or 416 (412 from the disk streamer, which also
//! honours `If-Match`), its `Content-Range` and `Content-Length` must agree with the
//! file's size, and the bytes sent must be the file's bytes at that range.
//!
//! Input: a line with the method (`HEAD`, else `GET`: the edge routes only those), then
//! `name: value` header lines.
#![no_main]

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use libfuzzer_sys::fuzz_target;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use usher_edge::files::{Files, MAX_CACHED_FILE};
use usher_store::Blobs;

/// Bodies up to this size are read back and compared with the file.
const CHECKED_BODY: u64 = 64 * 1024;
/// Sizes of the files served: a typical small segment, empty, and one byte over the
/// memory cache's limit (so it streams).
const SMALL: usize = 1000;
const LARGE: usize = MAX_CACHED_FILE as usize + 1;
/// The disk files' modification time, fixed so that their ETags are (`"3e8-…"`, in the
/// dictionary and seeds): 2024-01-01T00:00:00Z.
const MTIME_SECS: u64 = 1_704_067_200;

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

struct Setup {
    rt: tokio::runtime::Runtime,
    files: Files,
    disk: Blobs,
    store: Blobs,
    dir: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = std::env::var_os(usher_fuzz::api::SCRATCH_ENV)
            .map_or_else(std::env::temp_dir, PathBuf::from)
            .join(format!("usher-fuzz-range-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS);
        for (name, len) in [("small", SMALL), ("empty", 0), ("large", LARGE)] {
            let path = dir.join(name);
            std::fs::write(&path, content(len)).expect("a file");
            std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(mtime))
                .expect("setting the modification time");
        }
        let disk = Blobs::open(&format!("file://{}", dir.display())).expect("a file store");
        let memory = Arc::new(InMemory::new());
        rt.block_on(async {
            for (name, len) in [("small", SMALL), ("large", LARGE)] {
                memory
                    .put(&Path::from(name), PutPayload::from(content(len)))
                    .await
                    .expect("an object");
            }
        });
        Self {
            rt,
            files: Files::new(64 << 20),
            disk,
            store: Blobs::from_store(memory),
            dir,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

thread_local! {
    static SETUP: RefCell<Setup> = RefCell::new(Setup::new());
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let method = if lines.next() == Some(b"HEAD") {
        Method::HEAD
    } else {
        Method::GET
    };
    let mut headers = Vec::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.push((name, value));
    }
    SETUP.with_borrow(|s| {
        let cases: [(&Blobs, &str, usize, bool); 5] = [
            (&s.disk, "small", SMALL, true),
            (&s.disk, "empty", 0, true),
            (&s.disk, "large", LARGE, false),
            (&s.store, "small", SMALL, true),
            (&s.store, "large", LARGE, true),
        ];
        for (blobs, key, len, ours) in cases {
            let mut b = Request::builder().method(method.clone()).uri("/x");
            for (k, v) in &headers {
                b = b.header(k, v);
            }
            let req = b.body(Body::empty()).expect("a request");
            s.rt.block_on(check(&s.files, blobs, key, len as u64, ours, &method, req));
        }
    });
});

/// Checks one answer; `ours` is false for the file tower-http's `ServeFile` streams.
async fn check(
    files: &Files,
    blobs: &Blobs,
    key: &str,
    len: u64,
    ours: bool,
    method: &Method,
    req: Request<Body>,
) {
    let resp = files.respond(key, blobs, req).await;
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let number = |name| -> Option<u64> { h.get(name)?.to_str().ok()?.parse().ok() };
    let (start, end) = match status {
        200 => {
            if method == Method::GET {
                assert_eq!(
                    number(header::CONTENT_LENGTH),
                    Some(len),
                    "{key}: 200 length"
                );
            }
            (0, len)
        }
        206 => {
            let range = h[header::CONTENT_RANGE]
                .to_str()
                .expect("ASCII Content-Range");
            let (s, e, total) = parse_content_range(range)
                .unwrap_or_else(|| panic!("{key}: bad Content-Range {range:?}"));
            assert!(
                s <= e && e < len && total == len,
                "{key}: {range} for {len} bytes"
            );
            if method == Method::GET || ours {
                assert_eq!(
                    number(header::CONTENT_LENGTH),
                    Some(e - s + 1),
                    "{key}: 206 length"
                );
            }
            (s, e + 1)
        }
        304 => return,
        416 => {
            assert_eq!(
                h.get(header::CONTENT_RANGE).map(|v| v.as_bytes()),
                Some(format!("bytes */{len}").as_bytes()),
                "{key}: 416 Content-Range"
            );
            return;
        }
        412 if !ours => return,
        other => panic!("{key}: status {other}"),
    };
    if method == Method::HEAD || end - start > CHECKED_BODY {
        return;
    }
    let body = axum::body::to_bytes(resp.into_body(), CHECKED_BODY as usize + 1)
        .await
        .expect("the body");
    let expected: Vec<u8> = (start..end).map(|i| (i % 251) as u8).collect();
    assert!(
        body[..] == expected[..],
        "{key}: the body is not bytes {start}..{end} of the file"
    );
}

/// `bytes START-END/TOTAL`.
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    Some((s.parse().ok()?, e.parse().ok()?, total.parse().ok()?))
}
