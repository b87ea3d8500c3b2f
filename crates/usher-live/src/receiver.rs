//! Where a live packager's ffmpeg writes its output: a loopback HTTP endpoint that takes
//! `PUT` and `DELETE` of the files of a run and stores them in the blob store. ffmpeg's
//! DASH muxer sends each file in one request once it is complete (a segment as soon as
//! it is cut), so a stored file is never partial, nothing has to watch a directory, and
//! edges on other machines read the same blobs.
//!
//! Each run gets an unguessable path prefix: another local process cannot write into a
//! broadcast without it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::put;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use usher_store::Blobs;

/// Largest file one request may store: a 2 s segment at 100 Mbit/s is 25 MB.
const MAX_FILE_BYTES: usize = 64 << 20;

/// Where one run's files go.
struct Sink {
    /// Blob prefix, without the trailing `/`.
    prefix: String,
    /// Bumped after every stored playlist, so a waiting reader can wake.
    published: watch::Sender<u64>,
}

type Sinks = Arc<Mutex<HashMap<String, Arc<Sink>>>>;

#[derive(Clone)]
struct Shared {
    blobs: Blobs,
    sinks: Sinks,
}

/// The running endpoint.
#[derive(Clone)]
pub struct Receiver {
    base: String,
    sinks: Sinks,
}

/// A run's registration: files PUT under [`RunSink::url`] land under its prefix until
/// this is dropped.
pub struct RunSink {
    secret: String,
    url: String,
    sinks: Sinks,
    published: watch::Receiver<u64>,
}

impl RunSink {
    /// The base URL ffmpeg writes to (ends with `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Resolves once ffmpeg has stored `count` playlists for this run.
    pub async fn published(&mut self, count: u64) -> bool {
        self.published.wait_for(|n| *n >= count).await.is_ok()
    }
}

impl Drop for RunSink {
    fn drop(&mut self) {
        if let Ok(mut sinks) = self.sinks.lock() {
            sinks.remove(&self.secret);
        }
    }
}

impl Receiver {
    /// Listens on a loopback port until `stop`.
    pub async fn start(blobs: Blobs, stop: CancellationToken) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let sinks: Sinks = Arc::default();
        let app = Router::new()
            .route("/{secret}/{file}", put(store).delete(remove))
            .with_state(Shared {
                blobs,
                sinks: sinks.clone(),
            });
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "live receiver stopped");
            }
        });
        Ok(Self {
            base: format!("http://{addr}"),
            sinks,
        })
    }

    /// Registers a run whose files go under `prefix`.
    pub fn open(&self, prefix: String) -> RunSink {
        let secret = usher_core::ids::random_hex_id();
        let (published, rx) = watch::channel(0);
        if let Ok(mut sinks) = self.sinks.lock() {
            sinks.insert(secret.clone(), Arc::new(Sink { prefix, published }));
        }
        RunSink {
            url: format!("{}/{secret}/", self.base),
            secret,
            sinks: self.sinks.clone(),
            published: rx,
        }
    }
}

/// The names ffmpeg's DASH muxer is told to use (see [`crate::packager`]), and nothing
/// else: no separators, no dot files.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn sink(st: &Shared, secret: &str, file: &str) -> Option<Arc<Sink>> {
    if !valid_file_name(file) {
        return None;
    }
    st.sinks.lock().ok()?.get(secret).cloned()
}

async fn store(
    State(st): State<Shared>,
    Path((secret, file)): Path<(String, String)>,
    body: Body,
) -> StatusCode {
    let Some(sink) = sink(&st, &secret, &file) else {
        return StatusCode::NOT_FOUND;
    };
    let bytes = match axum::body::to_bytes(body, MAX_FILE_BYTES).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE,
    };
    let metrics = usher_metrics::metrics();
    metrics.live_ingest_bytes.inc_by(bytes.len() as u64);
    let key = format!("{}/{file}", sink.prefix);
    match st.blobs.put_bytes(&key, bytes).await {
        Ok(()) => {
            if file.ends_with(".m3u8") || file.ends_with(".mpd") {
                sink.published.send_modify(|n| *n += 1);
            }
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            tracing::error!(error = %e, key, "could not store a live file");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

async fn remove(
    State(st): State<Shared>,
    Path((secret, file)): Path<(String, String)>,
) -> StatusCode {
    let Some(sink) = sink(&st, &secret, &file) else {
        return StatusCode::NOT_FOUND;
    };
    let key = format!("{}/{file}", sink.prefix);
    match st.blobs.delete(&key).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(e) => {
            tracing::warn!(error = %e, key, "could not delete a live file");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_stored() {
        for ok in [
            "master.m3u8",
            "media_0.m3u8",
            "manifest.mpd",
            "seg-0-00001.m4s",
        ] {
            assert!(valid_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "../x",
            "a/b",
            "a%2fb",
            "x y",
            &"a".repeat(65),
        ] {
            assert!(!valid_file_name(bad), "{bad}");
        }
    }
}
