//! Serving HTTP/1 on a listener with the limits slow and idle clients need (SPEC §6):
//!
//! - a request head must be complete within [`ConnectionLimits::head_timeout`] of the
//!   connection opening or of the previous response (hyper's header-read timeout, which
//!   also ends a keep-alive connection that sends nothing);
//! - a connection on which nothing moves, either way, for
//!   [`ConnectionLimits::idle_timeout`] is closed — an idle keep-alive, a client that
//!   stops reading its response, a stalled body ([`IdleIo`]);
//! - each client address holds at most [`ConnectionLimits::max_per_client`] connections
//!   at once; behind a `--trusted-proxy`, the forwarded client holds at most that many
//!   requests at once instead, since all its connections come from the proxy.
//!
//! A stalled request body is also cut off by the API after `--body-idle-timeout-secs`,
//! with a clear answer, before the connection's idle timeout would close it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use usher_edge::client::Clients;
use usher_edge::fast_path::FastPath;

use crate::ops::{self, SpanLevel};

/// SPEC §6: a request head within 60 s (nginx's `client_header_timeout`).
pub const DEFAULT_HEAD_TIMEOUT_SECS: u64 = 60;
/// SPEC §6: an idle connection closes after 75 s (nginx's `keepalive_timeout`).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 75;
/// Connections one client address may hold at once: far above what a browser opens
/// (6 per host) even for an office behind one NAT address, far below the process's
/// file limit.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u32 = 1024;
/// After an accept error (typically the process's file limit), wait this long before
/// accepting again rather than spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// How long the refusal of a connection over the cap may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 21\r\n\r\ntoo many connections\n";

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_per_client: usize,
}

/// Open connections (or, behind a trusted proxy, requests) per client address.
#[derive(Debug, Default)]
struct Counts(Mutex<HashMap<IpAddr, usize>>);

/// One counted connection or request; uncounted when dropped.
struct Slot {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Counts {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets the connections in flight
/// finish their requests. Requests `fast` takes are answered by it, not by `app`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    fast: Option<Arc<FastPath>>,
    limits: ConnectionLimits,
    clients: Arc<Clients>,
    shutdown: CancellationToken,
) {
    let fast_route = usher_metrics::route(usher_edge::fast_path::ROUTE);
    let graceful = GracefulShutdown::new();
    let counts = Arc::new(Counts::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // Without TCP_NODELAY, small responses wait out Nagle + delayed ACKs (~40 ms each).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let ip = peer.ip().to_canonical();
        let behind_proxy = clients.is_trusted_proxy(ip);
        let slot = if behind_proxy {
            None
        } else {
            match counts.take(ip, limits.max_per_client) {
                Some(slot) => Some(slot),
                None => {
                    tokio::spawn(refuse(stream));
                    continue;
                }
            }
        };
        let (app, fast) = (app.clone(), fast.clone());
        let (clients, counts) = (clients.clone(), counts.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let target = match &fast {
                Some(fast) if FastPath::takes(&req) => Target::Fast(fast.clone()),
                _ => {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    Target::Router(app.clone())
                }
            };
            // Behind a proxy each request holds a slot of the client it is for.
            let request_slot = if behind_proxy {
                let client = clients.client_ip(peer.ip(), req.headers());
                match counts.take(client, limits.max_per_client) {
                    Some(slot) => Ok(Some(slot)),
                    None => Err(()),
                }
            } else {
                Ok(None)
            };
            async move {
                let Ok(slot) = request_slot else {
                    return Ok(too_many());
                };
                let resp = match target {
                    Target::Fast(fast) => {
                        // A GET's body is never read: no box for it.
                        let req = req.map(|_| axum::body::Body::empty());
                        // Boxed: hyper keeps room for this future in every connection,
                        // idle or not, and the edge's answer is several KiB of state
                        // (12 KiB more per idle connection unboxed).
                        let answer = |req| {
                            Box::pin(
                                async move { Ok::<_, Infallible>(fast.answer(peer, req).await) },
                            )
                        };
                        ops::observe(fast_route, SpanLevel::Debug, req, answer).await
                    }
                    Target::Router(app) => app.oneshot(req.map(axum::body::Body::new)).await,
                };
                drop(slot);
                resp
            }
        });
        let conn = http.serve_connection(
            TokioIo::new(IdleIo::new(stream, limits.idle_timeout)),
            service,
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Who answers a request.
enum Target {
    Fast(Arc<FastPath>),
    Router(Router),
}

fn too_many() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "1")],
        "too many connections\n",
    )
        .into_response()
}

/// Answers a connection over the cap with a 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        let _ = stream.write_all(REFUSAL).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A connection that fails once nothing has moved on it, either way, for `timeout`.
///
/// Moving the timer on every read and write would touch the runtime's timer wheel
/// twice per request; instead each read or write only notes the time, and the timer,
/// when it fires, is pushed back to what that time says if it fired early.
pub struct IdleIo {
    inner: TcpStream,
    timeout: Duration,
    last_moved: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl IdleIo {
    pub fn new(inner: TcpStream, timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last_moved: now,
            deadline: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    fn moved(&mut self) {
        self.last_moved = Instant::now();
    }

    /// On a pending operation: an error once nothing has moved for the timeout.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            match self.deadline.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let due = self.last_moved + self.timeout;
                    if Instant::now() >= due {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "connection idle",
                        )));
                    }
                    // Fired early: something moved since it was set.
                    self.deadline.as_mut().reset(due);
                }
            }
        }
    }
}

use std::future::Future as _;

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx),
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.check(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.check(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
