//! The process's Prometheus metrics: one registry, shared by the API, the edge and the
//! workers, rendered at `/metrics` in the text exposition format.
//!
//! Instruments are process-wide statics so that a hot path records with one hash lookup
//! and an atomic add, without threading a handle through every layer. Label values are
//! `&'static str` chosen by the code (route templates, denial reasons, job kinds), never
//! taken from a request, so the number of series stays bounded.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod atomic_histogram;
pub use atomic_histogram::AtomicHistogram;

/// The content type Prometheus expects from a text scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route template (`/client/v4/accounts/{account_id}/stream`), or
    /// `unmatched`.
    pub route: String,
    pub method: &'static str,
    /// The status class: `2xx`, `3xx`, `4xx`, `5xx`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit` or `miss`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    /// `done`, `retry`, `failed` or `handed_back`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub kind: String,
    /// `queued` or `running`.
    pub state: String,
}

type Seconds = Family<RouteLabels, AtomicHistogram, fn() -> AtomicHistogram>;
type JobSeconds = Family<JobLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Seconds,
    pub denials: Family<ReasonLabels, Counter>,
    /// Resolved once: a token lookup is on every edge request.
    pub token_cache_hits: Counter,
    pub token_cache_misses: Counter,
    pub job_seconds: JobSeconds,
    /// Set from the database just before each scrape: the queue is shared by every
    /// process, so any of them reports the same depth.
    pub queue_depth: Family<QueueLabels, Gauge>,
    /// Live inputs whose publisher is connected to this process.
    pub live_inputs_connected: Gauge,
    /// Bytes of packaged live media stored by this process's ingest.
    pub live_ingest_bytes: Counter,
    /// Bytes received from publishers by this process's ingest.
    pub live_publish_bytes: Counter,
    /// Viewers this edge served a live input's playlists to in the last half minute.
    pub live_viewers: Family<InputLabels, Gauge>,
    /// How old the newest segment of a live playlist was when this edge served it.
    pub live_segment_age: Histogram,
    /// Viewing-analytics batches this edge counted but could not write yet.
    pub analytics_unwritten_batches: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabels {
    pub input: String,
}

fn request_histogram() -> AtomicHistogram {
    // 100 µs … ~13 s: edge hits sit at the bottom, uploads at the top.
    AtomicHistogram::new(exponential_buckets(0.0001, 4.0, 9))
}

fn job_histogram() -> Histogram {
    // 50 ms … ~14 min: a remux of a short clip up to a long transcode.
    Histogram::new(exponential_buckets(0.05, 3.0, 10))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("usher");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status class",
            requests.clone(),
        );
        let request_seconds: Seconds = Family::new_with_constructor(request_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by route",
            request_seconds.clone(),
        );
        let denials = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "edge_denials",
            "Edge requests refused, by reason",
            denials.clone(),
        );
        let token_cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "edge_token_cache_lookups",
            "Verified-token cache lookups by the edge, by hit or miss",
            token_cache.clone(),
        );
        let job_seconds: JobSeconds = Family::new_with_constructor(job_histogram);
        registry.register(
            "job_duration_seconds",
            "Time a job ran in this process, by kind and outcome",
            job_seconds.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Jobs waiting or running across all processes, by kind and state",
            queue_depth.clone(),
        );
        let live_inputs_connected = Gauge::default();
        registry.register(
            "live_inputs_connected",
            "Live inputs with a publisher connected to this process",
            live_inputs_connected.clone(),
        );
        let live_publish_bytes = Counter::default();
        registry.register(
            "live_publish_bytes",
            "Bytes received from live publishers by this process",
            live_publish_bytes.clone(),
        );
        let live_ingest_bytes = Counter::default();
        registry.register(
            "live_packaged_bytes",
            "Bytes of live segments and playlists stored by this process",
            live_ingest_bytes.clone(),
        );
        let live_viewers = Family::<InputLabels, Gauge>::default();
        registry.register(
            "live_viewers",
            "Viewers this edge served a live input's playlists to in the last 30 s",
            live_viewers.clone(),
        );
        // 0.25 s … ~64 s: a segment is normally one to two segment durations old.
        let live_segment_age = Histogram::new(exponential_buckets(0.25, 2.0, 9));
        registry.register(
            "live_segment_age_seconds",
            "Age of the newest segment of each live playlist served by this edge",
            live_segment_age.clone(),
        );
        let analytics_unwritten_batches = Gauge::default();
        registry.register(
            "analytics_unwritten_batches",
            "Viewing-analytics batches this edge has not been able to write yet",
            analytics_unwritten_batches.clone(),
        );
        Self {
            registry,
            analytics_unwritten_batches,
            requests,
            request_seconds,
            denials,
            token_cache_hits: token_cache.get_or_create_owned(&CacheLabels { result: "hit" }),
            token_cache_misses: token_cache.get_or_create_owned(&CacheLabels { result: "miss" }),
            job_seconds,
            queue_depth,
            live_inputs_connected,
            live_ingest_bytes,
            live_publish_bytes,
            live_viewers,
            live_segment_age,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Records a job that ran for `elapsed` in this process and ended with `outcome`.
pub fn job_ran(kind: &str, outcome: &'static str, elapsed: std::time::Duration) {
    metrics()
        .job_seconds
        .get_or_create(&JobLabels {
            kind: kind.to_owned(),
            outcome,
        })
        .observe(elapsed.as_secs_f64());
}

/// Methods as bounded label values; the index is the method's slot in [`Route`].
pub const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// One route's request instruments, resolved once: recording a request is then two
/// atomic adds and a histogram update, with no label hashing or allocation (this runs
/// on every edge request).
pub struct Route {
    seconds: AtomicHistogram,
    counts: [[OnceLock<Counter>; 5]; 8],
    name: &'static str,
}

impl Route {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Records one answered request.
    pub fn record(&self, method: usize, status: u16, elapsed: Duration) {
        self.seconds.observe(elapsed);
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        let method = method.min(METHODS.len() - 1);
        self.counts[method][class]
            .get_or_init(|| {
                metrics().requests.get_or_create_owned(&RequestLabels {
                    route: self.name.to_owned(),
                    method: METHODS[method],
                    outcome: CLASSES[class],
                })
            })
            .inc();
    }
}

/// The instruments of route template `name` (a matched axum path, or `unmatched`).
/// Route templates are a fixed set, so each is resolved once and kept for the life of
/// the process.
pub fn route(name: &str) -> &'static Route {
    static ROUTES: LazyLock<RwLock<HashMap<String, &'static Route>>> =
        LazyLock::new(Default::default);
    if let Some(r) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(name) {
        return r;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    routes.entry(name.to_owned()).or_insert_with(|| {
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        Box::leak(Box::new(Route {
            seconds: metrics().request_seconds.get_or_create_owned(&RouteLabels {
                route: name.to_owned(),
            }),
            counts: Default::default(),
            name,
        }))
    })
}

/// `2xx` … `5xx` for a status code.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_appear_in_the_exposition() {
        let m = metrics();
        m.denials
            .get_or_create(&ReasonLabels { reason: "expired" })
            .inc();
        m.token_cache_hits.inc_by(3);
        m.queue_depth
            .get_or_create(&QueueLabels {
                kind: "package".into(),
                state: "queued".into(),
            })
            .set(7);
        let text = m.render();
        assert!(
            text.contains("usher_edge_denials_total{reason=\"expired\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("usher_edge_token_cache_lookups_total{result=\"hit\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("usher_jobs{kind=\"package\",state=\"queued\"} 7"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn route_instruments_count_by_method_and_class() {
        let r = route("/test/{id}");
        assert!(std::ptr::eq(r, route("/test/{id}")), "resolved once");
        r.record(0, 200, Duration::from_millis(1));
        r.record(0, 204, Duration::from_millis(1));
        r.record(4, 404, Duration::from_millis(1));
        let text = metrics().render();
        for line in [
            "usher_http_requests_total{route=\"/test/{id}\",method=\"GET\",outcome=\"2xx\"} 2",
            "usher_http_requests_total{route=\"/test/{id}\",method=\"PATCH\",outcome=\"4xx\"} 1",
            "usher_http_request_duration_seconds_count{route=\"/test/{id}\"} 3",
        ] {
            assert!(text.contains(line), "no {line} in {text}");
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
