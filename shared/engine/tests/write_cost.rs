//! A single-row insert costs the same object-store requests at 10 and at 10,000 versions of
//! history (1,000 on the S3 test server, see [`long_history`]), and at most 10 (README.md, "Storage design": the write path). Counted by the
//! engine's own counting wrapper (shared/engine/src/storage_metrics.rs) for this graph only.
//! On a local disk Lance reads and writes data files with direct file I/O, which the wrapper
//! does not see; under tests/s3/run.sh the same test runs on the S3 test server, where every
//! request is counted.
//!
//! History grows the way a served graph's does: single-row inserts, with the compaction a
//! worker's maintenance runs (shared/engine/src/maintenance.rs) every few hundred writes.
//! Without compaction every insert adds a fragment that later key lookups scan and every
//! Lance manifest lists, and the cost grows with history.

use std::collections::BTreeMap;

use crate::common::*;
use omnigraph_engine::location::name_graph;
use omnigraph_engine::maintenance::{compact, CompactionPolicy};
use omnigraph_engine::storage_metrics::requests_of;
use omnigraph_engine::MAIN;
use serde_json::json;

const ADD: &str = "query add($n: String) { insert Person { name: $n, age: 20 } }";
/// Versions between two compactions while history grows.
const COMPACT_EVERY: u64 = 250;
/// The most requests one single-row insert may make.
const MOST: u64 = 10;

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

fn minus(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The requests of each of `samples` single-row inserts, by operation.
async fn sample(
    g: &TestGraph,
    name: &str,
    tag: &str,
    samples: usize,
) -> Vec<BTreeMap<String, u64>> {
    let mut out = vec![];
    let started = std::time::Instant::now();
    for i in 0..samples {
        let before = requests_of(name);
        g.mutate(ADD, json!({"n": format!("{tag}-{i}")})).await;
        out.push(minus(&requests_of(name), &before));
    }
    eprintln!("{tag}: {:?} per insert", started.elapsed() / samples as u32);
    out
}

/// Grows history to `target` versions with single-row inserts, compacting every
/// [`COMPACT_EVERY`] versions, and once more 8 versions before `target`: the last 8 writes
/// sit in fragments of their own, as those of the graph's first versions do.
async fn grow_to(g: &TestGraph, target: u64) {
    let mut v = g.version().await;
    let mut i = 0u64;
    let mut compacted_at = 0;
    while v < target {
        if (v % COMPACT_EVERY == 0 || v == target - 8) && compacted_at != v {
            compacted_at = v;
            compact(&g.graph, MAIN, &CompactionPolicy { min_fragments: 2 })
                .await
                .expect("compaction");
        } else {
            g.mutate(ADD, json!({"n": format!("h{target}-{i}")})).await;
            i += 1;
        }
        v = g.version().await;
    }
}

/// 10,000 versions on a local disk (about 90 s in a dev build). On the S3 test server a write
/// takes about 20 times as long, so `tests/s3/run.sh` grows 1,000 unless
/// `WRITE_COST_VERSIONS` asks for more (`WRITE_COST_VERSIONS=10000 tests/s3/run.sh --test
/// engine write_cost`, about 20 minutes).
fn long_history() -> u64 {
    let asked = std::env::var("WRITE_COST_VERSIONS")
        .ok()
        .and_then(|v| v.parse().ok());
    let on_object_store = std::env::var_os("OMNIGRAPH_TEST_STORAGE").is_some();
    asked.unwrap_or(if on_object_store { 1_000 } else { 10_000 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_row_insert_makes_the_same_requests_at_10_and_10000_versions() {
    let g = TestGraph::social().await;
    let name = format!("write-cost-{}", std::process::id());
    name_graph(g.graph.uri(), &name);
    // Windows that hold no version the latest-version hint is rewritten at (every 256th).
    grow_to(&g, 10).await;
    let early = sample(&g, &name, "early", 6).await;
    eprintln!("requests per single-row insert at 10 versions: {early:?}");
    grow_to(&g, long_history()).await;
    let late = sample(&g, &name, "late", 6).await;
    eprintln!(
        "requests per single-row insert at {} versions: {late:?}",
        long_history()
    );
    for counts in early.iter().chain(&late) {
        assert!(total(counts) <= MOST, "{counts:?}");
    }
    assert_eq!(early, late);
}
