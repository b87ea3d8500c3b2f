//! What operators and load balancers talk to, on every role: `/healthz` (the process
//! runs), `/readyz` (it can reach its database and media store, and is not draining),
//! `/metrics` (Prometheus), and the layer that gives each request an id, a log span and
//! its place in the request metrics.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service};
use usher_metrics::{QueueLabels, metrics};
use usher_store::{Blobs, Db};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// A readiness probe that takes longer than this counts as a failure: a load balancer
/// would rather route around a slow database than queue behind it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest request id taken from a proxy; longer ones are replaced.
const MAX_REQUEST_ID: usize = 64;

#[derive(Clone)]
pub struct Ops {
    pub db: Db,
    pub blobs: Blobs,
    /// Cancelled when the process starts draining: `/readyz` then says so, so load
    /// balancers stop sending new requests while in-flight ones finish.
    pub draining: CancellationToken,
    pub role: &'static str,
    /// Who may scrape `/metrics` (by peer address, never by forwarded headers): the
    /// figures say how busy the service is and what is being refused.
    pub metrics_allow: Vec<ipnet::IpNet>,
}

pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(ops)
}

async fn healthz(State(ops): State<Ops>) -> Response {
    plain(StatusCode::OK, format!("ok {}\n", ops.role))
}

async fn readyz(State(ops): State<Ops>) -> Response {
    if ops.draining.is_cancelled() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n".into());
    }
    let db = tokio::time::timeout(PROBE_TIMEOUT, ops.db.ping()).await;
    if !matches!(db, Ok(Ok(()))) {
        tracing::warn!(outcome = ?db, "readiness: database unreachable");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable\n".into(),
        );
    }
    // A HEAD of a key that need not exist: any answer, found or not, proves the store
    // is reachable and the credentials work.
    let store = tokio::time::timeout(PROBE_TIMEOUT, ops.blobs.exists(".usher-readyz")).await;
    if !matches!(store, Ok(Ok(_))) {
        tracing::warn!(outcome = ?store, "readiness: media store unreachable");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "media store unreachable\n".into(),
        );
    }
    plain(StatusCode::OK, "ready\n".into())
}

async fn metrics_text(
    State(ops): State<Ops>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let ip = peer.ip().to_canonical();
    if !ops.metrics_allow.iter().any(|n| n.contains(&ip)) {
        return plain(StatusCode::NOT_FOUND, "not found\n".into());
    }
    let m = metrics();
    // The queue is shared, so the depth comes from the database at scrape time. A kind
    // whose jobs all finished must read 0, not keep its last value.
    match tokio::time::timeout(PROBE_TIMEOUT, ops.db.job_counts()).await {
        Ok(Ok(counts)) => {
            m.queue_depth.clear();
            for (kind, state, n) in counts {
                m.queue_depth
                    .get_or_create(&QueueLabels { kind, state })
                    .set(n);
            }
        }
        other => tracing::warn!(outcome = ?other, "metrics: could not count jobs"),
    }
    (
        [(header::CONTENT_TYPE, usher_metrics::CONTENT_TYPE)],
        m.render(),
    )
        .into_response()
}

fn plain(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The request id: the proxy's `X-Request-Id` when it looks like one, else a new one.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= MAX_REQUEST_ID
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(new_request_id)
}

/// A random per-process prefix and a counter: unique across processes and restarts
/// without asking the system RNG on every request (it is on the edge's hot path).
fn new_request_id() -> HeaderValue {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<String> =
        LazyLock::new(|| usher_core::ids::random_hex_id()[..16].to_owned());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // Hex written by hand: no formatting machinery, one allocation (the header value).
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(&PREFIX.as_bytes()[..16]);
    for (i, b) in id[16..].iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    // Hex is always a valid header value.
    HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("-"))
}

/// Gives every request an id (echoed in `X-Request-Id`), runs it inside a span that
/// carries the id so every log line of the request has it, counts it by route template
/// and status class, and logs server errors. Applied with `Router::layer`, so the
/// matched route is known. A plain tower layer rather than `middleware::from_fn`: that
/// clones the inner route, state included, on every request, a measurable share of an
/// edge hit.
#[derive(Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = usher_metrics::route(
            req.extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str),
        );
        observe(route, SpanLevel::Info, req, |req| self.inner.call(req))
    }
}

/// The level of a request's log span. The span is what puts the request id on every
/// log line of the request, but a span that is enabled costs its fields formatted into
/// a new string (four allocations, ~1 µs: 8 % of a cached edge hit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanLevel {
    Info,
    /// For the edge's hot path: its requests log nothing at `info` of their own, and a
    /// server error is logged with the request id whatever the level.
    Debug,
}

/// Observes the answer to `req` on `route`, which `answer` starts: what [`ObserveLayer`]
/// does for routed requests, for requests answered without the router.
pub fn observe<F>(
    route: &'static usher_metrics::Route,
    level: SpanLevel,
    req: Request,
    answer: impl FnOnce(Request) -> F,
) -> Observed<F> {
    let id = request_id(&req);
    let method = method_index(req.method());
    let (id_str, method_str) = (id.to_str().unwrap_or("-"), usher_metrics::METHODS[method]);
    let span = match level {
        SpanLevel::Info => tracing::info_span!(
            "request",
            id = id_str,
            method = method_str,
            route = route.name()
        ),
        SpanLevel::Debug => tracing::debug_span!(
            "request",
            id = id_str,
            method = method_str,
            route = route.name()
        ),
    };
    let inner = {
        let _entered = span.enter();
        answer(req)
    };
    Observed {
        inner,
        span,
        started: Instant::now(),
        id: Some(id),
        route,
        method,
    }
}

pin_project_lite::pin_project! {
    pub struct Observed<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        started: Instant,
        id: Option<HeaderValue>,
        route: &'static usher_metrics::Route,
        method: usize,
    }
}

impl<F, E> Future for Observed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut res = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(res)) => res,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        };
        let status = res.status().as_u16();
        let elapsed = this.started.elapsed();
        this.route.record(*this.method, status, elapsed);
        if status >= 500 {
            let id = this.id.as_ref().and_then(|id| id.to_str().ok());
            tracing::error!(
                id,
                method = usher_metrics::METHODS[*this.method],
                route = this.route.name(),
                status,
                ?elapsed,
                "server error"
            );
        } else {
            tracing::debug!(status, ?elapsed, "answered");
        }
        if let Some(id) = this.id.take() {
            res.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(res))
    }
}

/// The method's slot in [`usher_metrics::METHODS`].
fn method_index(m: &axum::http::Method) -> usize {
    usher_metrics::METHODS
        .iter()
        .position(|&name| name == m.as_str())
        .unwrap_or(usher_metrics::METHODS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req_with(id: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().uri("/x");
        if let Some(id) = id {
            b = b.header("x-request-id", id);
        }
        b.body(axum::body::Body::empty()).unwrap_or_default()
    }

    #[test]
    fn a_proxys_request_id_is_kept_when_sane_and_replaced_otherwise() {
        assert_eq!(request_id(&req_with(Some("lb-42.a:b_c"))), "lb-42.a:b_c");
        for bad in ["", "has space", "quote\"", &"x".repeat(65)] {
            let id = request_id(&req_with(Some(bad)));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "{bad:?}");
        }
        let (a, b) = (request_id(&req_with(None)), request_id(&req_with(None)));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
