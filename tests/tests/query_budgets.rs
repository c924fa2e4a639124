//! Query budgets on a real worker (shared/engine/src/query/budget.rs,
//! data-plane/src/server/query_limits.rs): traversals end on cycles whatever their upper
//! bound, a runaway read is stopped at its deadline while point reads stay fast and the
//! worker's memory stays bounded, and each limit answers its own 4xx code.

use std::time::{Duration, Instant};

use omnigraph_e2e::*;
use serde_json::{json, Value};

/// Every pair of 3,000 people, three times over: 2.7e10 matches, hours of work unbounded.
const CARTESIAN_COUNT: &str =
    "query q() { match { $a: Person $b: Person $c: Person } return { count($a) as n } }";

/// A social graph holding `jsonl`.
fn graph_with(jsonl: &str) -> TempGraph {
    let g = TempGraph::new("social.pg");
    let data = g.write_file("data.jsonl", jsonl);
    dp_ok(&[
        "load",
        "--store",
        &g.store,
        "--data",
        &data,
        "--mode",
        "overwrite",
    ]);
    g
}

fn people_graph(n: usize) -> TempGraph {
    graph_with(&people_jsonl("p", n))
}

fn worker(g: &TempGraph, args: &[&str]) -> DataPlane {
    let mut all = vec!["--unauthenticated"];
    all.extend_from_slice(args);
    DataPlane::single_mode(g, "", &all, &[])
}

fn read(dp: &DataPlane, query: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({ "query_source": query });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    dp.post("/read", &body, None)
}

fn point_read(dp: &DataPlane, name: &str) -> Duration {
    let started = Instant::now();
    let (status, body) = read(
        dp,
        "query q($n: String) { match { $p: Person { name: $n } } return { $p.age } }",
        json!({ "params": { "n": name } }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["row_count"], 1, "{body}");
    started.elapsed()
}

#[test]
fn a_traversal_with_a_huge_upper_bound_ends_on_a_cycle() {
    let g = graph_with(concat!(
        "{\"type\": \"Person\", \"data\": {\"name\": \"A\"}}\n",
        "{\"type\": \"Person\", \"data\": {\"name\": \"B\"}}\n",
        "{\"type\": \"Person\", \"data\": {\"name\": \"C\"}}\n",
        "{\"edge\": \"Knows\", \"from\": \"A\", \"to\": \"B\"}\n",
        "{\"edge\": \"Knows\", \"from\": \"B\", \"to\": \"A\"}\n",
        "{\"edge\": \"Knows\", \"from\": \"B\", \"to\": \"C\"}\n",
        "{\"edge\": \"Knows\", \"from\": \"C\", \"to\": \"C\"}\n",
    ));
    let dp = worker(&g, &[]);
    let started = Instant::now();
    // Each destination at most once per source; a visited node (A itself included) is
    // never reported again; C's self-loop reports C at hop 3 when hop 2 was out of bounds.
    for (hops, expected) in [
        ("{2,4294967295}", json!(["C"])),
        ("{1,4294967295}", json!(["B", "C"])),
        ("{3,3}", json!(["C"])),
        ("{4,4}", json!([])),
    ] {
        let q = format!(
            "query q() {{ match {{ $p: Person {{ name: \"A\" }} $p knows{hops} $f }} return {{ $f.name }} order {{ $f.name }} }}"
        );
        let (status, body) = read(&dp, &q, json!({}));
        assert_eq!(status, 200, "{hops}: {body}");
        let names: Vec<Value> = body["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["f.name"].clone())
            .collect();
        assert_eq!(Value::from(names), expected, "{hops}");
    }
    // From C: its self-loop reports C at hop 1, and nothing else is reachable.
    let (status, body) = read(
        &dp,
        "query q() { match { $p: Person { name: \"C\" } $p knows{1,4294967295} $f } return { $f.name } }",
        json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([{ "f.name": "C" }]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_runaway_read_is_stopped_at_its_deadline_while_point_reads_stay_fast() {
    let g = people_graph(3000);
    let dp = worker(&g, &["--query-timeout-ms", "3000"]);
    // Warm the per-version cache, then measure point reads on an idle worker.
    point_read(&dp, "p1");
    let idle: Vec<Duration> = (0..10).map(|i| point_read(&dp, &format!("p{i}"))).collect();
    let idle_max = idle.iter().max().copied().unwrap_or_default();
    let rss_before = dp.rss_kib();

    // Five runaway reads at once (more than the cores), as five careless clients.
    let url = dp.url.clone();
    let runaways: Vec<_> = (0..5)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let r = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("client")
                    .post(format!("{url}/read"))
                    .json(&json!({ "query_source": CARTESIAN_COUNT }))
                    .send()
                    .expect("runaway answered");
                let status = r.status().as_u16();
                (status, r.json::<Value>().expect("json"), started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // While they run: point reads still answer, at a latency close to the idle one.
    let mut busy = vec![];
    for i in 0..10 {
        busy.push(point_read(&dp, &format!("p{}", 100 + i)));
    }
    let mut busy_sorted = busy.clone();
    busy_sorted.sort();
    let busy_median = busy_sorted[busy_sorted.len() / 2];
    for r in runaways {
        let (status, body, took) = r.join().expect("runaway thread");
        envelope(status, &body, 408, "query_timeout");
        assert!(
            body["error"].as_str().unwrap_or("").contains("3000 ms"),
            "the error names the limit: {body}"
        );
        assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    }
    // The cores are free again at once: the stopped reads do not run on.
    let after: Vec<Duration> = (0..10).map(|i| point_read(&dp, &format!("p{i}"))).collect();
    let after_max = after.iter().max().copied().unwrap_or_default();
    let rss_after = dp.rss_kib();
    eprintln!(
        "point reads: idle max {idle_max:?}, busy median {busy_median:?} (all {busy:?}), \
         after max {after_max:?}; rss {rss_before} KiB -> {rss_after} KiB"
    );
    assert!(
        busy_median < Duration::from_millis(500),
        "point reads during the runaway reads: {busy:?}"
    );
    assert!(
        after_max < idle_max * 5 + Duration::from_millis(50),
        "point reads after: {after:?} (idle {idle:?})"
    );
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[test]
fn a_worker_stops_on_sigterm_while_a_runaway_read_runs() {
    let g = people_graph(3000);
    let mut dp = worker(&g, &["--query-timeout-ms", "2000"]);
    let url = dp.url.clone();
    let runaway = std::thread::spawn(move || {
        let _ = reqwest::blocking::Client::new()
            .post(format!("{url}/read"))
            .json(&json!({ "query_source": CARTESIAN_COUNT }))
            .send();
    });
    std::thread::sleep(Duration::from_millis(500));
    dp.terminate();
    assert_eq!(
        dp.wait_exit(Duration::from_secs(10)),
        Some(0),
        "the worker did not stop:\n{}",
        dp.log()
    );
    runaway.join().expect("runaway thread");
}

#[test]
fn a_read_may_ask_for_less_time_but_not_more_than_the_maximum() {
    let g = people_graph(3000);
    let dp = worker(&g, &["--max-query-timeout-ms", "60000"]);
    let started = Instant::now();
    let (status, body) = read(&dp, CARTESIAN_COUNT, json!({ "timeout_ms": 300 }));
    envelope(status, &body, 408, "query_timeout");
    assert!(
        body["error"].as_str().unwrap_or("").contains("300 ms"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = read(&dp, CARTESIAN_COUNT, json!({ "timeout_ms": 60001 }));
    envelope(status, &body, 400, "bad_request");
    assert!(
        body["error"].as_str().unwrap_or("").contains("60000 ms"),
        "{body}"
    );
    let (status, body) = read(&dp, CARTESIAN_COUNT, json!({ "timeout_ms": 0 }));
    envelope(status, &body, 400, "bad_request");
    let (status, body) = read(&dp, CARTESIAN_COUNT, json!({ "timeout_ms": "soon" }));
    envelope(status, &body, 400, "bad_request");
}

#[test]
fn reads_without_limit_and_reads_that_hold_too_many_rows_are_refused() {
    let g = people_graph(300);
    let dp = worker(
        &g,
        &[
            "--max-result-rows-without-limit",
            "100",
            "--max-query-rows",
            "1000",
        ],
    );
    let all = "query q() { match { $p: Person } return { $p.name } }";
    let (status, body) = read(&dp, all, json!({}));
    envelope(status, &body, 422, "result_too_large");
    assert!(
        body["error"].as_str().unwrap_or("").contains("100 rows"),
        "{body}"
    );
    // Ordered, and aggregated by a key, the same cap.
    let ordered = "query q() { match { $p: Person } return { $p.name } order { $p.name } }";
    envelope_of(read(&dp, ordered, json!({})), 422, "result_too_large");
    // With a limit the read answers.
    let limited =
        "query q() { match { $p: Person } return { $p.name } order { $p.name } limit 150 }";
    let (status, body) = read(&dp, limited, json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["row_count"], 150);
    // 90,000 pairs to hold, over the row budget of 1,000: with and without order.
    let pairs =
        "query q() { match { $a: Person $b: Person } return { $a.name, $b.name } limit 50000 }";
    let (status, body) = read(&dp, pairs, json!({}));
    envelope(status, &body, 422, "row_budget_exceeded");
    assert!(
        body["error"].as_str().unwrap_or("").contains("1000 rows"),
        "{body}"
    );
    let sorted_pairs = "query q() { match { $a: Person $b: Person } return { $a.name, $b.name } order { $b.name desc } limit 50000 }";
    envelope_of(
        read(&dp, sorted_pairs, json!({})),
        422,
        "row_budget_exceeded",
    );
    let groups = "query q() { match { $a: Person $b: Person } return { $a.name, $b.name, count($a) as n } limit 50000 }";
    envelope_of(read(&dp, groups, json!({})), 422, "row_budget_exceeded");
    // A count over all pairs holds one group: it answers.
    let count = "query q() { match { $a: Person $b: Person } return { count($a) as n } }";
    let (status, body) = read(&dp, count, json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([{ "n": 90000 }]));
}

fn envelope_of((status, body): (u16, Value), expected: u16, code: &str) {
    envelope(status, &body, expected, code);
}

#[test]
fn reads_over_the_worker_cap_get_429_with_retry_after() {
    let g = people_graph(3000);
    let dp = worker(
        &g,
        &["--max-concurrent-reads", "1", "--query-timeout-ms", "3000"],
    );
    let url = dp.url.clone();
    let runaway = std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(format!("{url}/read"))
            .json(&json!({ "query_source": CARTESIAN_COUNT }))
            .send()
            .expect("runaway answered")
            .status()
            .as_u16()
    });
    std::thread::sleep(Duration::from_millis(500));
    let r = dp
        .client()
        .post(format!("{}/read", dp.url))
        .json(&json!({ "query_source": "query q() { match { $p: Person { name: \"p1\" } } return { $p.age } }" }))
        .send()
        .expect("send");
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = r.json().expect("json");
    envelope(429, &body, 429, "too_many_reads");
    assert_eq!(runaway.join().expect("runaway"), 408);
    // The slot came back.
    point_read(&dp, "p1");
}
