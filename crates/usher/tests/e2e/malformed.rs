//! 10,000 malformed, hostile or nonsensical requests: none gets a 5xx, and the server
//! still serves a real viewer afterwards. Inputs come from a fixed-seed generator, so a
//! failure names a request that can be replayed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::H264_AAC;
use crate::app::spawn_app;
use crate::media::clip;

const REQUESTS: usize = 10_000;
const TASKS: usize = 8;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const PATHS: &[&str] = &[
    "manifest/video.m3u8",
    "manifest/video.mpd",
    "manifest/v0/index.m3u8",
    "manifest/v0/init.mp4",
    "manifest/v0/seg_00001.m4s",
    "manifest/a0/seg_00000.m4s",
    "downloads/default.mp4",
    "thumbnails/thumbnail.jpg",
    "iframe",
    "watch",
    "manifest/../../usher.db",
    "manifest/v0/..%2f..%2f..%2fetc%2fpasswd",
    "manifest/v99/seg_99999.m4s",
    "%00/%ff",
    "manifest/video.m3u8%00.jpg",
];

/// Sends raw bytes; returns the status of the first response, if any arrived.
async fn raw(addr: &str, bytes: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_malformed_requests_get_no_5xx_and_the_server_keeps_serving() {
    let app = spawn_app(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "m.mp4", "160x120", 2, H264_AAC);
    let uid = app.upload_ready(&src).await;
    app.edit(
        &uid,
        json!({"requireSignedURLs": true, "allowedOrigins": ["example.com"]}),
    )
    .await;
    let token = app.token(&uid, json!({})).await;
    let good = format!("{}/{token}/manifest/v0/init.mp4", app.url);
    let viewer = |rb: reqwest::RequestBuilder| rb.header("Origin", "https://example.com");
    assert_eq!(
        viewer(app.http.get(&good)).send().await.unwrap().status(),
        200
    );

    let addr = app.url.trim_start_matches("http://").to_owned();
    let ctx = Arc::new((app.url.clone(), addr, uid, token, app.api("")));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (ctx, done, http, bearer) = (
            ctx.clone(),
            done.clone(),
            app.http.clone(),
            app.account.token.clone(),
        );
        tasks.spawn(async move {
            let (url, addr, uid, token, api) = &*ctx;
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
            let mut statuses = Vec::new();
            for i in (t..REQUESTS).step_by(TASKS) {
                let kind = i % 10;
                let what = format!("request {i} (kind {kind})");
                let status: Option<u16> = match kind {
                    // Random bytes on a fresh connection.
                    0 => {
                        let n = 1 + rng.below(600);
                        raw(addr, &rng.bytes(n)).await
                    }
                    // Broken request lines and headers.
                    1 => {
                        let lines = [
                            "GET / HTTP/9.9\r\n\r\n".to_owned(),
                            format!("GET /{uid}/iframe HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
                            format!("GET /{token}/manifest/video.m3u8 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000)),
                            "GET /\0/\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
                            "\r\n\r\n\r\n".to_owned(),
                            format!("GET /{uid}/manifest/video.m3u8 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                            "GET http://evil/ HTTP/1.1\r\nHost: evil\r\n\r\n".to_owned(),
                        ];
                        raw(addr, lines[rng.below(lines.len())].as_bytes()).await
                    }
                    // Random token-shaped ids.
                    2 => {
                        let parts: Vec<String> = (0..1 + rng.below(4))
                            .map(|_| {
                                let n = rng.below(300);
                                B64.encode(rng.bytes(n))
                            })
                            .collect();
                        let p = rng.pick(PATHS);
                        send(&http, format!("{url}/{}/{p}", parts.join("."))).await
                    }
                    // A real token, tampered: one character changed or alg rewritten.
                    3 => {
                        let mut t = token.clone().into_bytes();
                        let at = rng.below(t.len());
                        t[at] = if t[at] == b'A' { b'B' } else { b'A' };
                        let t = if rng.below(2) == 0 {
                            String::from_utf8_lossy(&t).into_owned()
                        } else {
                            let (_, rest) = token.split_once('.').unwrap_or(("", ""));
                            format!("{}.{rest}", B64.encode(r#"{"alg":"none","kid":"x"}"#))
                        };
                        send(&http, format!("{url}/{t}/{}", rng.pick(PATHS))).await
                    }
                    // The uid of a private video, with odd paths and queries.
                    4 => {
                        let n = rng.below(40);
                        let junk: String = rng
                            .bytes(n)
                            .iter()
                            .map(|b| format!("%{b:02x}"))
                            .collect();
                        send(&http, format!("{url}/{uid}/{}?{junk}={junk}", rng.pick(PATHS))).await
                    }
                    // A valid token with hostile headers.
                    5 => {
                        let headers = [
                            ("Range", "bytes=999999999-"),
                            ("Range", "bytes=5-1"),
                            ("Range", "bytes=-0,0-,a-b"),
                            ("Origin", "null"),
                            ("Origin", "https://example.com.evil.net"),
                            ("Referer", "javascript:alert(1)"),
                            ("If-None-Match", "W/\"x\", *, \"\""),
                            ("X-Forwarded-For", "1.1.1.1, not-an-ip, ::ffff:zz"),
                            ("If-Modified-Since", "yesterday"),
                        ];
                        let (h, v) = headers[rng.below(headers.len())];
                        let rb = http
                            .get(format!("{url}/{token}/{}", rng.pick(PATHS)))
                            .header("Origin", "https://example.com")
                            .header(h, v);
                        match rb.send().await {
                            Ok(r) => Some(r.status().as_u16()),
                            Err(e) => panic!("{what} ({h}: {v}): {e:?}"),
                        }
                    }
                    // Odd methods on edge paths.
                    6 => {
                        let m = ["POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "HEAD"];
                        let m = reqwest::Method::from_bytes(rng.pick(&m).as_bytes()).unwrap();
                        http.request(m, format!("{url}/{token}/{}", rng.pick(PATHS)))
                            .send()
                            .await
                            .ok()
                            .map(|r| r.status().as_u16())
                    }
                    // Garbage bodies to the API, authenticated.
                    7 => {
                        let n = rng.below(200);
                        let body = rng.bytes(n);
                        let paths = ["", &format!("/{uid}"), "/keys", &format!("/{uid}/token"), "/copy"];
                        let p = paths[rng.below(paths.len())];
                        http.post(format!("{api}/stream{p}"))
                            .bearer_auth(&bearer)
                            .header("Content-Type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .ok()
                            .map(|r| r.status().as_u16())
                    }
                    // Wrong or broken credentials.
                    8 => http
                        .get(format!("{api}/stream"))
                        .header("Authorization", format!("Bearer {}", B64.encode(rng.bytes(20))))
                        .send()
                        .await
                        .ok()
                        .map(|r| r.status().as_u16()),
                    // Thumbnails with nonsense parameters.
                    _ => {
                        let qs = ["time=-1s", "time=1h99999m", "width=0", "height=999999", "fit=banana", "width=abc&height=%ff", "time=1e309s"];
                        send(&http, format!("{url}/{token}/thumbnails/thumbnail.jpg?{}", rng.pick(&qs))).await
                    }
                };
                // Raw garbage may be dropped unanswered; a well-formed request that gets
                // no answer means the handler died (a panic drops the connection).
                assert!(kind < 2 || status.is_some(), "{what} got no response");
                if let Some(s) = status {
                    assert!(s < 500, "{what} got {s}");
                    // Where the request cannot be valid, it must be refused, not served.
                    let refused: &[u16] = match kind {
                        // Token-shaped garbage, tampered and alg:none tokens, and the uid
                        // of a private video: not valid (401), naming nothing (404), or a
                        // path that does not even decode (400).
                        2..=4 => &[400, 401, 404],
                        // Wrong credentials: 403, or 429 once this address has failed
                        // too often.
                        8 => &[403, 429],
                        _ => &[],
                    };
                    assert!(
                        refused.is_empty() || refused.contains(&s),
                        "{what} got {s}, expected one of {refused:?}"
                    );
                    statuses.push(s);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            statuses.len()
        });
    }
    let mut answered = 0;
    while let Some(r) = tasks.join_next().await {
        answered += r.unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), REQUESTS);
    // Most requests are well-formed HTTP and must have been answered (only raw garbage
    // may be dropped without a response).
    assert!(answered > REQUESTS * 7 / 10, "only {answered} answered");

    // Still serving, to a real viewer and to a new connection.
    assert_eq!(
        viewer(app.http.get(&good)).send().await.unwrap().status(),
        200
    );
    let fresh = reqwest::Client::new();
    assert_eq!(viewer(fresh.get(&good)).send().await.unwrap().status(), 200);
}

async fn send(http: &reqwest::Client, url: String) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}
