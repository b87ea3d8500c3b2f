//! Refusals that reach the client (issue: "a refusal must reach the client as an HTTP
//! answer, never as a reset"). Browsers and Node's `fetch` send a request body without
//! `Expect: 100-continue` and read the answer only once the whole body is out. If the
//! server answers early (a used upload URL, a wrong tus offset, bad credentials, a file
//! over the limit) and closes without reading the rest, the client's next write fails
//! and it reports a broken connection instead of the status.
//!
//! So every request body passes through a [`Lingering`] wrapper that hands whatever the
//! handler left unread back to this layer when the handler drops it; once the response
//! is ready, the rest is read and discarded — up to [`LINGER_BYTES`] and
//! [`LINGER_TIME`], like nginx's lingering close — and only then is the response sent.
//! Past either bound the response goes out anyway and hyper closes the connection.
//! A client that asked `Expect: 100-continue` and was not told to continue sends no
//! body, so there is nothing to read.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tower::{Layer, Service};

/// Seconds a request body may stall (no bytes at all) before reading it fails: long
/// enough for any uplink that moves at all; a resumable upload keeps what arrived.
pub const DEFAULT_BODY_IDLE_TIMEOUT_SECS: u64 = 60;
/// Most bytes of a refused body read and discarded before answering.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// Longest time spent reading them.
pub const LINGER_TIME: Duration = Duration::from_secs(30);

/// Where a handler's unread body comes back to.
type Slot = Arc<Mutex<Option<Body>>>;

/// A request body that fails when it stalls for `idle`, and that, when dropped
/// unfinished, leaves its rest in `slot`.
struct Lingering {
    inner: Option<Body>,
    slot: Slot,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for Lingering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.inner = None, // read to its end: nothing to linger over
            Poll::Ready(Some(_)) => {
                let next = tokio::time::Instant::now() + self.idle;
                self.deadline.as_mut().reset(next);
            }
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_ready() {
                    // Stalled: the rest is not waited for, now or after the answer.
                    self.inner = None;
                    return Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body stalled",
                    )))));
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        if let Some(rest) = self.inner.take().filter(|b| !b.is_end_stream()) {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(rest);
        }
    }
}

/// Reads and discards `rest`, within the bounds.
async fn linger(rest: Body) {
    let mut rest = rest;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut read = 0u64;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut rest).poll_frame(cx)).await
        {
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
                if read > LINGER_BYTES {
                    break;
                }
            }
        }
    })
    .await;
}

/// The layer: put it around every route that takes a request body. `body_idle` is how
/// long a body may stall.
#[derive(Debug, Clone, Copy)]
pub struct LingerLayer {
    pub body_idle: Duration,
}

impl<S> Layer<S> for LingerLayer {
    type Service = LingerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LingerService {
            inner,
            body_idle: self.body_idle,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LingerService<S> {
    inner: S,
    body_idle: Duration,
}

impl<S> Service<Request> for LingerService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let waits_for_continue = req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (parts, body) = req.into_parts();
        if waits_for_continue || body.is_end_stream() {
            let fut = self.inner.call(Request::from_parts(parts, body));
            return Box::pin(fut);
        }
        let slot: Slot = Arc::default();
        let body = Body::new(Lingering {
            inner: Some(body),
            slot: slot.clone(),
            idle: self.body_idle,
            deadline: Box::pin(tokio::time::sleep(self.body_idle)),
        });
        let fut = self.inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let resp = fut.await?;
            let rest = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(rest) = rest {
                linger(rest).await;
            }
            Ok(resp)
        })
    }
}
