//! A graph's whole lifecycle on the control plane, with real processes: `DELETE`,
//! `GET` and `PATCH /graphs/{graph_id}`, the purge, crashes between the steps of a
//! delete, and the admin CLI.

use std::path::Path;
use std::time::{Duration, Instant};

use omnigraph_e2e::*;
use serde_json::{json, Value};

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const PEOPLE: &str = "{\"type\": \"Person\", \"data\": {\"name\": \"Ada\"}}\n";
const ALLOW_ALL: &str =
    "version: 1\nrules:\n  - id: all\n    allow: { actors: any, actions: [read, change] }\n";
const ADMIN_ONLY: &str = "version: 1\nrules:\n  - id: admin-only\n    allow: { actors: { actor: act-admin }, actions: [read, change] }\n";

/// A worker registered with `cp`, with the same bearer tokens.
fn worker(cp: &ControlPlane, id: &str) -> DataPlane {
    DataPlane::start(
        &["--control-plane", &cp.url, "--worker-id", id],
        &[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)],
    )
}

fn create_with_policy(cp: &ControlPlane, graph_id: &str, uri: &str, policy: &str) {
    let mut body = create_body(graph_id, uri);
    body["policy"] = json!({ "content": policy });
    let (s, b) = cp.post("/graphs", &body, ADMIN);
    assert_eq!(s, 201, "{b}");
}

#[test]
fn delete_removes_the_graph_everywhere_and_tombstones_its_storage() {
    let cp = with_server_policy();
    let w = worker(&cp, "w1");
    let uri = cp.graph_uri("beta.omni");
    create_with_policy(&cp, "beta", &uri, ALLOW_ALL);
    let (s, b) = w.post("/graphs/beta/ingest", &json!({ "data": PEOPLE }), ADMIN);
    assert_eq!(s, 200, "{b}");
    let stored_policy = cp.path("policies/beta.yaml");
    assert!(Path::new(&stored_policy).is_file());

    let (s, b) = cp.delete("/graphs/beta", ADMIN);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["graph_id"], "beta");
    assert_eq!(b["uri"], uri.as_str());
    assert_eq!(b["purged"], false);
    assert!(
        b["deleted_at"].as_str().is_some_and(|t| t.contains('T')),
        "{b}"
    );

    assert!(!cp.yaml().contains("beta"), "{}", cp.yaml());
    assert_eq!(cp.graph_ids(ADMIN), ["alpha"]);
    let (s, b) = w.get("/graphs/beta/snapshot", ADMIN);
    assert_envelope(s, &b, 404, "not_found");
    assert!(tombstoned(&uri));
    assert!(has_manifest(&uri), "data kept until a purge");
    assert!(
        !Path::new(&stored_policy).exists(),
        "the stored policy went with it"
    );
    let (s, b) = cp.get("/graphs/beta", ADMIN);
    assert_envelope(s, &b, 404, "not_found");
    // The storage itself refuses to open, whatever a registry says.
    let run = dp(&["snapshot", "--store", &uri]);
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("deleted"), "{}", run.stderr);
}

#[test]
fn delete_errors_unknown_invalid_denied_and_single_mode() {
    let cp = with_server_policy();
    let (s, b) = cp.delete("/graphs/nope", ADMIN);
    assert_envelope(s, &b, 404, "not_found");
    let (s, b) = cp.delete("/graphs/_bad", ADMIN);
    assert_envelope(s, &b, 400, "bad_request");
    let (s, b) = cp.delete("/graphs/alpha?purge=maybe", ADMIN);
    assert_envelope(s, &b, 400, "bad_request");
    let before = cp.yaml();
    let (s, b) = cp.delete("/graphs/alpha", VIEWER);
    assert_envelope(s, &b, 403, "forbidden");
    let (s, b) = cp.delete("/graphs/alpha", None);
    assert_envelope(s, &b, 401, "unauthorized");
    assert_eq!(cp.yaml(), before);
    assert!(!tombstoned(&cp.graph_uri("alpha.omni")));
    assert_eq!(cp.graph_ids(ADMIN), ["alpha"]);

    let single = ControlPlane::start(SINGLE_YAML, ControlPlaneOptions::open());
    let (s, b) = single.delete("/graphs/default", None);
    assert_envelope(s, &b, 405, "method_not_allowed");
}

#[test]
fn a_deleted_graphs_uri_is_refused_until_purged_and_purge_removes_exactly_that_graph() {
    let cp = with_server_policy();
    // `g`, a sibling whose path extends it as a string, and a graph nested inside it.
    let g = cp.path("data/g");
    let g2 = cp.path("data/g2");
    let inner = cp.path("data/g/inner.omni");
    for (id, uri) in [("g", &g), ("g2", &g2), ("inner", &inner)] {
        let (s, b) = cp.create_graph(id, uri, ADMIN);
        assert_eq!(s, 201, "{id}: {b}");
    }
    let before_g2 = file_listing(Path::new(&g2));
    let before_inner = file_listing(Path::new(&inner));

    let (s, b) = cp.delete("/graphs/g", ADMIN);
    assert_eq!(s, 200, "{b}");
    let (s, b) = cp.create_graph("g-again", &g, ADMIN);
    assert_envelope(s, &b, 409, "conflict");
    assert!(b["error"].as_str().unwrap().contains("deleted"), "{b}");
    assert!(tombstoned(&g));

    // The purge command honours the grace period, then deletes.
    let run =
        run_control_plane(&["purge", "--uri", &g], &[], Duration::from_secs(30)).expect("exits");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("grace"), "{}", run.stderr);
    let run = run_control_plane(
        &["purge", "--uri", &g, "--grace-hours", "0"],
        &[],
        Duration::from_secs(30),
    )
    .expect("exits");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(!tombstoned(&g));
    assert!(!Path::new(&g).join("_manifest").exists());
    assert!(!Path::new(&g).join("nodes").exists());
    assert_eq!(file_listing(Path::new(&g2)), before_g2, "sibling untouched");
    assert_eq!(
        file_listing(Path::new(&inner)),
        before_inner,
        "nested graph untouched"
    );
    assert_eq!(cp.graph_ids(ADMIN), ["alpha", "g2", "inner"]);

    // The purged location still holds the nested graph: not empty, so no graph is created
    // over it (a purged empty location can be used again: see
    // delete_with_purge_deletes_the_storage_at_once).
    let (s, b) = cp.create_graph("g-again", &g, ADMIN);
    assert_envelope(s, &b, 400, "bad_request");
    assert!(b["error"].as_str().unwrap().contains("not empty"), "{b}");
    // A purge of a graph that is not deleted is refused.
    let run = run_control_plane(
        &["purge", "--uri", &g2, "--grace-hours", "0"],
        &[],
        Duration::from_secs(30),
    )
    .expect("exits");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("not deleted"), "{}", run.stderr);
}

#[test]
fn delete_with_purge_deletes_the_storage_at_once() {
    let cp = with_server_policy();
    let uri = cp.graph_uri("beta.omni");
    let (s, b) = cp.create_graph("beta", &uri, ADMIN);
    assert_eq!(s, 201, "{b}");
    let (s, b) = cp.delete("/graphs/beta?purge=true", ADMIN);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["purged"], true);
    assert!(!stored_at(&uri), "{uri} left behind");
    let (s, b) = cp.create_graph("beta", &uri, ADMIN);
    assert_eq!(s, 201, "{b}");
}

#[test]
fn concurrent_delete_and_post_of_one_id_leave_yaml_registry_workers_and_storage_agreeing() {
    let cp = with_server_policy();
    let w = worker(&cp, "w1");
    for round in 0..4 {
        let uri = cp.graph_uri(&format!("beta-{round}.omni"));
        let (s, b) = cp.create_graph("beta", &uri, ADMIN);
        assert_eq!(s, 201, "{b}");
        let next_uri = cp.graph_uri(&format!("beta-{round}-next.omni"));
        let (deleted, created) = std::thread::scope(|scope| {
            let d = scope.spawn(|| cp.delete("/graphs/beta", ADMIN));
            let c = scope.spawn(|| cp.create_graph("beta", &next_uri, ADMIN));
            (d.join().expect("delete"), c.join().expect("create"))
        });
        assert_eq!(deleted.0, 200, "{}", deleted.1);
        assert!(matches!(created.0, 201 | 409), "{}", created.1);
        let listed = cp.graph_ids(ADMIN).contains(&"beta".to_owned());
        assert_eq!(listed, created.0 == 201, "round {round}");
        assert_eq!(cp.yaml().contains("beta:"), listed, "{}", cp.yaml());
        assert!(tombstoned(&uri));
        assert!(eventually(Duration::from_secs(2), || {
            let s = w.get("/graphs/beta/snapshot", ADMIN).0;
            if listed {
                s == 403 || s == 200
            } else {
                s == 404
            }
        }));
        if listed {
            assert!(!tombstoned(&next_uri));
            let (s, b) = cp.delete("/graphs/beta", ADMIN);
            assert_eq!(s, 200, "{b}");
        }
    }
}

#[test]
fn a_crash_between_the_steps_of_a_delete_converges_after_restart() {
    for point in ["delete:tombstoned", "delete:rewritten", "delete:published"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("policies")).expect("policies dir");
        std::fs::write(root.join("policies/server.yaml"), SERVER_POLICY).expect("policy");
        let config = root.join("omnigraph.yaml");
        std::fs::write(
            &config,
            "server:\n  policy: { file: ./policies/server.yaml }\ngraphs: {}\n",
        )
        .expect("config");
        let options = || {
            ControlPlaneOptions::default().with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)
        };
        let mut cp = ControlPlane::start_on(
            &config,
            options().with_env("FAILPOINTS", &format!("{point}=abort")),
        )
        .expect("start");
        let w = worker(&cp, "w1");
        let uri = graph_uri(root, "beta.omni");
        let keep = graph_uri(root, "keep.omni");
        for (id, u) in [("beta", &uri), ("keep", &keep)] {
            let (s, b) = cp.create_graph(id, u, ADMIN);
            assert_eq!(s, 201, "{point}: {b}");
        }
        let response = cp
            .client()
            .delete(cp.endpoint("/graphs/beta"))
            .bearer_auth("admin-token-0123456789")
            .send();
        assert!(
            response.is_err(),
            "{point}: the control plane answered instead of crashing"
        );
        assert!(tombstoned(&uri), "{point}");
        let port = cp.port();
        cp.kill();

        let restarted =
            ControlPlane::start_on_port(&config, Some(port), options()).expect("restart");
        assert_eq!(restarted.graph_ids(ADMIN), ["keep"], "{point}");
        let yaml = std::fs::read_to_string(&config).expect("yaml");
        assert!(!yaml.contains("beta"), "{point}: {yaml}");
        assert!(yaml.contains("keep"), "{point}: {yaml}");
        assert!(
            eventually(Duration::from_secs(5), || {
                w.get("/graphs/beta/snapshot", ADMIN).0 == 404
                    && w.get("/graphs/keep/snapshot", ADMIN).0 == 200
            }),
            "{point}: the worker did not converge"
        );
        assert!(
            tombstoned(&uri) && has_manifest(&uri),
            "{point}: storage kept, tombstoned"
        );
        assert!(!tombstoned(&keep));
        drop(restarted);
        drop(w);
    }
}

#[test]
fn get_describes_the_graph_its_storage_and_its_workers() {
    let cp = with_server_policy();
    let w = worker(&cp, "w1");
    let uri = cp.graph_uri("beta.omni");
    create_with_policy(&cp, "beta", &uri, ALLOW_ALL);
    let (s, b) = w.post("/graphs/beta/ingest", &json!({ "data": PEOPLE }), ADMIN);
    assert_eq!(s, 200, "{b}");

    let (s, d) = cp.get("/graphs/beta", ADMIN);
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["graph_id"], "beta");
    assert_eq!(d["uri"], uri.as_str());
    assert_eq!(d["manifest_version"], 2);
    assert_eq!(d["schema_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(d["policy"]["rule_ids"], json!(["all"]));
    let rows: Vec<(String, u64)> = d["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                t["table_key"].as_str().unwrap().to_owned(),
                t["row_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("node:Person".to_owned(), 1)), "{rows:?}");
    assert_eq!(d["workers"][0]["worker_id"], "w1");
    assert_eq!(d["workers"][0]["serving"], true);
    assert!(d["since_generation"].as_u64() <= d["workers"][0]["acknowledged_generation"].as_u64());

    let (s, b) = cp.get("/graphs/alpha", VIEWER);
    assert_envelope(s, &b, 403, "forbidden");
    let (s, b) = cp.get("/graphs/nope", ADMIN);
    assert_envelope(s, &b, 404, "not_found");
    let (s, b) = cp.get("/graphs/bad.id", ADMIN);
    assert_envelope(s, &b, 400, "bad_request");
}

#[test]
fn a_replaced_policy_is_enforced_by_every_worker_within_a_second() {
    let cp = with_server_policy();
    let w1 = worker(&cp, "w1");
    let w2 = worker(&cp, "w2");
    create_with_policy(&cp, "beta", &cp.graph_uri("beta.omni"), ALLOW_ALL);
    let read = json!({ "query_source": NAMES });
    for w in [&w1, &w2] {
        assert!(eventually(Duration::from_secs(1), || w
            .post("/graphs/beta/read", &read, VIEWER)
            .0
            == 200));
    }
    let before = cp.yaml();

    let started = Instant::now();
    let (s, d) = cp.patch(
        "/graphs/beta",
        &json!({ "policy": { "content": ADMIN_ONLY } }),
        ADMIN,
    );
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["policy"]["rule_ids"], json!(["admin-only"]));
    for w in [&w1, &w2] {
        assert!(
            eventually(
                Duration::from_secs(1).saturating_sub(started.elapsed()),
                || { w.post("/graphs/beta/read", &read, VIEWER).0 == 403 }
            ),
            "a worker still allows the viewer"
        );
        assert_eq!(w.post("/graphs/beta/read", &read, ADMIN).0, 200);
    }
    let after = cp.yaml();
    assert_ne!(before, after);
    assert!(
        !Path::new(&cp.path("policies/beta.yaml")).exists(),
        "old stored policy removed"
    );

    // Refusals change nothing.
    let (s, b) = cp.patch(
        "/graphs/beta",
        &json!({ "policy": { "content": "version: 1\nrules: [" } }),
        ADMIN,
    );
    assert_envelope(s, &b, 400, "bad_request");
    let (s, b) = cp.patch("/graphs/beta", &json!({ "policy": {} }), ADMIN);
    assert_envelope(s, &b, 400, "bad_request");
    let (s, b) = cp.patch(
        "/graphs/nope",
        &json!({ "policy": { "content": ADMIN_ONLY } }),
        ADMIN,
    );
    assert_envelope(s, &b, 404, "not_found");
    let (s, b) = cp.patch(
        "/graphs/beta",
        &json!({ "policy": { "content": ALLOW_ALL } }),
        VIEWER,
    );
    assert_envelope(s, &b, 403, "forbidden");
    assert_eq!(cp.yaml(), after);
    assert_eq!(w1.post("/graphs/beta/read", &read, VIEWER).0, 403);

    // A restart serves the replaced policy.
    let open = ControlPlane::start(ALPHA_YAML, ControlPlaneOptions::open());
    let (s, b) = open.patch(
        "/graphs/alpha",
        &json!({ "policy": { "content": ALLOW_ALL } }),
        None,
    );
    assert_envelope(s, &b, 400, "bad_request");
    assert!(b["error"].as_str().unwrap().contains("open mode"), "{b}");
}

#[test]
fn cli_get_update_and_delete_print_tables_and_json() {
    let cp = with_server_policy();
    let (s, b) = cp.create_graph("beta", &cp.graph_uri("beta.omni"), ADMIN);
    assert_eq!(s, 201, "{b}");
    let token = [("OMNIGRAPH_SERVER_BEARER_TOKEN", "admin-token-0123456789")];
    let policy = cp.root.join("new-policy.yaml");
    std::fs::write(&policy, ADMIN_ONLY).expect("policy");
    let cli = |args: &[&str]| {
        let run = run_control_plane(args, &token, Duration::from_secs(30)).expect("exits");
        assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
        run.stdout
    };
    let out = cli(&["graphs", "get", "--server", &cp.url, "--graph-id", "beta"]);
    assert!(
        out.contains("manifest version") && out.contains("beta.omni"),
        "{out}"
    );
    let out = cli(&[
        "graphs",
        "get",
        "--server",
        &cp.url,
        "--graph-id",
        "beta",
        "--json",
    ]);
    let json: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["graph_id"], "beta");

    let out = cli(&[
        "graphs",
        "update",
        "--server",
        &cp.url,
        "--graph-id",
        "beta",
        "--policy-upload",
        policy.to_str().unwrap(),
        "--json",
    ]);
    let json: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["policy"]["rule_ids"], json!(["admin-only"]));

    let out = cli(&[
        "graphs",
        "delete",
        "--server",
        &cp.url,
        "--graph-id",
        "beta",
        "--json",
    ]);
    let json: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["purged"], false);
    let run = run_control_plane(
        &[
            "graphs",
            "delete",
            "--server",
            &cp.url,
            "--graph-id",
            "beta",
        ],
        &token,
        Duration::from_secs(30),
    )
    .expect("exits");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    let run = run_control_plane(
        &[
            "graphs",
            "update",
            "--server",
            &cp.url,
            "--graph-id",
            "beta",
        ],
        &token,
        Duration::from_secs(30),
    )
    .expect("exits");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("--policy-file"), "{}", run.stderr);
}

#[test]
fn control_plane_readyz_reports_its_generation() {
    let cp = open_alpha();
    let (s, b) = cp.get("/readyz", None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["ready"], true);
    assert_eq!(b["registry_generation"], 1);
}

#[test]
fn delete_and_patch_refuse_with_503_when_omnigraph_yaml_drifted() {
    let cp = with_server_policy();
    let uri = cp.graph_uri("beta.omni");
    let (s, b) = cp.create_graph("beta", &uri, ADMIN);
    assert_eq!(s, 201, "{b}");
    // An operator edits the file by hand.
    let edited = format!("{}# hand edit\n", cp.yaml());
    std::fs::write(&cp.config_path, &edited).expect("edit yaml");

    let (s, b) = cp.delete("/graphs/beta", ADMIN);
    assert_envelope(s, &b, 503, "service_unavailable");
    let (s, b) = cp.patch(
        "/graphs/beta",
        &json!({ "policy": { "content": ALLOW_ALL } }),
        ADMIN,
    );
    assert_envelope(s, &b, 503, "service_unavailable");
    assert_eq!(cp.yaml(), edited, "the hand edit is kept");
    assert!(!tombstoned(&uri), "nothing was deleted");
    assert_eq!(cp.graph_ids(ADMIN), ["alpha", "beta"]);
    let stored: Vec<String> = std::fs::read_dir(cp.path("policies"))
        .expect("policies dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("beta."))
        .collect();
    assert!(stored.is_empty(), "no policy was stored: {stored:?}");
}
