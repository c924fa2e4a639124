//! Branches and commits over HTTP: a real worker process, `branch` on every graph route,
//! `GET/POST /branches`, `DELETE /branches/{branch}`, `GET /commits`,
//! `GET /commits/{commit_id}`, their error codes, and branch-scoped Cedar rules.

use omnigraph_e2e::*;
use serde_json::{json, Value};

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const ADD: &str = "query add($name: String) { insert Person { name: $name } }";

fn names_on(dp: &DataPlane, branch: Option<&str>, token: Option<&str>) -> Vec<String> {
    let mut req = json!({ "query_source": NAMES });
    if let Some(b) = branch {
        req["branch"] = json!(b);
    }
    let (s, body) = dp.post("/read", &req, token);
    assert_eq!(s, 200, "{body}");
    person_names(&body)
}

fn add_on(dp: &DataPlane, branch: &str, name: &str, token: Option<&str>) -> (u16, Value) {
    dp.post(
        "/change",
        &json!({ "query_source": ADD, "params": { "name": name }, "branch": branch }),
        token,
    )
}

#[test]
fn branch_routes_isolate_writes_and_record_history() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": "{\"type\": \"Person\", \"data\": {\"name\": \"Alice\"}}\n" }),
        None,
    );
    assert_eq!(s, 200, "{b}");

    // Create a branch with a slash in its name.
    let (s, created) = dp.post("/branches", &json!({ "name": "agent/alice" }), None);
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["name"], "agent/alice");
    let (_, snap) = dp.get("/snapshot", None);
    let main_head = format!("main.{}", snap["manifest_version"]);
    assert_eq!(created["forked_from"], main_head.as_str(), "{created}");
    assert_eq!(created["head_commit"], main_head.as_str(), "{created}");

    // A change on the branch is invisible on main, and the other way round.
    let (s, b) = add_on(&dp, "agent/alice", "Bob", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["branch"], "agent/alice");
    let (s, b) = add_on(&dp, "main", "Carol", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(names_on(&dp, Some("agent/alice"), None), ["Alice", "Bob"]);
    assert_eq!(names_on(&dp, None, None), ["Alice", "Carol"]);

    // Loads, snapshot, schema and export honour the branch too.
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": "{\"type\": \"Person\", \"data\": {\"name\": \"Dana\"}}\n", "branch": "agent/alice" }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["branch"], "agent/alice");
    let (s, snap) = dp.get("/snapshot?branch=agent/alice", None);
    assert_eq!(s, 200, "{snap}");
    assert_eq!(snap["branch"], "agent/alice");
    let person = snap["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table_key"] == "node:Person"))
        .cloned()
        .expect("person table");
    assert_eq!(person["row_count"], 3, "{snap}");
    let (s, schema) = dp.get("/schema?branch=agent%2Falice", None);
    assert_eq!(s, 200, "{schema}");
    assert!(schema["schema_source"]
        .as_str()
        .is_some_and(|t| t.contains("node Person")));
    let (s, export) = dp.post_text(
        "/export",
        json!({ "branch": "agent/alice", "types": ["Person"] }).to_string(),
        None,
    );
    assert_eq!(s, 200, "{export}");
    assert_eq!(export.lines().count(), 3, "{export}");
    assert!(
        export.contains("Dana") && !export.contains("Carol"),
        "{export}"
    );

    // A read at an older version of the branch.
    let (s, old) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": "agent/alice", "snapshot": created["manifest_version"] }),
        None,
    );
    assert_eq!(s, 200, "{old}");
    assert_eq!(old["row_count"], 1, "{old}");
    // Versions before the fork are the branch's history too (main's versions).
    let (s, before_fork) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": "agent/alice", "snapshot": 1 }),
        None,
    );
    assert_eq!(s, 200, "{before_fork}");
    assert_eq!(before_fork["row_count"], 0, "{before_fork}");

    // The list: main first, with heads.
    let (s, list) = dp.get("/branches", None);
    assert_eq!(s, 200, "{list}");
    let names: Vec<&str> = list["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["main", "agent/alice"]);
    assert_eq!(list["branches"][1]["created_by"], "anonymous");

    // History: newest first, two commits on the branch, then main's from the fork down.
    let (s, history) = dp.get("/commits?branch=agent/alice", None);
    assert_eq!(s, 200, "{history}");
    let commits = history["commits"].as_array().expect("commits");
    let head = list["branches"][1]["head_commit"].as_str().expect("head");
    assert_eq!(commits[0]["commit_id"], head);
    assert_eq!(commits[0]["parents"][0], commits[1]["commit_id"]);
    assert_eq!(commits[2]["commit_id"], main_head.as_str(), "{history}");
    let (s, limited) = dp.get("/commits?branch=agent/alice&limit=1", None);
    assert_eq!(s, 200, "{limited}");
    assert_eq!(limited["commits"].as_array().map(Vec::len), Some(1));
    let (s, one) = dp.get(&format!("/commits/{head}"), None);
    assert_eq!(s, 200, "{one}");
    assert_eq!(one, commits[0]);

    // Delete: the name goes, the commits stay readable by id.
    let (s, deleted) = dp.delete("/branches/agent%2Falice", None);
    assert_eq!(s, 200, "{deleted}");
    assert_eq!(deleted["head_commit"], head);
    let (s, b) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": "agent/alice" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, one) = dp.get(&format!("/commits/{head}"), None);
    assert_eq!(s, 200, "{one}");
    assert_eq!(names_on(&dp, None, None), ["Alice", "Carol"]);
}

#[test]
fn ingest_with_from_creates_the_branch_and_without_it_answers_404() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let line = "{\"type\": \"Person\", \"data\": {\"name\": \"Eve\"}}\n";
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "feature" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "feature", "from": "nowhere" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "feature", "from": "main" }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["branch"], "feature");
    // `from` on an existing branch just loads into it.
    let line2 = "{\"type\": \"Person\", \"data\": {\"name\": \"Finn\"}}\n";
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line2, "branch": "feature", "from": "main" }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(names_on(&dp, Some("feature"), None), ["Eve", "Finn"]);
    assert!(names_on(&dp, None, None).is_empty());
}

#[test]
fn branch_routes_answer_their_error_codes() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, b) = dp.post("/branches", &json!({ "name": "dev" }), None);
    assert_eq!(s, 201, "{b}");

    let (s, b) = dp.post("/branches", &json!({ "name": "dev" }), None);
    envelope(s, &b, 409, "conflict");
    let (s, b) = dp.post("/branches", &json!({ "name": "main" }), None);
    envelope(s, &b, 409, "conflict");
    for bad in [
        "",
        "no spaces",
        "../up",
        "a//b",
        "trailing/",
        "merge",
        "x".repeat(300).as_str(),
    ] {
        let (s, b) = dp.post("/branches", &json!({ "name": bad }), None);
        envelope(s, &b, 400, "bad_request");
    }
    let (s, b) = dp.post(
        "/branches",
        &json!({ "name": "x", "from": "nowhere" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post_raw("/branches", "{not json".into(), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post("/branches", &json!({ "from": "main" }), None);
    envelope(s, &b, 400, "bad_request");

    let (s, b) = dp.delete("/branches/main", None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.delete("/branches/nowhere", None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.delete("/branches/bad%20name", None);
    envelope(s, &b, 400, "bad_request");

    for (route, body) in [
        (
            "/read",
            json!({ "query_source": NAMES, "branch": "nowhere" }),
        ),
        (
            "/change",
            json!({ "query_source": ADD, "params": { "name": "Z" }, "branch": "nowhere" }),
        ),
        ("/ingest", json!({ "data": "", "branch": "nowhere" })),
        ("/export", json!({ "branch": "nowhere" })),
    ] {
        let (s, b) = dp.post_raw(route, body.to_string(), None);
        envelope(s, &b, 404, "not_found");
    }
    let (s, b) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": "bad name" }),
        None,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/snapshot?branch=nowhere", None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.get("/commits?branch=nowhere", None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.get("/commits?limit=0", None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/commits?limit=many", None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/commits/main.999", None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.get("/commits/nonsense", None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/commits/main.x", None);
    envelope(s, &b, 400, "bad_request");
}

const BRANCH_POLICY: &str = "version: 1
groups:
  agents: [act-agent]
  admins: [act-admin]
  writers: [act-writer]
protected_branches: [main]
rules:
  - id: everyone-reads
    allow: { actors: { group: agents }, actions: [read], branch_scope: any }
  - id: agents-write-unprotected
    allow: { actors: { group: agents }, actions: [change, export], branch_scope: unprotected }
  - id: agents-branch-unprotected
    allow: { actors: { group: agents }, actions: [branch_create, branch_delete], target_branch_scope: unprotected }
  - id: writers-change-anywhere
    allow: { actors: { group: writers }, actions: [read, change], branch_scope: any }
  - id: admins-everything
    allow: { actors: { group: admins }, actions: [read, export, change], branch_scope: any }
  - id: admins-branches
    allow: { actors: { group: admins }, actions: [branch_create, branch_delete, branch_merge] }
";
const BRANCH_TOKENS: &str = r#"{"act-agent": "agent-token-0123456789", "act-admin": "admin-token-0123456789", "act-writer": "writer-token-0123456789"}"#;
const AGENT: Option<&str> = Some("agent-token-0123456789");
const WRITER: Option<&str> = Some("writer-token-0123456789");

#[test]
fn cedar_rules_scope_writes_and_branch_actions_to_unprotected_branches() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_with_policy(&g, BRANCH_POLICY, BRANCH_TOKENS);
    // The agent may create and write agent branches, not main.
    let (s, b) = dp.post("/branches", &json!({ "name": "agent/a1" }), AGENT);
    assert_eq!(s, 201, "{b}");
    let (s, b) = add_on(&dp, "agent/a1", "Agent", AGENT);
    assert_eq!(s, 200, "{b}");
    let (s, b) = add_on(&dp, "main", "Agent", AGENT);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": "{\"type\": \"Person\", \"data\": {\"name\": \"Agent\"}}\n" }),
        AGENT,
    );
    envelope(s, &b, 403, "forbidden");
    // A load that would create its branch needs branch_create of it as well.
    let line = "{\"type\": \"Person\", \"data\": {\"name\": \"Writer\"}}\n";
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "new", "from": "main" }),
        WRITER,
    );
    envelope(s, &b, 403, "forbidden");
    assert!(
        b["error"]
            .as_str()
            .is_some_and(|e| e.contains("branch_create")),
        "{b}"
    );
    let (s, b) = dp.post(
        "/ingest",
        &json!({ "data": line, "branch": "agent/a1", "from": "main" }),
        WRITER,
    );
    assert_eq!(s, 200, "{b}");
    // Deleting main's protection is not in reach either: refused before the 400.
    let (s, b) = dp.delete("/branches/main", AGENT);
    envelope(s, &b, 403, "forbidden");
    // A refused caller learns nothing about its body: 403, not 400.
    let (s, b) = dp.post_raw("/change", "{not json".into(), AGENT);
    envelope(s, &b, 403, "forbidden");
    // Reads of every branch and export of unprotected ones.
    assert_eq!(names_on(&dp, Some("agent/a1"), AGENT), ["Agent", "Writer"]);
    let (s, b) = dp.post_text(
        "/export",
        json!({ "branch": "agent/a1" }).to_string(),
        AGENT,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post_raw("/export", json!({}).to_string(), AGENT);
    envelope(s, &b, 403, "forbidden");
    // The admin may write main; the agent deletes its branch.
    let (s, b) = add_on(&dp, "main", "Admin", ADMIN);
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.delete("/branches/agent%2Fa1", AGENT);
    assert_eq!(s, 200, "{b}");
}
