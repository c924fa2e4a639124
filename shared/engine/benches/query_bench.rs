//! Latency of the standard benchmark queries (shared/bench/README.md) on a loaded graph:
//! point lookup, 1-hop, 2-hop, filtered scan with limit, and a single-row insert mutation.
//!
//!   scripts/bench_query.sh (generates and loads the standard graph, then runs this)
//!
//! Reports point lookups and inserts before anything is cached (answered through the
//! scalar indexes), the cold first traversal (which builds the per-version cache), then median and p99
//! over SAMPLES random start nodes, warm; and the first read after a write (the cache of
//! the new table versions is rebuilt).

use std::time::{Duration, Instant};

use omnigraph_engine::{Graph, QueryBudget, QueryText, ReadAt, MAIN};
use serde_json::{json, Map, Value};

const POINT: &str =
    "query point($id: String) { match { $p: Person { uid: $id } } return { $p.name, $p.age } }";
const HOP1: &str =
    "query hop1($id: String) { match { $p: Person { uid: $id } $p knows $f } return { $f.name } }";
const HOP2: &str = "query hop2($id: String) { match { $p: Person { uid: $id } $p knows $m $m knows $x } return { $x.name } }";
const FILT: &str = "query filt() { match { $p: Person $p.age > 40 $p.city = \"Oslo\" } return { $p.name } limit 10 }";
const LINK: &str =
    "query link($a: String, $b: String) { insert Knows { from: $a, to: $b, since: 2024 } }";
const INSERT: &str =
    "query add($id: String) { insert Person { uid: $id, name: \"Bench\", age: 30, city: \"Oslo\" } }";

/// A small deterministic generator, so every run samples the same nodes.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Time one read of `text` on main's head; returns the time and the rows.
async fn run(graph: &std::sync::Arc<Graph>, text: &str, p: Value) -> (Duration, usize) {
    let started = Instant::now();
    let at = ReadAt::Branch {
        branch: MAIN,
        version: None,
    };
    let budget = QueryBudget::unlimited();
    let out =
        omnigraph_engine::read(graph, at, QueryText::new(text, None), &params(p), &budget).await;
    let elapsed = started.elapsed();
    match out {
        Ok(answer) => (elapsed, answer.result.rows.len()),
        Err(e) => {
            eprintln!("query failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Time one change of `text` on main; returns the time and the nodes it touched.
async fn change(graph: &std::sync::Arc<Graph>, text: &str, p: Value) -> (Duration, usize) {
    let started = Instant::now();
    let out =
        omnigraph_engine::change(graph, MAIN, QueryText::new(text, None), &params(p), "bench")
            .await;
    let elapsed = started.elapsed();
    match out {
        Ok(answer) => (elapsed, answer.report.affected_nodes as usize),
        Err(e) => {
            eprintln!("change failed: {e}");
            std::process::exit(1);
        }
    }
}

fn summary(name: &str, mut times: Vec<Duration>, rows: usize) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    println!(
        "{name:<14} median {:>8.3} ms   p99 {:>8.3} ms   ({} runs, {rows} rows total)",
        ms(median),
        ms(p99),
        times.len()
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(store) = args.get(1) else {
        eprintln!("usage: query_bench STORE [SAMPLES]");
        std::process::exit(2);
    };
    let samples: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let graph = Graph::open(store).await.unwrap_or_else(|e| {
        eprintln!("cannot open {store}: {e}");
        std::process::exit(1);
    });
    let nodes = graph
        .snapshot(None)
        .await
        .map(|s| s.row_count(&omnigraph_engine::TableKey::node("Person")))
        .unwrap_or(0);
    println!("graph {store}: {nodes} Person nodes");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let ids: Vec<String> = (0..samples)
        .map(|_| format!("p{}", rng.below(nodes.max(1))))
        .collect();

    // Cold: nothing is cached for this version yet. Point lookups (one variable, an
    // equality on the indexed key) go to Lance as an indexed, filtered scan; inserts check
    // the new key the same way.
    let cold_samples = samples.min(50);
    let mut times = vec![];
    let mut rows = 0;
    for id in ids.iter().take(cold_samples) {
        let (t, n) = run(&graph, POINT, json!({"id": id})).await;
        times.push(t);
        rows += n;
    }
    summary("cold point", times, rows);
    let mut times = vec![];
    let tag = std::process::id();
    for i in 0..cold_samples.min(20) {
        let (t, _) = change(&graph, INSERT, json!({"id": format!("cold-{tag}-{i}")})).await;
        times.push(t);
    }
    summary("cold insert", times, cold_samples.min(20));

    let (cold, _) = run(&graph, HOP2, json!({"id": ids[0]})).await;
    println!(
        "cold first query (builds node ids + adjacency): {:.1} ms",
        cold.as_secs_f64() * 1000.0
    );
    for (name, text) in [("point", POINT), ("1-hop", HOP1), ("2-hop", HOP2)] {
        run(&graph, text, json!({"id": ids[0]})).await;
        let mut times = vec![];
        let mut rows = 0;
        for id in &ids {
            let (t, n) = run(&graph, text, json!({"id": id})).await;
            times.push(t);
            rows += n;
        }
        summary(name, times, rows);
    }
    let mut times = vec![];
    let mut rows = 0;
    for _ in 0..samples {
        let (t, n) = run(&graph, FILT, json!({})).await;
        times.push(t);
        rows += n;
    }
    summary("filter+limit", times, rows);

    let inserts = samples.min(50);
    let mut times = vec![];
    for i in 0..inserts {
        let (t, _) = change(&graph, INSERT, json!({"id": format!("bench-{tag}-{i}")})).await;
        times.push(t);
    }
    summary("1-row insert", times, inserts);
    let (after_write, _) = run(&graph, HOP1, json!({"id": ids[0]})).await;
    println!(
        "first 1-hop after a node insert (patches node ids): {:.1} ms",
        after_write.as_secs_f64() * 1000.0
    );
    let mut times = vec![];
    for i in 0..inserts {
        let (t, _) = change(
            &graph,
            LINK,
            json!({"a": ids[i % ids.len()], "b": ids[(i + 1) % ids.len()]}),
        )
        .await;
        times.push(t);
    }
    summary("1-edge insert", times, inserts);
    let (after_link, _) = run(&graph, HOP2, json!({"id": ids[0]})).await;
    println!(
        "first 2-hop after an edge insert (patches adjacency): {:.1} ms",
        after_link.as_secs_f64() * 1000.0
    );
    let (warm_again, _) = run(&graph, HOP2, json!({"id": ids[1]})).await;
    println!("next 2-hop: {:.3} ms", warm_again.as_secs_f64() * 1000.0);
}
