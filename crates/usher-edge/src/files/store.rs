//! Published files read through the blob store, for stores without local files (S3).
//!
//! A miss costs the store one metadata request and, for a file small enough for the
//! memory cache, one read of it into that cache. Concurrent misses on one key share
//! both: a new segment asked for by every viewer at once is read once, and a store
//! failure reaches them all at once instead of one after another.
//!
//! Larger files are never held: each request streams its range window by window
//! ([`usher_store::READ_WINDOW`]), and hyper pulls the next chunk only once the viewer
//! has taken the last, so a request holds what one store request has in flight (the
//! HTTP client's and hyper's buffers, a few hundred KiB), whatever the file's size.
//! Their metadata is remembered (published files never change), so a range request on
//! one costs a single store request.

use std::collections::HashMap;
use std::ops::Range as ByteRange;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::{StreamExt, TryStreamExt};
use quick_cache::sync::Cache;
use usher_store::Blobs;

use super::{Answer, Cached, Files, MAX_CACHED_FILE, Validators, answer, framed, from_memory};

/// How long a request waits for the store (metadata, a small file, or the first window
/// of a large one) before it is answered 503: players give up and retry by then, and an
/// unreachable store would otherwise hold it for the client's whole retry budget.
pub const STORE_WAIT: Duration = Duration::from_secs(15);
/// Large files whose metadata is remembered; an entry is under 200 bytes.
const LARGE_ENTRIES: usize = 4096;

/// A published file too large for the memory cache.
#[derive(Debug)]
struct Large {
    size: u64,
    v: Validators,
}

/// What a miss found in the store.
#[derive(Clone)]
enum Loaded {
    Small(Arc<Cached>),
    Large(Arc<Large>),
    Missing,
    Unavailable,
}

type Loading = Shared<BoxFuture<'static, Loaded>>;
/// Misses being loaded, by key, each with the id of its load.
type InFlight = Mutex<HashMap<String, (u64, Loading)>>;

pub(super) struct StoreReads {
    large: Cache<String, Arc<Large>>,
    loading: Arc<InFlight>,
    next_load: AtomicU64,
}

impl Default for StoreReads {
    fn default() -> Self {
        Self {
            large: Cache::new(LARGE_ENTRIES),
            loading: Arc::default(),
            next_load: AtomicU64::new(0),
        }
    }
}

impl Files {
    /// [`Files::respond`] for a blob that is not a local file.
    pub(super) async fn respond_from_store(
        &self,
        key: &str,
        blobs: &Blobs,
        req: Request,
    ) -> Response {
        let large = match self.store.large.get(key) {
            Some(large) => large,
            None => match self.load(key, blobs).await {
                Loaded::Small(c) => return from_memory(&c, req.method(), req.headers()),
                Loaded::Large(large) => large,
                Loaded::Missing => return StatusCode::NOT_FOUND.into_response(),
                Loaded::Unavailable => return unavailable(),
            },
        };
        let a = answer(&large.v, large.size, req.headers());
        let range = match a {
            Answer::Whole => 0..large.size,
            Answer::Part(start, end) => start..end + 1,
            Answer::NotModified | Answer::Unsatisfiable => {
                return framed(a, large.size, &large.v, Body::empty());
            }
        };
        if req.method() == Method::HEAD {
            return framed(a, large.size, &large.v, Body::empty());
        }
        match self.open(key, blobs, &large, range).await {
            Ok(body) => framed(a, large.size, &large.v, body),
            Err(resp) => resp,
        }
    }

    /// Loads `key`'s metadata, and its bytes if small, once for all concurrent misses,
    /// and remembers what it found.
    async fn load(&self, key: &str, blobs: &Blobs) -> Loaded {
        let loading = {
            let mut map = lock(&self.store.loading);
            match map.get(key) {
                Some((_, loading)) => loading.clone(),
                None => {
                    let id = self.store.next_load.fetch_add(1, Ordering::Relaxed);
                    let loading = spawn_load(
                        self.store.loading.clone(),
                        id,
                        blobs.clone(),
                        key.to_owned(),
                    );
                    map.insert(key.to_owned(), (id, loading.clone()));
                    loading
                }
            }
        };
        let loaded = loading.await;
        match &loaded {
            Loaded::Small(c) => self.cache.insert(key.to_owned(), c.clone()),
            Loaded::Large(l) => self.store.large.insert(key.to_owned(), l.clone()),
            Loaded::Missing | Loaded::Unavailable => {}
        }
        loaded
    }

    /// Starts streaming `range` of a large file; the error is the response to send.
    async fn open(
        &self,
        key: &str,
        blobs: &Blobs,
        large: &Large,
        range: ByteRange<u64>,
    ) -> Result<Body, Response> {
        let read = match tokio::time::timeout(STORE_WAIT, blobs.get_range(key, Some(range))).await {
            Ok(Ok(Some(read))) if read.meta.size == large.size => read,
            Ok(Ok(found)) => {
                // Gone, or not the file whose metadata was remembered: look again next time.
                self.store.large.remove(key);
                return Err(match found {
                    None => StatusCode::NOT_FOUND.into_response(),
                    Some(_) => {
                        tracing::warn!(key, "a published file changed size in the store");
                        unavailable()
                    }
                });
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, key, "cannot read a published file from the store");
                return Err(unavailable());
            }
            Err(_) => {
                tracing::error!(key, wait = ?STORE_WAIT, "the store did not answer in time");
                return Err(unavailable());
            }
        };
        let key = key.to_owned();
        // By the time a later window fails the headers are sent: the response can only
        // be cut short, which the viewer sees against Content-Length.
        let stream = read.stream.inspect_err(move |e| {
            tracing::warn!(error = %e, key, "streaming a published file from the store failed");
        });
        Ok(Body::from_stream(stream))
    }
}

fn lock(map: &InFlight) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Loading)>> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the load as its own task, so it finishes (and leaves `in_flight`) even if every
/// request waiting on it goes away; what it read is then dropped, not cached.
fn spawn_load(in_flight: Arc<InFlight>, id: u64, blobs: Blobs, key: String) -> Loading {
    let task = tokio::spawn(async move {
        let loaded = load(&blobs, &key).await;
        let mut map = lock(&in_flight);
        if map.get(&key).is_some_and(|(i, _)| *i == id) {
            map.remove(&key);
        }
        loaded
    });
    async move { task.await.unwrap_or(Loaded::Unavailable) }
        .boxed()
        .shared()
}

async fn load(blobs: &Blobs, key: &str) -> Loaded {
    match tokio::time::timeout(STORE_WAIT, load_now(blobs, key)).await {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(e)) => {
            tracing::error!(error = %e, key, "cannot read a published file from the store");
            Loaded::Unavailable
        }
        Err(_) => {
            tracing::error!(key, wait = ?STORE_WAIT, "the store did not answer in time");
            Loaded::Unavailable
        }
    }
}

async fn load_now(blobs: &Blobs, key: &str) -> Result<Loaded, usher_store::StoreError> {
    let Some(meta) = blobs.head(key).await? else {
        return Ok(Loaded::Missing);
    };
    let v = Validators::new(meta.size, Some(meta.last_modified));
    if meta.size > MAX_CACHED_FILE {
        return Ok(Loaded::Large(Arc::new(Large { size: meta.size, v })));
    }
    let Some(read) = blobs.get_range(key, Some(0..meta.size)).await? else {
        return Ok(Loaded::Missing);
    };
    let mut bytes = BytesMut::with_capacity(usize::try_from(meta.size).unwrap_or(0));
    let mut stream = read.stream;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    if bytes.len() as u64 != meta.size || read.meta.size != meta.size {
        return Err(usher_store::StoreError::Corrupt(format!(
            "{key}: read {} bytes of a {}-byte blob",
            bytes.len(),
            meta.size
        )));
    }
    Ok(Loaded::Small(Arc::new(Cached {
        bytes: bytes.freeze(),
        v,
    })))
}

/// The store cannot be read now; a retry may succeed.
fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::RETRY_AFTER, "1"),
        ],
        "media store unavailable\n",
    )
        .into_response()
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
