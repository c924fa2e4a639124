//! The control plane's side of the registry protocol (registration, pull and push, seen
//! through a fake worker), restarts from omnigraph.yaml, its OpenAPI document and the
//! admin CLI.

use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

// ---- concurrency and crashes ----

// Twenty concurrent POSTs and a kill -9 mid-burst are tested with real workers in
// cluster.rs.

// ---- registry protocol ----

#[test]
fn a_registering_worker_gets_the_current_registry_and_every_push() {
    let cp = open_alpha();
    let worker = FakeWorker::start();
    let (status, registry) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "w1", "url": worker.url }),
        None,
    );
    assert_eq!(status, 200, "{registry}");
    assert_eq!(registry["generation"], 1);
    assert_eq!(registry["graphs"][0]["graph_id"], "alpha");
    let (_, pulled) = cp.get("/internal/registry", None);
    assert_eq!(pulled, registry);

    let uri = cp.graph_uri("beta.omni");
    assert_eq!(cp.create_graph("beta", &uri, None).0, 201);
    let pushed = worker
        .wait_for_push(Duration::from_secs(1), |doc| doc["generation"] == 2)
        .expect("generation 2 pushed within a second");
    let ids: Vec<&str> = pushed["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["graph_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "beta"]);
    assert_eq!(pushed["graphs"][1]["uri"], uri);

    let health = cp.health();
    assert_eq!(health["workers"][0]["worker_id"], "w1");
    assert_eq!(health["workers"][0]["acknowledged_generation"], 2);
}

#[test]
fn a_worker_that_cannot_be_reached_is_reported_on_healthz() {
    let cp = open_alpha();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (status, _) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "gone", "url": dead }),
        None,
    );
    assert_eq!(status, 200);
    // A POST still answers 201 (after a bounded wait); the worker heals by pulling.
    assert_eq!(
        cp.create_graph("beta", &cp.graph_uri("beta.omni"), None).0,
        201
    );
    let health = cp.health();
    assert_eq!(health["workers"][0]["worker_id"], "gone");
    assert!(
        health["workers"][0]["acknowledged_generation"].is_null(),
        "{health}"
    );
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("worker gone: last push failed"),
        "{health}"
    );
}

#[test]
fn internal_routes_require_the_internal_token_when_set() {
    let cp = ControlPlane::start(
        ALPHA_YAML,
        ControlPlaneOptions::open().with_env("OMNIGRAPH_INTERNAL_TOKEN", "inner-secret-0123456789"),
    );
    let worker = FakeWorker::start();
    let registration = json!({ "worker_id": "w1", "url": worker.url });
    let (status, body) = cp.post("/internal/workers", &registration, None);
    assert_envelope(status, &body, 401, "unauthorized");
    let (status, body) = cp.get("/internal/registry", Some("wrong"));
    assert_envelope(status, &body, 401, "unauthorized");
    assert_eq!(
        cp.post(
            "/internal/workers/register",
            &registration,
            Some("inner-secret-0123456789")
        )
        .0,
        200
    );
    let push = worker
        .wait_for_push(Duration::from_secs(5), |_| true)
        .expect("pushed on registration");
    assert_eq!(push["generation"], 1);
    let auth = worker.pushed()[0].authorization.clone();
    assert_eq!(auth.as_deref(), Some("Bearer inner-secret-0123456789"));
}

#[test]
fn register_with_a_bad_url_or_id_returns_400() {
    let cp = open_alpha();
    for body in [
        json!({ "worker_id": "w", "url": "not a url" }),
        json!({ "worker_id": "w", "url": "ftp://x" }),
        json!({ "worker_id": " ", "url": "http://127.0.0.1:1" }),
        json!({ "worker_id": "w" }),
    ] {
        let (status, answer) = cp.post("/internal/workers", &body, None);
        assert_envelope(status, &answer, 400, "bad_request");
    }
}

#[test]
fn restarting_from_the_yaml_serves_the_same_registry() {
    let mut cp = open_alpha();
    for id in ["beta", "gamma"] {
        assert_eq!(
            cp.create_graph(id, &cp.graph_uri(&format!("{id}.omni")), None)
                .0,
            201
        );
    }
    let (_, before) = cp.get("/internal/registry", None);
    cp.kill();
    let restarted =
        ControlPlane::start_on(&cp.config_path, ControlPlaneOptions::open()).expect("restart");
    let (_, after) = restarted.get("/internal/registry", None);
    assert_eq!(after["graphs"], before["graphs"]);
    assert_eq!(after["generation"], 1, "a restart begins at generation 1");
}

// ---- OpenAPI ----

#[test]
fn openapi_is_public_and_has_security_only_in_auth_mode() {
    let open = open_alpha();
    let (status, doc) = open.get("/openapi.json", None);
    assert_eq!(status, 200);
    assert!(doc["paths"]["/graphs"]["post"].is_object(), "{doc}");
    assert!(
        doc["components"]["securitySchemes"]
            .as_object()
            .is_none_or(|s| s.is_empty()),
        "{doc}"
    );
    assert!(doc["paths"]["/graphs"]["get"]["security"].is_null());

    let auth = with_server_policy();
    let (status, doc) = auth.get("/openapi.json", None);
    assert_eq!(status, 200, "public even in auth mode");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer_token"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/graphs"]["post"]["operationId"],
        "graphs_create"
    );
    assert!(doc["paths"]["/graphs"]["get"]["security"]
        .to_string()
        .contains("bearer_token"));
    assert!(doc["paths"]["/healthz"]["get"]["security"].is_null());
}

// ---- admin CLI ----

#[test]
fn cli_graphs_create_and_list_print_tables_and_json() {
    let cp = with_server_policy();
    let schema = cp.root.join("person.pg");
    std::fs::write(&schema, PERSON_SCHEMA).unwrap();
    let token = [("OMNIGRAPH_SERVER_BEARER_TOKEN", "admin-token-0123456789")];
    let uri = cp.graph_uri("beta.omni");
    let args = [
        "graphs",
        "create",
        "--server",
        &cp.url,
        "--graph-id",
        "beta",
        "--uri",
        &uri,
        "--schema",
        schema.to_str().unwrap(),
    ];
    let run = run_control_plane(&args, &token, Duration::from_secs(60)).expect("exits");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("created graph beta"), "{}", run.stdout);

    let run = run_control_plane(
        &["graphs", "list", "--server", &cp.url],
        &token,
        Duration::from_secs(20),
    )
    .expect("exits");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("GRAPH_ID"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("beta      {uri}")),
        "{}",
        run.stdout
    );

    let run = run_control_plane(
        &["graphs", "list", "--server", &cp.url, "--json"],
        &token,
        Duration::from_secs(20),
    )
    .expect("exits");
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed["graphs"].as_array().unwrap().len(), 2);

    // Errors: the envelope's message on stderr, non-zero exit.
    let run = run_control_plane(&args, &token, Duration::from_secs(20)).expect("exits");
    assert_ne!(run.status, 0);
    assert!(
        run.stderr.contains("409") && run.stderr.contains("already exists"),
        "{}",
        run.stderr
    );
    let run = run_control_plane(
        &["graphs", "list", "--server", &cp.url],
        &[],
        Duration::from_secs(20),
    )
    .expect("exits");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
}

#[test]
fn cli_policy_test_runs_the_example_policy_cases() {
    let deploy = workspace_file("deploy/policies/server.example.yaml");
    let run = run_control_plane(
        &["policy", "test", deploy.to_str().unwrap()],
        &[],
        Duration::from_secs(20),
    )
    .expect("exits");
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 failed"), "{}", run.stdout);

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("server.yaml");
    std::fs::write(&policy, SERVER_POLICY).unwrap();
    std::fs::write(dir.path().join("server.tests.yaml"), "cases:\n  - id: viewer-cannot-list\n    actor: act-viewer\n    action: graph_list\n    expect: allow\n").unwrap();
    let run = run_control_plane(
        &["policy", "test", policy.to_str().unwrap()],
        &[],
        Duration::from_secs(20),
    )
    .expect("exits");
    assert_ne!(run.status, 0);
    assert!(
        run.stdout.contains("FAIL  viewer-cannot-list"),
        "{}",
        run.stdout
    );
}
