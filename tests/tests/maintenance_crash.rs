//! A worker killed in the middle of maintenance (issue 21): the crash points of the engine
//! (shared/storage/src/crash_point.rs, built with `--features
//! omnigraph-data-plane/failpoints`, what ./dev.sh test builds) abort the process after a
//! compaction wrote a table's new data and before the graph version naming it is
//! published, after a cleanup deleted the graph versions it reclaims, and after it deleted
//! some of their files. Restarted without the crash point, every retained version still
//! reads (by commit id and by version, with its row count), the tagged one too, and the
//! next round completes.

use std::collections::BTreeMap;
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const COUNT: &str = "query q() { match { $p: Person } return { count($p) as n } }";

fn worker(g: &TempGraph, failpoint: Option<&str>) -> DataPlane {
    let mut env = vec![
        ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "0".to_string()),
        ("OMNIGRAPH_RETENTION_DAYS", "0".to_string()),
        ("OMNIGRAPH_KEEP_VERSIONS", "4".to_string()),
        ("OMNIGRAPH_CLEANUP_GRACE_SECS", "1".to_string()),
        ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "2".to_string()),
    ];
    if let Some(point) = failpoint {
        env.push(("FAILPOINTS", format!("{point}=abort")));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    DataPlane::single_mode(g, "", &["--unauthenticated"], &env)
}

fn count_at(dp: &DataPlane, version: u64) -> (u16, Value) {
    dp.post(
        "/read",
        &json!({"query_source": COUNT, "snapshot": version}),
        None,
    )
}

fn count(body: &Value) -> u64 {
    body["rows"][0]["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("{body}"))
}

/// The commits of main that are still there (history ends at the oldest kept one).
fn commits(dp: &DataPlane) -> Vec<(String, u64)> {
    let (s, b) = dp.get("/commits?limit=10000", None);
    assert_eq!(s, 200, "{b}");
    b["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| {
            (
                c["commit_id"].as_str().unwrap_or_default().to_owned(),
                c["manifest_version"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Every retained commit reads, by id and at its version, with the row count it had.
fn check_retained(dp: &DataPlane, counts: &BTreeMap<u64, u64>, head_count: u64, point: &str) {
    let retained = commits(dp);
    assert!(!retained.is_empty(), "{point}");
    for (id, version) in &retained {
        let (s, b) = dp.get(&format!("/commits/{id}"), None);
        assert_eq!(s, 200, "{point}: commit {id}: {b}");
        let (s, b) = count_at(dp, *version);
        assert_eq!(s, 200, "{point}: version {version}: {b}");
        // A compaction's version holds its parent's rows.
        let expected = counts.get(version).copied().unwrap_or(head_count);
        assert_eq!(count(&b), expected, "{point}: rows at version {version}");
    }
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "kept"}),
        None,
    );
    assert_eq!(s, 200, "{point}: the tag: {b}");
    let tagged = counts.get(&3).copied().unwrap_or_default();
    assert_eq!(count(&b), tagged, "{point}: rows at the tag");
}

#[test]
fn a_worker_killed_mid_maintenance_leaves_every_retained_version_readable() {
    for point in [
        "compact:table-written",
        "cleanup:versions-deleted",
        "cleanup:files-deleted",
    ] {
        let g = TempGraph::social();
        let mut dp = worker(&g, Some(point));
        // Versions 3.. : one person each; version 3 tagged.
        let n = 10;
        for i in 0..n {
            let (s, b) = dp.post(
                "/change",
                &json!({
                    "query_source": "query add($n: String) { insert Person { name: $n } }",
                    "params": {"n": format!("p{i:02}")}
                }),
                None,
            );
            assert_eq!(s, 200, "{point}: {b}");
        }
        let (s, b) = dp.post("/tags", &json!({"name": "kept", "commit": "main.3"}), None);
        assert_eq!(s, 201, "{point}: {b}");
        let mut counts = BTreeMap::new();
        for (_, version) in commits(&dp) {
            let (s, b) = count_at(&dp, version);
            assert_eq!(s, 200, "{point}: {b}");
            counts.insert(version, count(&b));
        }
        let head_count = counts.values().max().copied().unwrap_or_default();
        // The files of the old versions must be past the cleanup's grace (1 s).
        std::thread::sleep(Duration::from_millis(1500));

        let answer = dp
            .client()
            .post(format!("{}/maintenance", dp.url))
            .header("content-type", "application/json")
            .body("{}")
            .send();
        assert!(
            answer.is_err(),
            "{point}: the worker answered instead of crashing ({:?}); is it built with --features omnigraph-data-plane/failpoints?",
            answer.map(|r| r.status())
        );
        assert!(
            dp.wait_exit(Duration::from_secs(10)).is_some(),
            "{point}: the worker still runs"
        );
        assert!(
            dp.log().contains(&format!("{point}: aborting here")),
            "{point}: {}",
            dp.log()
        );
        dp.kill();

        let dp = worker(&g, None);
        check_retained(&dp, &counts, head_count, point);
        // The next round completes, and everything still reads.
        std::thread::sleep(Duration::from_millis(1100));
        let (s, b) = dp.post("/maintenance", &json!({}), None);
        assert_eq!(s, 200, "{point}: {b}");
        assert!(b["cleanup"]["files_deleted"].is_u64(), "{point}: {b}");
        check_retained(&dp, &counts, head_count, point);
        let (s, b) = dp.post("/read", &json!({"query_source": COUNT}), None);
        assert_eq!((s, count(&b)), (200, head_count), "{point}: {b}");
        let (s, b) = dp.post("/maintenance", &json!({}), None);
        assert_eq!(s, 200, "{point}: {b}");
        assert_eq!(
            b["compactions"][0]["tables"],
            json!([]),
            "{point}: nothing left to compact: {b}"
        );
    }
}
