//! Forking or merging a branch reads it: `branch_create` (and a load that creates its
//! branch with `from`) and `branch_merge` check `read` on the source branch, so an actor
//! allowed only its own branches cannot copy a branch it may not read.

use omnigraph_e2e::*;
use serde_json::json;

const POLICY: &str = "version: 1
groups:
  agents: [act-agent]
  admins: [act-admin]
protected_branches: [main]
rules:
  - id: agents-read-and-write-their-branches
    allow: { actors: { group: agents }, actions: [read, change], branch_scope: unprotected }
  - id: agents-branch-unprotected
    allow: { actors: { group: agents }, actions: [branch_create, branch_merge], target_branch_scope: unprotected }
  - id: admins-read-and-write
    allow: { actors: { group: admins }, actions: [read, change], branch_scope: any }
  - id: admins-branches
    allow: { actors: { group: admins }, actions: [branch_create, branch_delete, branch_merge] }
";
const TOKENS: &str =
    r#"{"act-agent": "agent-token-0123456789", "act-admin": "admin-token-0123456789"}"#;
const AGENT: Option<&str> = Some("agent-token-0123456789");
const ADMIN: Option<&str> = Some("admin-token-0123456789");

#[test]
fn forks_and_merges_need_read_on_the_source_branch() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_with_policy(&g, POLICY, TOKENS);
    let secret = "{\"type\": \"Person\", \"data\": {\"name\": \"Secret\"}}\n";
    let (s, b) = dp.post("/ingest", &json!({ "data": secret }), ADMIN);
    assert_eq!(s, 200, "{b}");
    // The agent may not read main ...
    let read_main =
        json!({ "query_source": "query q() { match { $p: Person } return { $p.name } }" });
    let (s, b) = dp.post("/read", &read_main, AGENT);
    envelope(s, &b, 403, "forbidden");
    // ... so it may not fork it, by either route.
    let (s, b) = dp.post("/branches", &json!({ "name": "agent/copy" }), AGENT);
    envelope(s, &b, 403, "forbidden");
    assert!(b["error"].as_str().unwrap_or("").contains("read"), "{b}");
    let line = "{\"type\": \"Person\", \"data\": {\"name\": \"Agent\"}}\n";
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "agent/copy2", "from": "main" }),
        AGENT,
    );
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.get("/branches", ADMIN);
    assert_eq!(s, 200, "{b}");
    let names: Vec<&str> = b["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["main"], "nothing was forked");
    // Nor merge main into a branch it may write.
    let (s, b) = dp.post(
        "/branches",
        &json!({ "name": "agent/mine", "from": "main" }),
        ADMIN,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": secret.replace("Secret", "Later") }),
        ADMIN,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post(
        "/branches/merge",
        &json!({ "source": "main", "target": "agent/mine" }),
        AGENT,
    );
    envelope(s, &b, 403, "forbidden");
    // What it may read, it may fork and merge.
    let (s, b) = dp.post(
        "/branches",
        &json!({ "name": "agent/fork", "from": "agent/mine" }),
        AGENT,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "agent/fork" }),
        AGENT,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post(
        "/branches/merge",
        &json!({ "source": "agent/fork", "target": "agent/mine" }),
        AGENT,
    );
    assert_eq!(s, 200, "{b}");
}
