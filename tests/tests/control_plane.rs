//! The control plane's management API as a process: `POST /graphs` and `GET /graphs`
//! (seed PRs 7 and 6b), the three pinned bugs of section 4, drift, auth modes, the
//! error envelope and the policies of new graphs. Workers, restarts, OpenAPI and the CLI
//! are in `control_plane_registry.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use omnigraph_e2e::*;
use serde_json::{json, Value};

// ---- POST /graphs (seed PR 7) ----

#[test]
fn post_graphs_creates_a_new_graph_end_to_end() {
    let cp = open_alpha();
    let uri = cp.graph_uri("beta.omni");
    let (status, body) = cp.create_graph("beta", &uri, None);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({ "graph_id": "beta", "uri": uri }));

    let yaml = cp.yaml();
    assert!(
        yaml.contains(&format!("  beta:\n    uri: {uri}\n")),
        "{yaml}"
    );
    assert!(yaml.contains("  alpha:\n"), "existing graph kept: {yaml}");
    assert!(has_manifest(&uri), "the graph's storage exists at {uri}");
    assert_eq!(cp.graph_ids(None), ["alpha", "beta"]);
    let health = cp.health();
    assert_eq!(health["registry_generation"], 2);
    assert_eq!(health["config_drift"], false);
}

#[test]
fn post_graphs_baseline_hash_updates_between_rewrites() {
    let cp = open_alpha();
    for id in ["beta", "gamma", "delta"] {
        let (status, body) = cp.create_graph(id, &cp.graph_uri(&format!("{id}.omni")), None);
        assert_eq!(status, 201, "{id}: {body}");
    }
    assert_eq!(cp.graph_ids(None), ["alpha", "beta", "delta", "gamma"]);
    assert_eq!(cp.health()["config_drift"], false);
    assert_eq!(cp.health()["registry_generation"], 4);
}

#[test]
fn post_graphs_duplicate_graph_id_returns_409() {
    let cp = open_alpha();
    let before = cp.yaml();
    let uri = cp.graph_uri("other.omni");
    let (status, body) = cp.create_graph("alpha", &uri, None);
    assert_envelope(status, &body, 409, "conflict");
    assert!(body["error"].as_str().unwrap().contains("alpha"), "{body}");
    assert_eq!(cp.yaml(), before);
    assert!(!stored_at(&uri), "nothing created for a duplicate");
}

#[test]
fn post_graphs_duplicate_uri_returns_409() {
    let cp = open_alpha();
    // Another spelling of alpha's uri (a `.` segment would be refused outright: 400).
    let uri = match test_storage() {
        Some(_) => format!("{}/", cp.graph_uri("alpha.omni")),
        None => format!("file://{}/", cp.path("alpha.omni")),
    };
    let (status, body) = cp.create_graph("beta", &uri, None);
    assert_envelope(status, &body, 409, "conflict");
    assert!(body["error"].as_str().unwrap().contains("alpha"), "{body}");
    assert_eq!(cp.graph_ids(None), ["alpha"]);
}

#[test]
fn post_graphs_invalid_graph_id_returns_400() {
    let cp = open_alpha();
    for bad in [
        "healthz",
        "graphs",
        "openapi.json",
        "_hidden",
        "a b",
        "",
        &"x".repeat(65),
    ] {
        let (status, body) = cp.create_graph(bad, &cp.graph_uri("x.omni"), None);
        assert_envelope(status, &body, 400, "bad_request");
    }
    let (_, body) = cp.create_graph("healthz", &cp.graph_uri("x.omni"), None);
    assert!(
        body["error"].as_str().unwrap().contains("reserved"),
        "{body}"
    );
}

#[test]
fn post_graphs_empty_schema_source_returns_400() {
    let cp = open_alpha();
    let uri = cp.graph_uri("beta.omni");
    for source in ["", "  \n"] {
        let body = json!({ "graph_id": "beta", "uri": uri, "schema": { "source": source } });
        let (status, body) = cp.post("/graphs", &body, None);
        assert_envelope(status, &body, 400, "bad_request");
        assert!(body["error"].as_str().unwrap().contains("schema"), "{body}");
    }
    let (status, body) = cp.post(
        "/graphs",
        &json!({ "graph_id": "beta", "uri": "", "schema": { "source": PERSON_SCHEMA } }),
        None,
    );
    assert_envelope(status, &body, 400, "bad_request");
    assert!(!stored_at(&uri));
}

#[test]
fn post_graphs_with_a_bad_schema_returns_400_with_the_position() {
    let cp = open_alpha();
    let body = json!({ "graph_id": "beta", "uri": cp.graph_uri("beta.omni"), "schema": { "source": "node Person {\n    name: String? @key\n}\n" } });
    let (status, body) = cp.post("/graphs", &body, None);
    assert_envelope(status, &body, 400, "bad_request");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("schema.source:"),
        "names the source and position: {message}"
    );
    assert!(!stored_at(&cp.graph_uri("beta.omni")));
}

#[test]
fn post_graphs_with_a_relative_or_unsupported_uri_returns_400() {
    let cp = open_alpha();
    for uri in ["relative/beta.omni", "http://host/beta", "s3://"] {
        let (status, body) = cp.create_graph("beta", uri, None);
        assert_envelope(status, &body, 400, "bad_request");
    }
}

#[test]
fn post_graphs_outside_the_storage_roots_returns_400_and_creates_nothing() {
    let yaml = "server:\n  storage_roots: [\"{root}/graphs\"]\ngraphs: {}\n";
    let cp = ControlPlane::start(yaml, ControlPlaneOptions::open());
    let before = cp.yaml();
    for uri in [
        cp.path("elsewhere/beta.omni"),
        cp.path("graphs2/beta.omni"),
        cp.path("graphs/../beta.omni"),
        cp.path("graphs"),
        "s3://bucket/graphs/beta.omni".to_owned(),
    ] {
        let (status, body) = cp.create_graph("beta", &uri, None);
        assert_envelope(status, &body, 400, "bad_request");
        assert!(
            body["error"].as_str().unwrap().contains("storage roots"),
            "{body}"
        );
        // (The s3:// uri names a bucket no test server has: nothing to look at there.)
        if !uri.starts_with("s3://") {
            assert!(!has_manifest(&uri), "{uri}");
        }
    }
    assert_eq!(cp.yaml(), before);
    let inside = cp.path("graphs/team/beta.omni");
    let (status, body) = cp.create_graph("beta", &inside, None);
    assert_eq!(status, 201, "{body}");
    assert!(has_manifest(&inside));
}

#[test]
fn post_graphs_returns_405_in_single_mode() {
    let cp = ControlPlane::start(SINGLE_YAML, ControlPlaneOptions::open());
    let before = cp.yaml();
    let (status, body) = cp.create_graph("beta", &cp.graph_uri("beta.omni"), None);
    assert_envelope(status, &body, 405, "method_not_allowed");
    assert!(
        body["error"].as_str().unwrap().contains("single mode"),
        "{body}"
    );
    assert_eq!(cp.yaml(), before);
}

#[test]
fn post_graphs_on_an_unreachable_object_store_returns_503_and_changes_nothing() {
    let mut options = ControlPlaneOptions::open();
    for (name, value) in unreachable_store_env() {
        options = options.with_env(&name, &value);
    }
    let cp = ControlPlane::start(ALPHA_YAML, options);
    let before = cp.yaml();
    let started = Instant::now();
    let (status, body) = cp.create_graph("beta", "s3://omnigraph/graphs/beta.omni", None);
    assert_envelope(status, &body, 503, "service_unavailable");
    assert!(
        body["error"].as_str().unwrap().contains("unavailable"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up within the retry budget"
    );
    assert_eq!(cp.yaml(), before, "omnigraph.yaml untouched");
    assert_eq!(cp.graph_ids(None), ["alpha"]);
}

#[test]
fn post_graphs_yaml_drift_detection_returns_503() {
    let cp = open_alpha();
    let edited = format!("{}# edited by an operator\n", cp.yaml());
    std::fs::write(&cp.config_path, &edited).unwrap();
    let uri = cp.graph_uri("beta.omni");
    let (status, body) = cp.create_graph("beta", &uri, None);
    assert_envelope(status, &body, 503, "service_unavailable");
    assert!(
        body["error"].as_str().unwrap().contains("by hand"),
        "{body}"
    );
    assert_eq!(cp.yaml(), edited, "the hand edit is not overwritten");
    assert!(
        !has_manifest(&uri),
        "refused before any storage was created"
    );
    assert_eq!(cp.graph_ids(None), ["alpha"]);
}

#[test]
fn hand_edit_shows_drift_on_healthz_within_a_second() {
    let cp = open_alpha();
    assert_eq!(cp.health()["config_drift"], false);
    std::fs::write(&cp.config_path, format!("{}# hand edit\n", cp.yaml())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut health = cp.health();
    while health["config_drift"] != true && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        health = cp.health();
    }
    assert_eq!(health["config_drift"], true, "{health}");
    assert_eq!(health["status"], "degraded");
    assert!(
        cp.log().contains("config drift"),
        "the edit is logged:\n{}",
        cp.log()
    );
}

// ---- the three pinned bugs of section 4 ----

#[test]
fn two_control_plane_processes_racing_posts_land_exactly_one_rewrite_per_id() {
    let first = open_alpha();
    let second = ControlPlane::start_on(&first.config_path, ControlPlaneOptions::open())
        .expect("second control plane");
    let ids: Vec<String> = (0..6).map(|i| format!("g{i}")).collect();
    let results: Vec<(String, u16)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for id in &ids {
            for (n, cp) in [&first, &second].into_iter().enumerate() {
                let uri = cp.graph_uri(&format!("{id}-{n}.omni"));
                handles.push(s.spawn(move || (id.clone(), cp.create_graph(id, &uri, None).0)));
            }
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (_, status) in &results {
        assert!([201, 409, 503].contains(status), "{results:?}");
    }
    let created: Vec<&String> = results
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(id, _)| id)
        .collect();
    assert!(!created.is_empty(), "{results:?}");
    for id in &ids {
        assert!(
            created.iter().filter(|c| *c == &id).count() <= 1,
            "{id} created twice: {results:?}"
        );
    }
    assert!(first
        .config_path
        .with_file_name("omnigraph.yaml.lock")
        .exists());

    // The file is whole: a new control plane loads it and serves exactly the created graphs.
    let yaml = first.yaml();
    drop(second);
    let restarted =
        ControlPlane::start_on(&first.config_path, ControlPlaneOptions::open()).expect("restart");
    let mut expected: Vec<String> = created.iter().map(|s| s.to_string()).collect();
    expected.push("alpha".into());
    expected.sort();
    assert_eq!(restarted.graph_ids(None), expected, "{yaml}");
}

#[test]
fn concurrent_posts_of_one_graph_id_create_exactly_one() {
    let cp = open_alpha();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let cp = &cp;
                s.spawn(move || {
                    cp.create_graph("beta", &cp.graph_uri(&format!("beta-{n}.omni")), None)
                        .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let created = (0..8)
        .filter(|n| has_manifest(&cp.graph_uri(&format!("beta-{n}.omni"))))
        .count();
    assert_eq!(created, 1, "only the winner created storage");
    assert_eq!(cp.yaml().matches("  beta:").count(), 1);
}

#[test]
fn post_graphs_uri_that_already_holds_a_graph_returns_409_and_leaves_it_untouched() {
    let owner = open_alpha();
    let uri = owner.path("shared.omni");
    assert_eq!(owner.create_graph("beta", &uri, None).0, 201);
    let before = file_listing(Path::new(&uri));
    assert!(!before.is_empty());

    // Another deployment (its own yaml, which does not know the uri) tries to claim it.
    let other = open_alpha();
    let (status, body) = other.create_graph("intruder", &uri, None);
    assert_envelope(status, &body, 409, "conflict");
    assert!(
        body["error"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    assert_eq!(
        file_listing(Path::new(&uri)),
        before,
        "the existing graph's files are untouched"
    );
    assert!(!other.yaml().contains("intruder"));
}

// ---- GET /graphs (seed PR 6b) ----

#[test]
fn get_graphs_lists_registered_graphs_in_multi_mode() {
    let yaml = "graphs:\n  zeta:\n    uri: {root}/z.omni\n  alpha:\n    uri: {root}/a.omni\n  mid:\n    uri: s3://bucket/mid.omni\n";
    let cp = ControlPlane::start(yaml, ControlPlaneOptions::open());
    let (status, body) = cp.get("/graphs", None);
    assert_eq!(status, 200, "{body}");
    let graphs = body["graphs"].as_array().unwrap();
    let ids: Vec<&str> = graphs
        .iter()
        .map(|g| g["graph_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "mid", "zeta"], "sorted by graph_id");
    assert_eq!(graphs[1]["uri"], "s3://bucket/mid.omni");
}

#[test]
fn get_graphs_returns_405_in_single_mode() {
    let cp = ControlPlane::start(SINGLE_YAML, ControlPlaneOptions::open());
    let (status, body) = cp.get("/graphs", None);
    assert_envelope(status, &body, 405, "method_not_allowed");
}

#[test]
fn get_graphs_requires_bearer_auth_when_configured() {
    let cp = with_server_policy();
    let (status, body) = cp.get("/graphs", None);
    assert_envelope(status, &body, 401, "unauthorized");
    let (status, body) = cp.get("/graphs", Some("not-a-token"));
    assert_envelope(status, &body, 401, "unauthorized");
    let response = cp
        .client()
        .get(cp.endpoint("/graphs"))
        .header("Authorization", "Basic abc")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    // A spoofed actor header chooses nothing.
    let response = cp
        .client()
        .get(cp.endpoint("/graphs"))
        .header("X-Actor-Id", "act-admin")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(cp.graph_ids(ADMIN), ["alpha"]);
    // POST is gated the same way, before the body is even read.
    let response = cp
        .client()
        .post(cp.endpoint("/graphs"))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[test]
fn get_graphs_with_server_policy_authorizes_per_cedar() {
    let cp = with_server_policy();
    assert_eq!(cp.get("/graphs", ADMIN).0, 200);
    let (status, body) = cp.get("/graphs", VIEWER);
    assert_envelope(status, &body, 403, "forbidden");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("graph_list") && message.contains("act-viewer"),
        "{message}"
    );

    let uri = cp.graph_uri("beta.omni");
    let (status, body) = cp.create_graph("beta", &uri, VIEWER);
    assert_envelope(status, &body, 403, "forbidden");
    assert!(!stored_at(&uri));
    assert_eq!(cp.create_graph("beta", &uri, ADMIN).0, 201);
}

#[test]
fn get_graphs_with_tokens_but_no_server_policy_is_denied_saying_why() {
    let cp = ControlPlane::start(
        ALPHA_YAML,
        ControlPlaneOptions::default()
            .with_env("OMNIGRAPH_SERVER_BEARER_TOKEN", "single-token-0123456789"),
    );
    let (status, body) = cp.get("/graphs", Some("single-token-0123456789"));
    assert_envelope(status, &body, 403, "forbidden");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no server policy is configured"),
        "{body}"
    );
    assert_eq!(cp.health()["auth"], "bearer");
}

// ---- auth modes at start ----

#[test]
fn serve_refuses_to_start_without_tokens_or_unauthenticated() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("omnigraph.yaml");
    std::fs::write(&config, ALPHA_YAML.replace("{graphs}", "/data")).unwrap();
    let config = config.to_str().unwrap();
    let args = ["serve", "--config", config, "--bind", "127.0.0.1:0"];
    let run = run_control_plane(&args, &[], Duration::from_secs(20)).expect("refuses to start");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("--unauthenticated"), "{}", run.stderr);

    // A policy without tokens refuses even with --unauthenticated.
    std::fs::write(dir.path().join("server.yaml"), SERVER_POLICY).unwrap();
    std::fs::write(
        dir.path().join("omnigraph.yaml"),
        format!(
            "server:\n  policy: {{ file: server.yaml }}\n{}",
            ALPHA_YAML.replace("{graphs}", "/data")
        ),
    )
    .unwrap();
    let run = run_control_plane(
        &args,
        &[("OMNIGRAPH_UNAUTHENTICATED", "1")],
        Duration::from_secs(20),
    )
    .expect("refuses to start");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("no bearer tokens"), "{}", run.stderr);
}

#[test]
fn serve_refuses_to_start_with_a_bad_policy_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("server.yaml"),
        "version: 1\nrules:\n  - id: r\n    allow: { actors: any, actions: [read] }\n",
    )
    .unwrap();
    let config = dir.path().join("omnigraph.yaml");
    std::fs::write(
        &config,
        "server:\n  policy: { file: server.yaml }\ngraphs: {}\n",
    )
    .unwrap();
    let args = [
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ];
    let run = run_control_plane(
        &args,
        &[("OMNIGRAPH_SERVER_BEARER_TOKEN", "single-token-0123456789")],
        Duration::from_secs(20),
    )
    .expect("refuses to start");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("server.yaml"), "{}", run.stderr);
}

#[test]
fn open_mode_from_the_environment_is_reported_on_healthz() {
    let cp = ControlPlane::start(
        ALPHA_YAML,
        ControlPlaneOptions::default().with_env("OMNIGRAPH_UNAUTHENTICATED", "1"),
    );
    let health = cp.health();
    assert_eq!(health["auth"], "open");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["mode"], "multi");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        health["warnings"].to_string().contains("open mode"),
        "{health}"
    );
}

// ---- the envelope at the edge ----

#[test]
fn malformed_json_and_wrong_content_type_answer_400_envelopes() {
    let cp = open_alpha();
    let post = |body: &'static str, content_type: &str| {
        let r = cp
            .client()
            .post(cp.endpoint("/graphs"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, body) = post("{\"graph_id\": ", "application/json");
    assert_envelope(status, &body, 400, "bad_request");
    let (status, body) = post("{\"graph_id\": \"beta\"}", "application/json");
    assert_envelope(status, &body, 400, "bad_request");
    let (status, body) = post("{}", "text/plain");
    assert_envelope(status, &body, 400, "bad_request");
}

#[test]
fn oversized_bodies_answer_413_envelopes() {
    let cp = open_alpha();
    let send = |path: &str, size: usize| {
        let r = cp
            .client()
            .post(cp.endpoint(path))
            .header("Content-Type", "application/json")
            .body(vec![b' '; size])
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, body) = send("/graphs", 32 * 1024 * 1024 + 1);
    assert_envelope(status, &body, 413, "payload_too_large");
    let (status, body) = send("/internal/workers", 1024 * 1024 + 1);
    assert_envelope(status, &body, 413, "payload_too_large");
}

#[test]
fn unknown_routes_and_methods_answer_envelopes() {
    let cp = open_alpha();
    let (status, body) = cp.get("/no/such/route", None);
    assert_envelope(status, &body, 404, "not_found");
    let r = cp.client().delete(cp.endpoint("/graphs")).send().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.json::<Value>().unwrap()["code"], "method_not_allowed");
}

// ---- policies of new graphs ----

#[test]
fn post_graphs_with_a_policy_carries_its_text_to_workers() {
    let cp = with_server_policy();
    let body = json!({ "graph_id": "beta", "uri": cp.graph_uri("beta.omni"), "schema": { "source": PERSON_SCHEMA }, "policy": { "file": "policies/team.yaml" } });
    let (status, answer) = cp.post("/graphs", &body, ADMIN);
    assert_eq!(status, 201, "{answer}");
    assert!(
        cp.yaml().contains("file: policies/team.yaml"),
        "{}",
        cp.yaml()
    );
    let body = json!({ "graph_id": "gamma", "uri": cp.graph_uri("gamma.omni"), "schema": { "source": PERSON_SCHEMA }, "policy": { "content": GRAPH_POLICY } });
    assert_eq!(cp.post("/graphs", &body, ADMIN).0, 201);
    assert_eq!(
        std::fs::read_to_string(cp.root.join("policies/gamma.yaml")).unwrap(),
        GRAPH_POLICY
    );

    let (status, registry) = cp.get("/internal/registry", Some(TEST_INTERNAL_TOKEN));
    assert_eq!(status, 200, "{registry}");
    for graph in registry["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["graph_id"] != "alpha")
    {
        assert_eq!(graph["policy"], GRAPH_POLICY, "{registry}");
    }
}

#[test]
fn post_graphs_with_a_bad_policy_returns_400_naming_the_file() {
    let cp = with_server_policy();
    let uri = cp.graph_uri("beta.omni");
    for (policy, expected) in [
        (json!({ "file": "policies/missing.yaml" }), "missing.yaml"),
        (json!({ "file": "policies/server.yaml" }), "server.yaml"), // server actions in a graph policy
        (json!({ "content": "version: 2\n" }), "policy.content"),
        (
            json!({ "file": "a.yaml", "content": GRAPH_POLICY }),
            "not both",
        ),
    ] {
        let body = json!({ "graph_id": "beta", "uri": uri, "schema": { "source": PERSON_SCHEMA }, "policy": policy });
        let (status, body) = cp.post("/graphs", &body, ADMIN);
        assert_envelope(status, &body, 400, "bad_request");
        assert!(
            body["error"].as_str().unwrap().contains(expected),
            "{expected}: {body}"
        );
    }
    assert!(!stored_at(&uri));
}

#[test]
fn post_graphs_with_a_policy_in_open_mode_returns_400() {
    let cp = open_alpha();
    let body = json!({ "graph_id": "beta", "uri": cp.graph_uri("beta.omni"), "schema": { "source": PERSON_SCHEMA }, "policy": { "content": GRAPH_POLICY } });
    let (status, body) = cp.post("/graphs", &body, None);
    assert_envelope(status, &body, 400, "bad_request");
    assert!(
        body["error"].as_str().unwrap().contains("open mode"),
        "{body}"
    );
}
