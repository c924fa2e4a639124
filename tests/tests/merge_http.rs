//! `POST /branches/merge` against real worker processes: each outcome, conflicts as 409
//! `merge_conflicts` that change nothing, the error codes, Cedar's `branch_merge` with a
//! protected target, and concurrent merges into main through two workers.

use omnigraph_e2e::*;
use serde_json::{json, Value};

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name, $p.age } order { $p.name asc } }";
const ADD: &str =
    "query add($name: String, $age: I32) { insert Person { name: $name, age: $age } }";

fn add(dp: &DataPlane, branch: &str, name: &str, age: u32, token: Option<&str>) {
    let (s, b) = dp.post(
        "/change",
        &json!({ "query_source": ADD, "params": { "name": name, "age": age }, "branch": branch }),
        token,
    );
    assert_eq!(s, 200, "{b}");
}

fn people(dp: &DataPlane, branch: &str) -> Vec<String> {
    let (s, b) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": branch }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    b["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{}:{}", r["p.name"].as_str().unwrap_or(""), r["p.age"]))
        .collect()
}

fn merge(dp: &DataPlane, source: &str, token: Option<&str>) -> (u16, Value) {
    dp.post("/branches/merge", &json!({ "source": source }), token)
}

#[test]
fn merge_outcomes_and_conflicts_over_http() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, b) = dp.post("/branches", &json!({ "name": "dev" }), None);
    assert_eq!(s, 201, "{b}");

    let (s, b) = merge(&dp, "dev", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["outcome"], "up_to_date");

    add(&dp, "dev", "Ann", 1, None);
    let (s, ff) = merge(&dp, "dev", None);
    assert_eq!(s, 200, "{ff}");
    assert_eq!(ff["outcome"], "fast_forward");
    assert_eq!(ff["target"], "main");
    assert_eq!(ff["tables_changed"], json!(["node:Person"]));
    assert_eq!(people(&dp, "main"), ["Ann:1"]);
    let (s, commit) = dp.get(
        &format!("/commits/{}", ff["commit_id"].as_str().unwrap_or("")),
        None,
    );
    assert_eq!(s, 200, "{commit}");
    assert_eq!(
        commit["parents"].as_array().map(Vec::len),
        Some(2),
        "{commit}"
    );

    add(&dp, "dev", "Bea", 2, None);
    add(&dp, "main", "Cid", 3, None);
    let (s, b) = merge(&dp, "dev", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["outcome"], "merged");
    assert_eq!(b["base_commit"], commit["parents"][1]);
    assert_eq!(people(&dp, "main"), ["Ann:1", "Bea:2", "Cid:3"]);

    // The same new key with different values on both sides: 409, nothing written.
    add(&dp, "dev", "Dee", 4, None);
    add(&dp, "main", "Dee", 5, None);
    let (_, before) = dp.get("/snapshot", None);
    let (s, b) = merge(&dp, "dev", None);
    envelope(s, &b, 409, "conflict");
    let conflicts = b["merge_conflicts"].as_array().expect("merge_conflicts");
    assert_eq!(conflicts.len(), 1, "{b}");
    assert_eq!(conflicts[0]["kind"], "divergent_insert");
    assert_eq!(conflicts[0]["key"], "Dee");
    assert_eq!(conflicts[0]["table_key"], "node:Person");
    let (_, after) = dp.get("/snapshot", None);
    assert_eq!(before, after, "a refused merge changes nothing");
}

#[test]
fn a_row_breaking_a_rule_main_tightened_is_a_value_constraint_violation() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, b) = dp.post("/branches", &json!({ "name": "dev" }), None);
    assert_eq!(s, 201, "{b}");
    add(&dp, "dev", "Zed", 120, None);
    let tightened = std::fs::read_to_string(fixture("social.pg"))
        .expect("fixture")
        .replace("@range(age, 0..150)", "@range(age, 0..100)");
    let (s, b) = dp.post(
        "/schema/apply",
        &json!({ "schema_source": tightened }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = merge(&dp, "dev", None);
    envelope(s, &b, 409, "conflict");
    assert_eq!(
        b["merge_conflicts"][0]["kind"], "value_constraint_violation",
        "{b}"
    );
    assert_eq!(b["merge_conflicts"][0]["key"], "Zed", "{b}");
    assert!(people(&dp, "main").is_empty());
}

#[test]
fn merge_error_codes() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, b) = dp.post("/branches", &json!({ "name": "dev" }), None);
    assert_eq!(s, 201, "{b}");
    let (s, b) = dp.post_raw("/branches/merge", "{not json".into(), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post("/branches/merge", &json!({ "target": "main" }), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post("/branches/merge", &json!({ "source": "main" }), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post("/branches/merge", &json!({ "source": "bad name" }), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post("/branches/merge", &json!({ "source": "nowhere" }), None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post(
        "/branches/merge",
        &json!({ "source": "dev", "target": "nowhere" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.get("/branches/merge", None);
    envelope(s, &b, 405, "method_not_allowed");
}

const POLICY: &str = "version: 1
groups:
  agents: [act-agent]
  admins: [act-admin]
protected_branches: [main]
rules:
  - id: agents-work-on-branches
    allow: { actors: { group: agents }, actions: [read, change], branch_scope: any }
  - id: agents-merge-unprotected
    allow: { actors: { group: agents }, actions: [branch_create, branch_merge], target_branch_scope: unprotected }
  - id: admins-merge-protected
    allow: { actors: { group: admins }, actions: [branch_merge], target_branch_scope: protected }
  - id: admins-read-what-they-merge
    allow: { actors: { group: admins }, actions: [read], branch_scope: any }
";
const TOKENS: &str =
    r#"{"act-agent": "agent-token-0123456789", "act-admin": "admin-token-0123456789"}"#;
const AGENT: Option<&str> = Some("agent-token-0123456789");
const ADMIN_TOKEN: Option<&str> = Some("admin-token-0123456789");

#[test]
fn only_admins_merge_into_the_protected_main() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_with_policy(&g, POLICY, TOKENS);
    for name in ["agent/a", "agent/b"] {
        let (s, b) = dp.post("/branches", &json!({ "name": name }), AGENT);
        assert_eq!(s, 201, "{b}");
    }
    add(&dp, "agent/a", "Ann", 1, AGENT);
    // Into another unprotected branch: allowed.
    let (s, b) = dp.post(
        "/branches/merge",
        &json!({ "source": "agent/a", "target": "agent/b" }),
        AGENT,
    );
    assert_eq!(s, 200, "{b}");
    // Into main: the agent is refused, the admin is not.
    let (s, b) = merge(&dp, "agent/a", AGENT);
    envelope(s, &b, 403, "forbidden");
    assert!(
        b["error"]
            .as_str()
            .is_some_and(|e| e.contains("branch_merge")),
        "{b}"
    );
    let (s, b) = merge(&dp, "agent/a", ADMIN_TOKEN);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["actor_id"], "act-admin");
}

#[test]
fn concurrent_merges_into_main_through_two_workers_lose_nothing() {
    let g = TempGraph::new("social.pg");
    let config = g.dir.path().join("omnigraph.yaml");
    std::fs::write(&config, format!("graph:\n  uri: {}\n", g.store)).expect("config");
    let workers = [
        DataPlane::with_config(&config, &["--unauthenticated"], &[]),
        DataPlane::with_config(&config, &["--unauthenticated"], &[]),
    ];
    let mut expected = vec![];
    let mut conflicts = 0;
    for round in 0..3 {
        add(&workers[0], "main", &format!("main{round}"), round, None);
        expected.push(format!("main{round}:{round}"));
        let branches = [format!("r{round}a"), format!("r{round}b")];
        for (i, b) in branches.iter().enumerate() {
            let (s, body) = workers[i].post("/branches", &json!({ "name": b }), None);
            assert_eq!(s, 201, "{body}");
            add(&workers[i], b, b, 100 + round, None);
            expected.push(format!("{b}:{}", 100 + round));
        }
        // Both workers merge at once; a loser answers 409 and merges again.
        std::thread::scope(|scope| {
            let handles: Vec<_> = workers
                .iter()
                .zip(&branches)
                .map(|(w, b)| {
                    scope.spawn(move || {
                        let mut seen = 0;
                        loop {
                            let (s, body) = merge(w, b, None);
                            match s {
                                200 => return seen,
                                409 if body.get("manifest_conflict").is_some() => seen += 1,
                                _ => panic!("merge of {b}: {s} {body}"),
                            }
                            assert!(seen < 10, "merge of {b} kept conflicting");
                        }
                    })
                })
                .collect();
            for h in handles {
                conflicts += h.join().expect("merge thread");
            }
        });
    }
    expected.sort();
    assert_eq!(people(&workers[0], "main"), expected);
    assert_eq!(people(&workers[1], "main"), expected);
    eprintln!("concurrent merges: {conflicts} conflict(s) retried in 3 rounds");
}
