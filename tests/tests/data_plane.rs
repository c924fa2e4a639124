//! `omnigraph-data-plane serve`: real worker processes on free 127.0.0.1 ports, started
//! from omnigraph.yaml or registered with a real control plane.

use std::time::{Duration, Instant};

use omnigraph_e2e::*;
use serde_json::{json, Value};

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const ADD: &str = "query add($name: String) { insert Person { name: $name } }";

fn social_data() -> String {
    std::fs::read_to_string(fixture("social.jsonl")).expect("fixture")
}

/// A config file in the graph's temp dir; returns its path.
fn write_config(g: &TempGraph, yaml: &str) -> std::path::PathBuf {
    let path = g.dir.path().join("omnigraph.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

fn multi_yaml(graphs: &[(&str, &str)]) -> String {
    let mut s = String::from("graphs:\n");
    for (id, uri) in graphs {
        s.push_str(&format!("  {id}:\n    uri: {uri}\n"));
    }
    s
}

fn envelope(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].is_string(), "{body}");
}

fn names(body: &Value) -> Vec<String> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["p.name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn multi_mode_serves_every_route() {
    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &multi_yaml(&[("alpha", &g.store)]));
    let dp = DataPlane::with_config(&config, &["--unauthenticated"], &[]);

    let (s, health) = dp.get("/healthz", None);
    assert_eq!(s, 200);
    assert_eq!(health["registry_generation"], 1);
    assert_eq!(health["mode"], "multi");
    assert_eq!(health["auth"], "open");

    let (s, body) = dp.post(
        "/graphs/alpha/ingest",
        &json!({ "data": social_data() }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["mode"], "merge");
    assert!(
        body["tables"].as_array().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(body.get("actor_id").is_none(), "{body}");

    let (s, body) = dp.post(
        "/graphs/alpha/read",
        &json!({ "query_source": NAMES }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["query_name"], "names");
    let before = names(&body);
    assert!(before.contains(&"Alice".to_owned()), "{body}");
    assert_eq!(body["row_count"], before.len());

    let (s, body) = dp.post(
        "/graphs/alpha/change",
        &json!({ "query_source": ADD, "params": { "name": "Zed" } }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["affected_nodes"], 1, "{body}");
    assert_eq!(body["branch"], "main");
    let (s, body) = dp.post(
        "/graphs/alpha/mutate",
        &json!({ "query_source": ADD, "params": { "name": "Yan" } }),
        None,
    );
    assert_eq!(s, 200, "{body}");

    let (s, body) = dp.post(
        "/graphs/alpha/query",
        &json!({ "query_source": NAMES }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(names(&body).len(), before.len() + 2);

    let line = r#"{"type": "Person", "data": {"name": "Xia"}}"#;
    let (s, body) = dp.post(
        "/graphs/alpha/load",
        &json!({ "data": line, "mode": "append" }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["mode"], "append");

    let (s, body) = dp.get("/graphs/alpha/schema", None);
    assert_eq!(s, 200);
    assert!(body["schema_source"]
        .as_str()
        .is_some_and(|t| t.contains("node Person")));

    let (s, body) = dp.get("/graphs/alpha/snapshot", None);
    assert_eq!(s, 200);
    assert!(
        body["manifest_version"].as_u64().is_some_and(|v| v >= 4),
        "{body}"
    );
    let person = body["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table_key"] == "node:Person").cloned())
        .expect("node:Person");
    assert_eq!(person["row_count"], before.len() as u64 + 3);

    let (s, text) = dp.post_text(
        "/graphs/alpha/export",
        json!({ "types": ["Person"] }).to_string(),
        None,
    );
    assert_eq!(s, 200, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), before.len() + 3, "{text}");
    assert!(lines.iter().all(|l| l.contains("\"Person\"")), "{text}");

    // Error paths of every graph route.
    let posts = [
        "read", "query", "change", "mutate", "ingest", "load", "export",
    ];
    let bodies = [
        json!({ "query_source": NAMES }),
        json!({ "data": "" }),
        json!({}),
    ];
    for route in posts {
        let body = match route {
            "ingest" | "load" => &bodies[1],
            "export" => &bodies[2],
            _ => &bodies[0],
        };
        let (s, b) = dp.post(&format!("/graphs/nope/{route}"), body, None);
        envelope(s, &b, 404, "not_found");
        let (s, b) = dp.post(&format!("/graphs/bad_id/{route}"), body, None);
        envelope(s, &b, 400, "bad_request");
        let (s, b) = dp.post_raw(&format!("/graphs/alpha/{route}"), "{not json".into(), None);
        envelope(s, &b, 400, "bad_request");
    }
    for route in ["schema", "snapshot"] {
        let (s, b) = dp.get(&format!("/graphs/nope/{route}"), None);
        envelope(s, &b, 404, "not_found");
        let (s, b) = dp.get(&format!("/graphs/bad_id/{route}"), None);
        envelope(s, &b, 400, "bad_request");
    }
    let big = json!({ "query_source": "x".repeat(2 * 1024 * 1024) }).to_string();
    let (s, b) = dp.post_raw("/graphs/alpha/read", big.clone(), None);
    envelope(s, &b, 413, "payload_too_large");
    // ... but /ingest takes up to 32 MiB (this one fails on content, not size).
    let (s, b) = dp.post_raw(
        "/graphs/alpha/ingest",
        json!({ "data": "x".repeat(2 * 1024 * 1024) }).to_string(),
        None,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/nowhere", None);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post(
        "/graphs/alpha/read",
        &json!({ "query_source": "query broken(" }),
        None,
    );
    envelope(s, &b, 400, "bad_request");

    let (s, doc) = dp.get("/openapi.json", None);
    assert_eq!(s, 200);
    assert!(doc["components"]["schemas"]["ReadRequest"].is_object());
}

#[test]
fn single_mode_serves_flat_routes() {
    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &format!("graph:\n  uri: {}\n", g.store));
    let dp = DataPlane::with_config(&config, &[], &[("OMNIGRAPH_UNAUTHENTICATED", "1")]);
    let (s, body) = dp.post("/ingest", &json!({ "data": social_data() }), None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.post("/read", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{body}");
    assert!(names(&body).contains(&"Bob".to_owned()));
    let (s, body) = dp.get("/snapshot", None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.get("/schema", None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.get("/graphs/default/schema", None);
    envelope(s, &body, 404, "not_found");
    let (s, health) = dp.get("/healthz", None);
    assert_eq!(s, 200);
    assert_eq!(health["mode"], "single");
}

#[test]
fn bearer_auth_and_policies() {
    let g = TempGraph::new("social.pg");
    let h = TempGraph::new("social.pg");
    std::fs::write(g.dir.path().join("alpha-policy.yaml"), GRAPH_POLICY).expect("policy");
    let yaml = format!(
        "graphs:\n  alpha:\n    uri: {}\n    policy: {{ file: alpha-policy.yaml }}\n  beta:\n    uri: {}\n",
        g.store, h.store
    );
    let config = write_config(&g, &yaml);
    let dp = DataPlane::with_config(
        &config,
        &[],
        &[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)],
    );
    let read = json!({ "query_source": NAMES });

    let (s, b) = dp.post("/graphs/alpha/read", &read, None);
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = dp.post("/graphs/alpha/read", &read, Some("wrong-token"));
    envelope(s, &b, 401, "unauthorized");
    // 401 comes before the graph id is even looked at.
    let (s, b) = dp.post("/graphs/bad_id/read", &read, None);
    envelope(s, &b, 401, "unauthorized");
    // 403 comes before the body is read.
    let (s, b) = dp.post_raw("/graphs/alpha/read", "{not json".into(), VIEWER);
    envelope(s, &b, 403, "forbidden");

    let (s, b) = dp.post("/graphs/alpha/read", &read, ADMIN);
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post("/graphs/alpha/read", &read, VIEWER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.post(
        "/graphs/alpha/ingest",
        &json!({ "data": social_data() }),
        ADMIN,
    );
    envelope(s, &b, 403, "forbidden");

    // No policy: authenticated actors may read, nothing else.
    let (s, b) = dp.post("/graphs/beta/read", &read, VIEWER);
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post(
        "/graphs/beta/change",
        &json!({ "query_source": ADD, "params": { "name": "Q" } }),
        ADMIN,
    );
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.get("/graphs/beta/snapshot", None);
    envelope(s, &b, 401, "unauthorized");
    let (s, _) = dp.get("/healthz", None);
    assert_eq!(s, 200);
}

#[test]
fn actor_id_is_the_server_resolved_actor() {
    let g = TempGraph::new("social.pg");
    std::fs::write(
        g.dir.path().join("p.yaml"),
        "version: 1\nrules:\n  - id: all\n    allow: { actors: any, actions: [read, change] }\n",
    )
    .expect("policy");
    let yaml = format!(
        "graphs:\n  alpha:\n    uri: {}\n    policy: {{ file: p.yaml }}\n",
        g.store
    );
    let config = write_config(&g, &yaml);
    let dp = DataPlane::with_config(
        &config,
        &[],
        &[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)],
    );
    let (s, b) = dp.post(
        "/graphs/alpha/change",
        &json!({ "query_source": ADD, "params": { "name": "Q" } }),
        VIEWER,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["actor_id"], "act-viewer");
    let (s, b) = dp.post(
        "/graphs/alpha/ingest",
        &json!({ "data": social_data() }),
        ADMIN,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["actor_id"], "act-admin");
}

#[test]
fn graph_created_on_the_control_plane_is_served_by_a_registered_worker() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let dp = DataPlane::with_control_plane(&cp.url, "w1");
    let (s, health) = dp.get("/healthz", None);
    assert_eq!(s, 200);
    assert_eq!(health["mode"], "multi");
    let (s, b) = dp.get("/graphs/beta/snapshot", None);
    envelope(s, &b, 404, "not_found");

    let uri = cp.path("beta.omni");
    let (s, b) = cp.create_graph("beta", &uri, None);
    assert!(s == 200 || s == 201, "{s} {b}");
    let created = Instant::now();
    loop {
        let (s, b) = dp.get("/graphs/beta/snapshot", None);
        if s == 200 {
            assert_eq!(b["branch"], "main");
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(1),
            "not served within 1s: {s} {b}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_workers_over_the_same_storage_see_each_others_changes() {
    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &multi_yaml(&[("alpha", &g.store)]));
    let a = DataPlane::with_config(&config, &["--unauthenticated"], &[]);
    let b = DataPlane::with_config(&config, &["--unauthenticated"], &[]);
    let (s, _) = b.get("/graphs/alpha/snapshot", None); // opens the graph before the change
    assert_eq!(s, 200);
    let (s, body) = a.post(
        "/graphs/alpha/ingest",
        &json!({ "data": social_data() }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (s, snap_a) = a.get("/graphs/alpha/snapshot", None);
    assert_eq!(s, 200);
    let (s, snap_b) = b.get("/graphs/alpha/snapshot", None);
    assert_eq!(s, 200);
    assert_eq!(snap_a, snap_b);
    let (s, body) = b.post(
        "/graphs/alpha/read",
        &json!({ "query_source": NAMES }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    assert!(names(&body).contains(&"Alice".to_owned()));
}
