//! Maintenance run by the servers (issue 21; shared/engine/src/maintenance.rs,
//! data-plane/src/server/maintenance.rs): a worker compacts the graphs it serves by itself,
//! beside live writes, and neither it nor a `compact` run from another process ever makes
//! a user's write fail.

use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

fn commits(g: &TempGraph) -> Vec<Value> {
    let out = dp_json(&["commits", "--store", &g.store, "--json"]);
    out["commits"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_worker_compacts_by_itself_and_no_write_is_refused() {
    let g = TempGraph::new("social.pg");
    dp_ok(&[
        "load",
        "--data",
        fixture("social.jsonl").to_str().unwrap(),
        "--mode",
        "overwrite",
        "--store",
        &g.store,
    ]);
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "1"),
            ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "4"),
        ],
    );
    // Writes through the worker while its maintenance runs, and while another process
    // compacts the same graph.
    let n = 40;
    std::thread::scope(|scope| {
        let compactor = scope.spawn(|| {
            let mut published = 0;
            for _ in 0..6 {
                std::thread::sleep(Duration::from_millis(300));
                let out = dp_json(&[
                    "compact",
                    "--store",
                    &g.store,
                    "--min-fragments",
                    "2",
                    "--json",
                ]);
                if out["version"].is_u64() {
                    published += 1;
                }
            }
            published
        });
        for i in 0..n {
            let (s, body) = dp.post(
                "/change",
                &json!({
                    "query_source": "query add($n: String) { insert Person { name: $n, age: 30 } }",
                    "params": {"n": format!("w{i:03}")}
                }),
                None,
            );
            assert_eq!(s, 200, "write {i} beside maintenance: {body}");
        }
        let published = compactor.join().expect("compactor thread");
        assert!(published > 0, "the other process compacted at least once");
    });

    // The worker's own maintenance catches up after the last write: a commit by
    // `maintenance` on top, and nothing left for anyone to compact.
    let caught_up = eventually(Duration::from_secs(30), || {
        commits(&g)
            .first()
            .is_some_and(|c| c["actor"] == "maintenance")
    });
    assert!(caught_up, "no maintenance commit on top: {:?}", commits(&g));
    let out = dp_json(&[
        "compact",
        "--store",
        &g.store,
        "--min-fragments",
        "4",
        "--json",
    ]);
    assert_eq!(out["tables"], json!([]), "{out}");

    // Every row is there.
    let (s, body) = dp.post(
        "/read",
        &json!({"query_source": "query q() { match { $p: Person } return { count($p) as n } }"}),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let social_people = std::fs::read_to_string(fixture("social.jsonl"))
        .expect("social.jsonl")
        .lines()
        .filter(|l| l.contains("\"Person\""))
        .count();
    assert_eq!(body["rows"][0]["n"], json!(social_people + n));
}

#[test]
fn a_worker_deletes_old_versions_and_a_read_of_one_is_410() {
    let g = TempGraph::new("social.pg");
    dp_ok(&[
        "load",
        "--data",
        fixture("social.jsonl").to_str().unwrap(),
        "--mode",
        "overwrite",
        "--store",
        &g.store,
    ]);
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "1"),
            ("OMNIGRAPH_RETENTION_DAYS", "0"),
            ("OMNIGRAPH_KEEP_VERSIONS", "3"),
            ("OMNIGRAPH_CLEANUP_GRACE_SECS", "1"),
        ],
    );
    for i in 0..12 {
        let (s, body) = dp.post(
            "/change",
            &json!({
                "query_source": "query add($n: String) { insert Person { name: $n } }",
                "params": {"n": format!("v{i:02}")}
            }),
            None,
        );
        assert_eq!(s, 200, "{body}");
    }
    let read_at = |version: u64| {
        dp.post(
            "/read",
            &json!({
                "query_source": "query q() { match { $p: Person } return { count($p) as n } }",
                "snapshot": version
            }),
            None,
        )
    };
    let reclaimed = eventually(Duration::from_secs(30), || read_at(2).0 == 410);
    assert!(reclaimed, "version 2 was never reclaimed: {:?}", read_at(2));
    let (s, body) = read_at(2);
    envelope(s, &body, 410, "version_reclaimed");
    // A version that never existed is still a 404; the head reads as before.
    let (s, body) = read_at(10_000);
    envelope(s, &body, 404, "not_found");
    let (s, body) = dp.post(
        "/read",
        &json!({"query_source": "query q() { match { $p: Person } return { count($p) as n } }"}),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let people = std::fs::read_to_string(fixture("social.jsonl"))
        .expect("social.jsonl")
        .lines()
        .filter(|l| l.contains("\"Person\""))
        .count();
    assert_eq!(body["rows"][0]["n"], json!(people + 12));
    // History ends at the oldest kept version (once the round that reclaimed version 2 has
    // deleted the others too).
    let short = eventually(Duration::from_secs(30), || commits(&g).len() <= 5);
    assert!(short, "{:?}", commits(&g));
}
