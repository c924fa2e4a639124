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
    let g = TempGraph::social();
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
                // Published, gave way to the writers, or found nothing left to do (the
                // worker was first): never an error.
                let gave_way = out["gave_way"] == json!(true);
                let nothing = out["tables"] == json!([]) && out["version"].is_null();
                assert!(out["version"].is_u64() || gave_way || nothing, "{out}");
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
        eprintln!("the compact process published {published} of 6 times");
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
    let g = TempGraph::social();
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

const MAINTAIN_POLICY: &str = "version: 1
groups:
  admins: [act-admin]
  writers: [act-writer]
rules:
  - id: everyone-reads-and-writes
    allow: { actors: { group: writers }, actions: [read, change], branch_scope: any }
  - id: admins-read-and-write
    allow: { actors: { group: admins }, actions: [read, change], branch_scope: any }
  - id: admins-maintain
    allow: { actors: { group: admins }, actions: [maintain] }
";
const MAINTAIN_TOKENS: &str =
    r#"{"act-admin": "admin-token-0123456789", "act-writer": "writer-token-0123456789"}"#;

#[test]
fn post_maintenance_compacts_now_for_those_allowed_to_maintain() {
    let g = TempGraph::new("social.pg");
    let _ = g.write_file("p.yaml", MAINTAIN_POLICY);
    let dp = DataPlane::single_mode(
        &g,
        "  policy: { file: p.yaml }\n",
        &[],
        &[
            ("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", MAINTAIN_TOKENS),
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "0"),
            ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "4"),
        ],
    );
    let writer = Some("writer-token-0123456789");
    let admin = Some("admin-token-0123456789");
    for i in 0..6 {
        let (s, body) = dp.post(
            "/change",
            &json!({
                "query_source": "query add($n: String) { insert Person { name: $n } }",
                "params": {"n": format!("m{i}")}
            }),
            writer,
        );
        assert_eq!(s, 200, "{body}");
    }
    // A writer may not maintain; a bad body and an unknown branch are refused.
    let (s, body) = dp.post("/maintenance", &json!({}), writer);
    envelope(s, &body, 403, "forbidden");
    let (s, body) = dp.post_raw("/maintenance", "{\"branch\": 3}".to_string(), admin);
    envelope(s, &body, 400, "bad_request");
    let (s, body) = dp.post("/maintenance", &json!({"branch": "nope"}), admin);
    envelope(s, &body, 404, "not_found");

    let (s, body) = dp.post("/maintenance", &json!({"cleanup": false}), admin);
    assert_eq!(s, 200, "{body}");
    let main = &body["compactions"][0];
    assert_eq!(main["branch"], "main", "{body}");
    assert!(main["manifest_version"].is_u64(), "{body}");
    let tables: Vec<&str> = main["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["table_key"].as_str())
        .collect();
    assert!(tables.contains(&"node:Person"), "{body}");
    assert!(body.get("cleanup").is_none(), "{body}");
    // Done: a second run has nothing to compact; cleanup runs with the worker's retention.
    let (s, body) = dp.post("/maintenance", &json!({}), admin);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["compactions"][0]["tables"], json!([]), "{body}");
    assert!(body["cleanup"]["files_deleted"].is_u64(), "{body}");
    let (s, body) = dp.post(
        "/read",
        &json!({"query_source": "query q() { match { $p: Person { name: \"m5\" } } return { $p.name } }"}),
        writer,
    );
    assert_eq!((s, body["rows"].clone()), (200, json!([{"p.name": "m5"}])));
}

/// Two workers serve one graph: only the holder of the graph's maintenance lease maintains
/// it; killed with SIGKILL, its lease runs out and the other worker takes over.
#[test]
fn one_worker_holds_the_maintenance_lease_and_another_takes_over_after_a_kill() {
    let g = TempGraph::new("social.pg");
    let config = g.write_file("omnigraph.yaml", &format!("graph:\n  uri: {}\n", g.store));
    let env = [
        ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "1"),
        // Long enough for a round under a loaded S3 test server; the holder renews it
        // each round (and between compaction and cleanup).
        ("OMNIGRAPH_MAINTENANCE_LEASE_SECS", "10"),
        ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "4"),
    ];
    let start = |id: &str| {
        DataPlane::with_config(
            std::path::Path::new(&config),
            &["--unauthenticated", "--worker-id", id],
            &env,
        )
    };
    let mut a = start("worker-a");
    let mut b = start("worker-b");
    let write = |dp: &DataPlane, name: String| {
        let (s, body) = dp.post(
            "/change",
            &json!({
                "query_source": "query add($n: String) { insert Person { name: $n } }",
                "params": {"n": name}
            }),
            None,
        );
        assert_eq!(s, 200, "{body}");
    };
    // Both workers open the graph (maintenance runs on opened graphs only).
    write(&a, "a-0".into());
    write(&b, "b-0".into());
    let held = eventually(Duration::from_secs(20), || lease_holder(&g.store).is_some());
    assert!(held, "no worker took the lease");
    let holder = lease_holder(&g.store).expect("holder");
    // While the holder lives, the lease stays with it, round after round.
    for i in 1..6 {
        write(&a, format!("a-{i}"));
        write(&b, format!("b-{i}"));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(lease_holder(&g.store).as_deref(), Some(holder.as_str()));
    }
    // Kill -9 the holder: the other takes the lease once it runs out, and maintains.
    let (survivor, survivor_id) = if holder == "worker-a" {
        a.kill();
        (&b, "worker-b")
    } else {
        b.kill();
        (&a, "worker-a")
    };
    for i in 0..8 {
        write(survivor, format!("after-{i}"));
    }
    let taken = eventually(Duration::from_secs(60), || {
        lease_holder(&g.store).as_deref() == Some(survivor_id)
    });
    assert!(
        taken,
        "the lease stayed with the killed worker: {:?}",
        lease_holder(&g.store)
    );
    let compacted = eventually(Duration::from_secs(30), || {
        commits(&g)
            .first()
            .is_some_and(|c| c["actor"] == "maintenance")
    });
    assert!(
        compacted,
        "the survivor did not maintain: {:?}",
        commits(&g)
    );
}

/// The control plane shows who maintains a graph and what its latest round did.
#[test]
fn the_control_plane_shows_the_maintenance_state_of_a_graph() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let (s, b) = cp.create_graph("aged", &cp.graph_uri("aged.omni"), None);
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp.get("/graphs/aged", None);
    assert_eq!(s, 200, "{b}");
    assert!(b.get("maintenance").is_none(), "never maintained yet: {b}");
    let w = DataPlane::start(
        &[
            "--control-plane",
            &cp.url,
            "--worker-id",
            "keeper",
            "--unauthenticated",
        ],
        &[
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "1"),
            ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "4"),
        ],
    );
    let served = eventually(Duration::from_secs(5), || {
        w.get("/graphs/aged/snapshot", None).0 == 200
    });
    assert!(served, "{}", w.log());
    for i in 0..6 {
        let (s, body) = w.post(
            "/graphs/aged/ingest",
            &json!({"data": format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"n{i}\"}}}}\n"), "mode": "append"}),
            None,
        );
        assert_eq!(s, 200, "{body}");
    }
    let shown = eventually(Duration::from_secs(30), || {
        let (_, b) = cp.get("/graphs/aged", None);
        b["maintenance"]["last_run"]["compactions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|r| r["manifest_version"].is_u64()))
    });
    let (_, b) = cp.get("/graphs/aged", None);
    assert!(shown, "no compaction shown: {b}");
    assert_eq!(b["maintenance"]["lease_holder"], "keeper", "{b}");
    assert_eq!(b["maintenance"]["last_run"]["worker_id"], "keeper", "{b}");
    assert!(b["maintenance"]["lease_expires_at"].is_string(), "{b}");
}

/// Two worker processes on one graph: one takes single-row writes without pause while the
/// other runs `POST /maintenance` (compaction and cleanup) round after round. No write is
/// refused, and every acknowledged row is there afterwards, read through either worker.
#[test]
fn writes_through_one_worker_while_another_maintains_are_never_refused_nor_lost() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let g = TempGraph::social();
    let config = g.write_file("omnigraph.yaml", &format!("graph:\n  uri: {}\n", g.store));
    let env = [
        ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "0"),
        ("OMNIGRAPH_RETENTION_DAYS", "0"),
        ("OMNIGRAPH_KEEP_VERSIONS", "5"),
        // Longer than any write takes on a loaded machine: its files are never collected
        // before it publishes. Graph versions younger than it are kept too, so the writes
        // are spread over twice as long (below) for cleanup to find older ones beside them.
        ("OMNIGRAPH_CLEANUP_GRACE_SECS", "3"),
        ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "2"),
    ];
    let start = |id: &str| {
        DataPlane::with_config(
            std::path::Path::new(&config),
            &["--unauthenticated", "--worker-id", id],
            &env,
        )
    };
    let writer = start("writer");
    let maintainer = start("maintainer");
    let done = AtomicBool::new(false);
    let writes = 60;
    let (acknowledged, rounds) = std::thread::scope(|scope| {
        let rounds = scope.spawn(|| {
            let mut published = 0;
            let mut deleted = 0;
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) {
                let (s, b) = maintainer.post("/maintenance", &json!({}), None);
                assert_eq!(s, 200, "maintenance beside writes: {b}");
                rounds += 1;
                if b["compactions"][0]["manifest_version"].is_u64() {
                    published += 1;
                }
                deleted += b["cleanup"]["graph_versions_deleted"].as_u64().unwrap_or(0);
                std::thread::sleep(Duration::from_millis(100));
            }
            (rounds, published, deleted)
        });
        let mut acknowledged = Vec::new();
        for i in 0..writes {
            let name = format!("w{i:03}");
            let (s, b) = writer.post(
                "/change",
                &json!({
                    "query_source": "query add($n: String) { insert Person { name: $n } }",
                    "params": {"n": name}
                }),
                None,
            );
            assert_eq!(s, 200, "write {i} beside maintenance: {b}");
            acknowledged.push(name);
            std::thread::sleep(Duration::from_millis(100));
        }
        done.store(true, Ordering::Release);
        (acknowledged, rounds.join().expect("maintenance thread"))
    });
    let (rounds, published, deleted) = rounds;
    // A compaction that a write beat to the publish plans again, then gives way: under
    // writes without a pause it may never publish; cleanup always runs.
    eprintln!("{rounds} maintenance rounds: {published} compactions published, {deleted} graph versions deleted");
    assert!(deleted > 0, "no version was cleaned up beside the writes");
    // Once more after the last write: it compacts; then every acknowledged row is there.
    let (s, b) = maintainer.post("/maintenance", &json!({}), None);
    assert_eq!(s, 200, "{b}");
    assert!(
        published > 0 || b["compactions"][0]["manifest_version"].is_u64(),
        "never compacted: {b}"
    );
    let social_people = std::fs::read_to_string(fixture("social.jsonl"))
        .expect("social.jsonl")
        .lines()
        .filter(|l| l.contains("\"Person\""))
        .count();
    for dp in [&writer, &maintainer] {
        let (s, body) = dp.post(
            "/read",
            &json!({"query_source": "query q() { match { $p: Person } return { $p.name } }"}),
            None,
        );
        assert_eq!(s, 200, "{body}");
        let names = person_names(&body);
        for name in &acknowledged {
            assert!(names.contains(name), "acknowledged {name} is missing");
        }
        assert_eq!(names.len(), social_people + acknowledged.len());
    }
}

/// Eight single-row inserts through a worker whose timed rounds are hours apart; whether
/// a maintenance commit is on top within `wait`.
fn compacted_after_writes(triggers: &[(&str, &str)], wait: Duration) -> bool {
    let g = TempGraph::social();
    let mut env = vec![
        ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "36000"),
        ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "4"),
    ];
    env.extend_from_slice(triggers);
    let dp = DataPlane::single_mode(&g, "", &["--unauthenticated"], &env);
    for i in 0..8 {
        let (s, body) = dp.post(
            "/change",
            &json!({
                "query_source": "query add($n: String) { insert Person { name: $n, age: 30 } }",
                "params": {"n": format!("t{i}")}
            }),
            None,
        );
        assert_eq!(s, 200, "{body}");
    }
    eventually(wait, || {
        commits(&g)
            .first()
            .is_some_and(|c| c["actor"] == "maintenance")
    })
}

#[test]
fn writes_that_leave_a_table_with_many_fragments_start_a_maintenance_round_at_once() {
    // The fixture's Person table has one fragment; eight inserts make nine.
    assert!(
        compacted_after_writes(
            &[
                ("OMNIGRAPH_COMPACT_AT_FRAGMENTS", "6"),
                ("OMNIGRAPH_MAINTAIN_EVERY_VERSIONS", "0")
            ],
            Duration::from_secs(20)
        ),
        "no maintenance round after a table crossed 6 fragments"
    );
    // The version count starts a round too.
    assert!(
        compacted_after_writes(
            &[
                ("OMNIGRAPH_COMPACT_AT_FRAGMENTS", "0"),
                ("OMNIGRAPH_MAINTAIN_EVERY_VERSIONS", "5")
            ],
            Duration::from_secs(20)
        ),
        "no maintenance round after 5 versions"
    );
    // With both triggers off, the same writes wait for the timed round.
    assert!(
        !compacted_after_writes(
            &[
                ("OMNIGRAPH_COMPACT_AT_FRAGMENTS", "0"),
                ("OMNIGRAPH_MAINTAIN_EVERY_VERSIONS", "0")
            ],
            Duration::from_secs(3)
        ),
        "a maintenance round ran with both triggers off"
    );
}
