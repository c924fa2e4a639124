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
    let before = person_names(&body);
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
    assert_eq!(person_names(&body).len(), before.len() + 2);

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
    let (s, health) = dp.get("/healthz", None);
    assert_eq!(s, 200);
    assert_eq!(health["mode"], "single");

    let (s, body) = dp.post("/ingest", &json!({ "data": social_data() }), None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.post("/read", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{body}");
    let before = person_names(&body);
    assert!(before.contains(&"Bob".to_owned()));
    for (route, name) in [("/change", "Zed"), ("/mutate", "Yan")] {
        let (s, body) = dp.post(
            route,
            &json!({ "query_source": ADD, "params": { "name": name } }),
            None,
        );
        assert_eq!(s, 200, "{route}: {body}");
        assert_eq!(body["affected_nodes"], 1, "{body}");
    }
    let line = r#"{"type": "Person", "data": {"name": "Xia"}}"#;
    let (s, body) = dp.post("/load", &json!({ "data": line, "mode": "append" }), None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.post("/query", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{body}");
    assert_eq!(person_names(&body).len(), before.len() + 3);
    let (s, body) = dp.get("/snapshot", None);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["manifest_version"], 5, "{body}");
    let (s, body) = dp.get("/schema", None);
    assert_eq!(s, 200, "{body}");
    assert!(body["schema_source"]
        .as_str()
        .is_some_and(|t| t.contains("node Person")));
    let (s, text) = dp.post_text("/export", json!({ "types": ["Person"] }).to_string(), None);
    assert_eq!(s, 200, "{text}");
    assert_eq!(text.lines().count(), before.len() + 3, "{text}");
    // The export is streamed (no length known up front), not buffered whole.
    let response = dp
        .client()
        .post(format!("{}/export", dp.url))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("POST /export");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("transfer-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"chunked"[..])
    );
    assert!(response.headers().get("content-length").is_none());

    // Error paths: the nested surface does not exist, and each route answers envelopes.
    let (s, body) = dp.get("/graphs/default/schema", None);
    envelope(s, &body, 404, "not_found");
    for route in [
        "/read", "/query", "/change", "/mutate", "/ingest", "/load", "/export",
    ] {
        let (s, b) = dp.post_raw(route, "{not json".into(), None);
        envelope(s, &b, 400, "bad_request");
    }
    let (s, b) = dp.post("/read", &json!({ "query_source": "query broken(" }), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post(
        "/change",
        &json!({ "query_source": ADD, "params": { "name": "Zed" } }),
        None,
    );
    envelope(s, &b, 400, "bad_request"); // the key exists
    let (s, b) = dp.post(
        "/read",
        &json!({ "query_source": NAMES, "branch": "dev" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let big = json!({ "query_source": "x".repeat(2 * 1024 * 1024) }).to_string();
    let (s, b) = dp.post_raw("/read", big, None);
    envelope(s, &b, 413, "payload_too_large");
    let (s, b) = dp.get("/read", None);
    envelope(s, &b, 405, "method_not_allowed");
}

#[test]
fn single_mode_with_tokens_answers_401_and_403() {
    let g = TempGraph::new("social.pg");
    std::fs::write(g.dir.path().join("p.yaml"), GRAPH_POLICY).expect("policy");
    let config = write_config(
        &g,
        &format!("graph:\n  uri: {}\n  policy: {{ file: p.yaml }}\n", g.store),
    );
    let dp = DataPlane::with_config(
        &config,
        &[],
        &[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)],
    );
    let read = json!({ "query_source": NAMES });
    let (s, b) = dp.post("/read", &read, None);
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = dp.post("/read", &read, Some("wrong-token"));
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = dp.post("/read", &read, ADMIN);
    assert_eq!(s, 200, "{b}");
    let (s, b) = dp.post("/read", &read, VIEWER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.post("/ingest", &json!({ "data": social_data() }), ADMIN);
    envelope(s, &b, 403, "forbidden");
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
    let (_g, dp) = allow_all_worker(&[]);
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
    assert!(person_names(&body).contains(&"Alice".to_owned()));
}

#[test]
fn concurrent_changes_through_two_workers_are_all_published_and_none_is_lost() {
    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &multi_yaml(&[("alpha", &g.store)]));
    let workers = [
        DataPlane::with_config(&config, &["--unauthenticated"], &[]),
        DataPlane::with_config(&config, &["--unauthenticated"], &[]),
    ];
    // Four writers (two per worker), each inserting its own people into the same table. A
    // worker that loses the manifest race to the other plans its group again on the new
    // head (shared/engine/src/mutate/group.rs): no client sees a conflict for rows of its own
    // that conflict with nothing.
    let outcomes: Vec<(String, u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|writer| {
                let worker = &workers[writer % 2];
                s.spawn(move || {
                    (0..8)
                        .map(|i| {
                            let name = format!("w{writer}-{i}");
                            let (status, body) = worker.post(
                                "/graphs/alpha/change",
                                &json!({ "query_source": ADD, "params": { "name": name } }),
                                None,
                            );
                            (name, status, body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer"))
            .collect()
    });
    let mut acknowledged = Vec::new();
    // The version each change reports, and which worker published it: a version holds the
    // group of one worker only (the manifest compare-and-swap admits one publisher per
    // version), and a read at it sees the change.
    let mut publisher_of: std::collections::BTreeMap<u64, usize> = Default::default();
    for (i, (name, status, body)) in outcomes.into_iter().enumerate() {
        assert_eq!(status, 200, "{name}: {body}");
        let version = body["manifest_version"].as_u64().expect("manifest_version");
        let worker = (i / 8) % 2;
        assert_eq!(
            *publisher_of.entry(version).or_insert(worker),
            worker,
            "version {version} reported by both workers"
        );
        let (s, at) = workers[1 - worker].post(
            "/graphs/alpha/read",
            &json!({ "query_source": NAMES, "snapshot": version }),
            None,
        );
        assert_eq!(s, 200, "{at}");
        assert!(
            person_names(&at).contains(&name),
            "{name} not at version {version}"
        );
        acknowledged.push(name);
    }
    assert_eq!(acknowledged.len(), 32);
    // Every worker sees every acknowledged insert exactly once.
    for worker in &workers {
        let (s, body) = worker.post(
            "/graphs/alpha/read",
            &json!({ "query_source": NAMES }),
            None,
        );
        assert_eq!(s, 200, "{body}");
        let stored = person_names(&body);
        for name in &acknowledged {
            assert_eq!(
                stored.iter().filter(|n| *n == name).count(),
                1,
                "{name} in {stored:?}"
            );
        }
        assert_eq!(stored.len(), acknowledged.len());
    }
}

#[test]
fn sigterm_during_a_load_finishes_it_and_leaves_the_old_or_the_new_version() {
    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &multi_yaml(&[("alpha", &g.store)]));
    let mut worker = DataPlane::with_config(&config, &["--unauthenticated"], &[]);
    let rows = 100_000u64;
    let data: String = (0..rows)
        .map(|i| {
            format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"p{i}\", \"age\": 30}}}}\n")
        })
        .collect();
    let body = json!({ "data": data, "mode": "append" }).to_string();
    let (client, url) = (
        worker.client().clone(),
        format!("{}/graphs/alpha/ingest", worker.url),
    );
    let load = std::thread::spawn(move || {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .map(|r| r.status().as_u16())
    });
    // Let the request get under way, then ask the worker to stop.
    std::thread::sleep(Duration::from_millis(150));
    worker.terminate();
    let answer = load.join().expect("load thread");
    let exit = worker.wait_exit(Duration::from_secs(60));
    assert_eq!(
        exit,
        Some(0),
        "worker did not stop cleanly:\n{}",
        worker.log()
    );
    let persons = g.row_count("node:Person");
    let version = g.snapshot()["manifest_version"].as_u64().expect("version");
    match answer {
        // The in-flight load was allowed to finish: all of it is there.
        Ok(200) => {
            assert_eq!(persons, rows);
            assert_eq!(version, 2);
        }
        // Or the request never got in: nothing of it is there.
        other => {
            assert_eq!(persons, 0, "answer {other:?} but rows are visible");
            assert_eq!(version, 1);
        }
    }
    assert!(worker.log().contains("shutting down"), "{}", worker.log());
}

#[test]
fn request_logs_carry_request_id_graph_actor_status_and_latency() {
    let (_g, dp) = allow_all_worker(&[("OMNIGRAPH_LOG_FORMAT", "json")]);
    let response = dp
        .client()
        .post(format!("{}/graphs/alpha/read", dp.url))
        .header("x-request-id", "req-1234")
        .bearer_auth(VIEWER.expect("viewer token"))
        .json(&json!({ "query_source": NAMES }))
        .send()
        .expect("POST");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"req-1234"[..])
    );
    let event = eventually_response_event(&dp, "req-1234");
    let line = event.to_string();
    let span = &event["span"];
    assert_eq!(span["request_id"], "req-1234", "{line}");
    assert_eq!(span["graph_id"], "alpha", "{line}");
    assert_eq!(span["actor"], "act-viewer", "{line}");
    assert_eq!(event["fields"]["status"], 200, "{line}");
    assert!(event["fields"]["latency"].is_string(), "{line}");
}

/// The JSON log event that reports the response to the request with `request_id` (it is
/// written after the answer is sent).
fn eventually_response_event(dp: &DataPlane, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = dp.log().lines().find_map(|l| {
            let event: Value = serde_json::from_str(l).ok()?;
            let ours = event["span"]["request_id"] == request_id;
            (ours && event["fields"].get("status").is_some()).then_some(event)
        });
        if let Some(event) = found {
            return event;
        }
        assert!(
            Instant::now() < deadline,
            "no response event:\n{}",
            dp.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pushed_registry_generations_need_the_internal_token_and_apply_only_when_newer() {
    let g = TempGraph::new("social.pg");
    let h = TempGraph::new("social.pg");
    // A worker of a control plane that is not there (so that only this test pushes).
    let closed = format!("http://127.0.0.1:{}", free_port());
    let dp = DataPlane::start_unready(
        &["--control-plane", &closed, "--unauthenticated"],
        &[("OMNIGRAPH_INTERNAL_TOKEN", "internal-secret-0123456789")],
    );
    let alpha = json!([{ "graph_id": "alpha", "uri": g.store }]);
    let (s, b) = dp.post(
        "/internal/registry",
        &json!({ "generation": 1, "graphs": alpha }),
        Some("internal-secret-0123456789"),
    );
    assert_eq!(s, 200, "{b}");
    let push = |generation: u64, graphs: Value, token: Option<&str>| {
        dp.post(
            "/internal/registry",
            &json!({ "generation": generation, "graphs": graphs }),
            token,
        )
    };
    let both = json!([
        { "graph_id": "alpha", "uri": g.store },
        { "graph_id": "beta", "uri": h.store },
    ]);
    let (s, b) = push(2, both.clone(), None);
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = push(2, both.clone(), Some("wrong"));
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = dp.post_raw(
        "/internal/registry",
        "{not json".into(),
        Some("internal-secret-0123456789"),
    );
    envelope(s, &b, 400, "bad_request");
    assert_eq!(dp.get("/graphs/beta/snapshot", None).0, 404);

    let (s, b) = push(2, both, Some("internal-secret-0123456789"));
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["applied"], true);
    assert_eq!(b["generation"], 2);
    assert_eq!(dp.get("/graphs/beta/snapshot", None).0, 200);

    // An older or equal generation is ignored: beta stays.
    let alpha_only = json!([{ "graph_id": "alpha", "uri": g.store }]);
    for generation in [1, 2] {
        let (s, b) = push(
            generation,
            alpha_only.clone(),
            Some("internal-secret-0123456789"),
        );
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["applied"], false);
        assert_eq!(b["generation"], 2);
    }
    assert_eq!(dp.get("/graphs/beta/snapshot", None).0, 200);

    // A newer one that drops beta: beta is no longer served.
    let (s, b) = push(3, alpha_only, Some("internal-secret-0123456789"));
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["applied"], true);
    let (s, b) = dp.get("/graphs/beta/snapshot", None);
    envelope(s, &b, 404, "not_found");
    assert_eq!(dp.get("/healthz", None).1["registry_generation"], 3);
}

/// A worker with tokens and graph `alpha` under a policy that lets every actor read and
/// change; `env` is added to its environment.
fn allow_all_worker(env: &[(&str, &str)]) -> (TempGraph, DataPlane) {
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
    let mut all = vec![("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)];
    all.extend_from_slice(env);
    let dp = DataPlane::with_config(&config, &[], &all);
    (g, dp)
}

#[test]
fn readyz_is_503_until_a_registry_generation_is_applied_then_200() {
    // A control plane that is not there: the worker serves, but knows no graph yet.
    let closed = free_port();
    let port = free_port();
    let mut child = data_plane()
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--control-plane", &format!("http://127.0.0.1:{closed}")])
        .arg("--unauthenticated")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn worker");
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health: Value = loop {
        if let Ok(r) = client.get(format!("{url}/healthz")).send() {
            break r.json().expect("json");
        }
        assert!(Instant::now() < deadline, "the worker did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(health["ready"], false, "{health}");
    let r = client.get(format!("{url}/readyz")).send().expect("readyz");
    assert_eq!(r.status().as_u16(), 503);
    let body: Value = r.json().expect("json");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    let _ = child.kill();
    let _ = child.wait();

    let g = TempGraph::new("social.pg");
    let config = write_config(&g, &multi_yaml(&[("alpha", &g.store)]));
    let dp = DataPlane::with_config(&config, &[], &[("OMNIGRAPH_UNAUTHENTICATED", "1")]);
    let (s, body) = dp.get("/readyz", None);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["registry_generation"], 1);
}

#[test]
fn requests_on_an_unreachable_object_store_answer_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("omnigraph.yaml");
    std::fs::write(&config, "graph:\n  uri: s3://omnigraph/graphs/g.omni\n").expect("config");
    let env = unreachable_store_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dp = DataPlane::with_config(&config, &["--unauthenticated"], &env);
    let q = "query names() { match { $p: Person } return { $p.name } }";
    for (path, body) in [
        ("/snapshot", None),
        ("/read", Some(json!({ "query_source": q }))),
        (
            "/change",
            Some(json!({ "query_source": "query a() { insert Person { name: \"x\" } }" })),
        ),
    ] {
        let request = match &body {
            None => dp.client().get(format!("{}{path}", dp.url)),
            Some(b) => dp.client().post(format!("{}{path}", dp.url)).json(b),
        };
        let response = request.send().expect("an answer");
        assert_eq!(response.status().as_u16(), 503, "{path}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1"),
            "{path}"
        );
        let body: Value = response.json().expect("envelope");
        envelope(503, &body, 503, "service_unavailable");
    }
}

#[test]
fn a_mutation_sent_to_read_and_a_read_sent_to_change_are_refused_with_400() {
    // Each route compiles only its own kind of query (shared/engine/src/requests.rs):
    // the other kind is refused before anything runs, and nothing is written.
    let g = TempGraph::social();
    let dp = DataPlane::single_mode(&g, "", &["--unauthenticated"], &[]);
    let (s, before) = dp.post("/read", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{before}");
    for route in ["/read", "/query"] {
        let (s, body) = dp.post(
            route,
            &json!({ "query_source": ADD, "params": { "name": "Mallory" } }),
            None,
        );
        envelope(s, &body, 400, "bad_request");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or("")
                .contains("is a mutation"),
            "{body}"
        );
    }
    for route in ["/change", "/mutate"] {
        let (s, body) = dp.post(route, &json!({ "query_source": NAMES }), None);
        envelope(s, &body, 400, "bad_request");
        assert!(
            body["error"].as_str().unwrap_or("").contains("is a read"),
            "{body}"
        );
    }
    let (s, after) = dp.post("/read", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{after}");
    assert_eq!(person_names(&after), person_names(&before));
    assert_eq!(
        after["target"]["manifest_version"],
        before["target"]["manifest_version"]
    );
}
