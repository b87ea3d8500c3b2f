//! The outbound client against throwaway origins on loopback addresses only: what is
//! fetched, what is refused, and that refused requests never reach any origin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use usher_outbound::{AddressPolicy, FetchError, Outbound};
use usher_store::Blobs;

/// A one-route origin that answers every request with `response` and records the
/// request lines it saw.
struct Origin {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    async fn start(ip: &str, response: Vec<u8>) -> Self {
        Self::start_with(ip, |_| response).await
    }

    /// Like `start`, with a response that may mention the origin's own port.
    async fn start_with(ip: &str, response: impl FnOnce(u16) -> Vec<u8>) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let response = response(port);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf);
                    log.lock()
                        .unwrap()
                        .push(text.lines().next().unwrap_or("").to_owned());
                    let _ = sock.write_all(&response).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok_body(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn status(code: &str) -> Vec<u8> {
    format!("HTTP/1.1 {code}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
}

fn redirect(to: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .into_bytes()
}

fn blobs() -> (tempfile::TempDir, Blobs) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Blobs::open(&format!("file://{}", dir.path().display())).unwrap();
    (dir, blobs)
}

fn open() -> Outbound {
    Outbound::new(AddressPolicy::public_only().allow_private(true)).unwrap()
}

#[tokio::test]
async fn fetches_into_the_blob_store() {
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let origin = Origin::start("127.0.0.1", ok_body(&body)).await;
    let (_d, blobs) = blobs();
    let url = format!("http://127.0.0.1:{}/clip.mp4", origin.port);
    let n = open()
        .fetch_to_blob(&url, &blobs, "v/original", 1 << 20)
        .await
        .unwrap();
    assert_eq!(n, body.len() as u64);
    let path = blobs.local_path("v/original").unwrap();
    assert_eq!(std::fs::read(path).unwrap(), body);
    assert_eq!(origin.requests(), ["GET /clip.mp4 HTTP/1.1"]);
}

#[tokio::test]
async fn non_2xx_is_refused_and_nothing_is_stored() {
    let (_d, blobs) = blobs();
    for (code, retry) in [("404 Not Found", false), ("503 Service Unavailable", true)] {
        let origin = Origin::start("127.0.0.1", status(code)).await;
        let url = format!("http://127.0.0.1:{}/clip.mp4", origin.port);
        let err = open()
            .fetch_to_blob(&url, &blobs, "v/original", 1 << 20)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Status(_)), "{err:?}");
        assert_eq!(err.is_retryable(), retry, "{code}");
        assert!(!blobs.exists("v/original").await.unwrap());
    }
}

#[tokio::test]
async fn too_large_is_refused_whether_announced_or_not() {
    let (_d, blobs) = blobs();
    let body = vec![7u8; 10_000];
    let announced = Origin::start("127.0.0.1", ok_body(&body)).await;
    let mut unannounced = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
    unannounced.extend_from_slice(&body);
    let unannounced = Origin::start("127.0.0.1", unannounced).await;
    for port in [announced.port, unannounced.port] {
        let url = format!("http://127.0.0.1:{port}/clip.mp4");
        let err = open()
            .fetch_to_blob(&url, &blobs, "v/original", 9_999)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::TooLarge(9_999)), "{err:?}");
        assert!(!err.is_retryable());
        assert!(!blobs.exists("v/original").await.unwrap());
    }
    // Exactly at the limit is fine.
    let url = format!("http://127.0.0.1:{}/clip.mp4", unannounced.port);
    assert_eq!(
        open()
            .fetch_to_blob(&url, &blobs, "v/original", 10_000)
            .await
            .unwrap(),
        10_000
    );
}

#[tokio::test]
async fn default_policy_refuses_loopback_without_a_request() {
    let origin = Origin::start("127.0.0.1", ok_body(b"x")).await;
    let (_d, blobs) = blobs();
    let out = Outbound::new(AddressPolicy::public_only()).unwrap();
    for host in ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"] {
        let url = format!("http://{host}:{}/clip.mp4", origin.port);
        let err = out
            .fetch_to_blob(&url, &blobs, "v/original", 100)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::RefusedAddress), "{host}: {err:?}");
        assert!(!err.is_retryable());
    }
    // Bypassing the URL check, the resolver still drops what `localhost` resolves to.
    let url = format!("http://localhost:{}/clip.mp4", origin.port);
    let err = FetchError::from(out.client().get(&url).send().await.unwrap_err());
    assert!(matches!(err, FetchError::RefusedAddress), "{err:?}");
    assert!(origin.requests().is_empty());
}

#[tokio::test]
async fn redirects_are_checked_again() {
    let target = Origin::start("127.0.0.1", ok_body(b"secret")).await;
    let to_target = format!("http://127.0.0.1:{}/clip.mp4", target.port);
    let origin = Origin::start("127.0.0.2", redirect(&to_target)).await;
    let to_file = Origin::start("127.0.0.2", redirect("file:///etc/passwd")).await;
    let (_d, blobs) = blobs();
    let out =
        Outbound::new(AddressPolicy::public_only().allow_nets(["127.0.0.2/32".parse().unwrap()]))
            .unwrap();
    let url = format!("http://127.0.0.2:{}/clip.mp4", origin.port);
    let err = out
        .fetch_to_blob(&url, &blobs, "v/original", 100)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::RefusedAddress), "{err:?}");
    let url = format!("http://127.0.0.2:{}/clip.mp4", to_file.port);
    let err = out
        .fetch_to_blob(&url, &blobs, "v/original", 100)
        .await
        .unwrap_err();
    // reqwest does not follow a non-http(s) Location at all: the 3xx is the answer.
    assert!(
        matches!(err, FetchError::Scheme | FetchError::Status(302)),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(origin.requests().len(), 1);
    assert!(target.requests().is_empty());
    assert!(!blobs.exists("v/original").await.unwrap());
}

#[tokio::test]
async fn redirect_loops_stop() {
    // An origin that redirects to itself forever.
    let looping = Origin::start_with("127.0.0.1", |port| {
        redirect(&format!("http://127.0.0.1:{port}/again"))
    })
    .await;
    let port = looping.port;
    let (_d, blobs) = blobs();
    let url = format!("http://127.0.0.1:{port}/clip.mp4");
    let err = open()
        .fetch_to_blob(&url, &blobs, "v/original", 100)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooManyRedirects), "{err:?}");
    assert_eq!(looping.requests().len(), usher_outbound::MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let (_d, blobs) = blobs();
    let url = format!("http://127.0.0.1:{port}/clip.mp4");
    let err = open()
        .fetch_to_blob(&url, &blobs, "v/original", 100)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_body_cut_short_is_retryable_and_leaves_nothing() {
    let (_d, blobs) = blobs();
    let mut r = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n".to_vec();
    r.extend_from_slice(&[1u8; 10]);
    let origin = Origin::start("127.0.0.1", r).await;
    let url = format!("http://127.0.0.1:{}/clip.mp4", origin.port);
    let err = open()
        .fetch_to_blob(&url, &blobs, "v/original", 10_000)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(!blobs.exists("v/original").await.unwrap());
}
