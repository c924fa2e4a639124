//! The engine's Prometheus metrics other than the object store's (storage_metrics.rs), in
//! the process's default registry, which both servers serve at `GET /metrics`:
//!
//! - query cache (query/cache.rs): `omnigraph_query_cache_bytes`,
//!   `omnigraph_query_cache_hits_total`, `omnigraph_query_cache_misses_total`,
//!   `omnigraph_query_cache_evictions_total`;
//! - embedding provider (embedding.rs): `omnigraph_embedding_calls_total`,
//!   `omnigraph_embedding_errors_total`, `omnigraph_embedding_call_duration_seconds`;
//! - group commit (mutate/group.rs): `omnigraph_group_commit_size` (mutations per published
//!   group), `omnigraph_group_commit_replans_total` (groups planned again after another
//!   process moved a table they used).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};

use crate::storage_metrics::registered;

// Metric definitions are static: a bad name or label is a programming error that every
// test run hits at once, so building them panics with the name.
pub(crate) fn counter(name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, c)
}

fn gauge(name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, g)
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, h)
}

pub(crate) struct CacheMetrics {
    pub bytes: IntGauge,
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub evictions: IntCounter,
}

pub(crate) static CACHE: LazyLock<CacheMetrics> = LazyLock::new(|| CacheMetrics {
    bytes: gauge(
        "omnigraph_query_cache_bytes",
        "Approximate bytes held by the query cache (node ids, adjacency, loaded columns)",
    ),
    hits: counter(
        "omnigraph_query_cache_hits_total",
        "Query-cache lookups answered by an entry already built",
    ),
    misses: counter(
        "omnigraph_query_cache_misses_total",
        "Query-cache lookups that built an entry (a full scan or a patch of an earlier version)",
    ),
    evictions: counter(
        "omnigraph_query_cache_evictions_total",
        "Query-cache entries dropped to stay within the byte budget or the versions kept per table",
    ),
});

struct EmbeddingMetrics {
    calls: IntCounter,
    errors: IntCounter,
    duration: Histogram,
}

static EMBEDDING: LazyLock<EmbeddingMetrics> = LazyLock::new(|| {
    EmbeddingMetrics {
    calls: counter(
        "omnigraph_embedding_calls_total",
        "Requests to the embedding provider (one per batch of texts)",
    ),
    errors: counter(
        "omnigraph_embedding_errors_total",
        "Requests to the embedding provider that failed (unreachable, an error status, a bad answer)",
    ),
    duration: histogram(
        "omnigraph_embedding_call_duration_seconds",
        "Time of one request to the embedding provider",
        vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
    ),
}
});

pub(crate) struct WriteMetrics {
    pub group_size: Histogram,
    pub replans: IntCounter,
}

pub(crate) static WRITES: LazyLock<WriteMetrics> = LazyLock::new(|| {
    WriteMetrics {
    group_size: histogram(
        "omnigraph_group_commit_size",
        "Mutations taken together by one group commit (published as one graph version)",
        vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    ),
    replans: counter(
        "omnigraph_group_commit_replans_total",
        "Group commits planned again because another process published a change to a table they used",
    ),
}
});

/// One request to the embedding provider, done.
pub(crate) fn embedding_call(elapsed: Duration, failed: bool) {
    let m = &*EMBEDDING;
    m.calls.inc();
    if failed {
        m.errors.inc();
    }
    m.duration.observe(elapsed.as_secs_f64());
}

/// Makes every engine metric appear (at zero) before its first event, so that a scrape
/// shows the whole set.
pub fn init() {
    LazyLock::force(&CACHE);
    LazyLock::force(&EMBEDDING);
    LazyLock::force(&WRITES);
    crate::storage_metrics::init();
}
