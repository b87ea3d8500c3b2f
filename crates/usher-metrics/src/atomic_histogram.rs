//! A histogram that records with atomic adds only. prometheus-client's `Histogram`
//! takes a mutex on every observation, so every request of a route would queue on one
//! lock: on the edge's hot path that serialises connections across cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Durations in fixed buckets; the sum is kept in nanoseconds so it adds exactly.
#[derive(Debug, Clone)]
pub struct AtomicHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bounds in seconds, ascending; the last bucket (+Inf) is implied.
    bounds: Vec<f64>,
    /// One more than `bounds`: the +Inf bucket.
    counts: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
}

impl AtomicHistogram {
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds: Vec<f64> = bounds.into_iter().collect();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self {
            inner: Arc::new(Inner {
                bounds,
                counts,
                sum_nanos: AtomicU64::new(0),
            }),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.inner.bounds.partition_point(|&b| b < secs);
        if let Some(c) = self.inner.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Sum in seconds, count, and per-bucket counts (not cumulative) by upper bound.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let bounds = self.inner.bounds.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.inner.counts)
            .map(|(b, c)| (b, c.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, c)| c).sum();
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, count, buckets)
    }
}

impl TypedMetric for AtomicHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for AtomicHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    #[test]
    fn buckets_sum_and_count_as_prometheus_reads_them() {
        let h = AtomicHistogram::new([0.001, 0.01, 0.1]);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1)); // on the bound: counts in `le="0.001"`
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(2));
        let mut registry = Registry::default();
        registry.register("t", "test", h.clone());
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        for line in [
            "t_bucket{le=\"0.001\"} 2",
            "t_bucket{le=\"0.01\"} 2",
            "t_bucket{le=\"0.1\"} 3",
            "t_bucket{le=\"+Inf\"} 4",
            "t_count 4",
            "t_sum 2.0515",
        ] {
            assert!(out.contains(line), "{line} not in\n{out}");
        }
    }

    #[test]
    fn observations_from_many_threads_all_count() {
        let h = AtomicHistogram::new([0.001]);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        h.observe(Duration::from_micros(10));
                    }
                });
            }
        });
        let (sum, count, buckets) = h.snapshot();
        assert_eq!(count, 40_000);
        assert_eq!(buckets[0].1, 40_000);
        assert!((sum - 0.4).abs() < 1e-9, "{sum}");
    }
}
