//! Nobody gets around a deployment's authentication: an open-mode worker never joins an
//! authenticated control plane, a worker's internal route is guarded by the internal token
//! whenever the deployment authenticates (and is not mounted without a control plane), and
//! a blank or missing internal token is a start-up error.

use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

/// A control plane with tokens whose graph `alpha` is readable by act-admin only.
fn authenticated_control_plane() -> ControlPlane {
    let yaml = format!(
        "server:\n  policy: {{ file: ./policies/server.yaml }}\n\
         graphs:\n  alpha:\n    uri: {{graphs}}/alpha.omni\n    policy: {{ file: ./policies/team.yaml }}\n"
    );
    ControlPlane::start_with_files(
        &yaml,
        &[
            ("policies/server.yaml", SERVER_POLICY),
            ("policies/team.yaml", GRAPH_POLICY),
        ],
        ControlPlaneOptions::default().with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS),
    )
}

#[test]
fn an_open_mode_worker_cannot_join_an_authenticated_control_plane() {
    let cp = authenticated_control_plane();
    // The worker's own registration is refused ...
    let dp = DataPlane::start_unready(
        &["--control-plane", &cp.url, "--unauthenticated"],
        &[("OMNIGRAPH_INTERNAL_TOKEN", TEST_INTERNAL_TOKEN)],
    );
    assert!(
        eventually(Duration::from_secs(10), || cp
            .log()
            .contains("registration refused")),
        "{}",
        cp.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    // ... so it serves nothing: an anonymous change cannot reach the graph.
    assert_eq!(dp.get("/readyz", None).0, 503, "{}", dp.log());
    let (status, body) = dp.post(
        "/graphs/alpha/change",
        &json!({ "query_source": "query add() { insert Person { name: \"Mallory\" } }" }),
        None,
    );
    envelope(status, &body, 404, "not_found");
    assert!(dp.log().contains("403"), "{}", dp.log());

    // The registration route says why, to any caller that does not say `auth: bearer`.
    let token = Some(TEST_INTERNAL_TOKEN);
    for auth in [json!("open"), Value::Null] {
        let mut registration = json!({ "worker_id": "w-open", "url": "http://127.0.0.1:9" });
        if !auth.is_null() {
            registration["auth"] = auth.clone();
        }
        let (status, body) = cp.post("/internal/workers", &registration, token);
        assert_envelope(status, &body, 403, "forbidden");
        assert!(
            body["error"].as_str().unwrap_or("").contains("open-mode"),
            "{auth}: {body}"
        );
    }
    let (status, body) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "w-auth", "url": "http://127.0.0.1:9", "auth": "bearer" }),
        token,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "w-bad", "url": "http://127.0.0.1:9", "auth": "maybe" }),
        token,
    );
    assert_envelope(status, &body, 400, "bad_request");
}

#[test]
fn an_open_mode_worker_refuses_a_pushed_registry_with_policies() {
    let g = TempGraph::new("social.pg");
    let closed = format!("http://127.0.0.1:{}", free_port());
    let dp = DataPlane::start_unready(
        &["--control-plane", &closed, "--unauthenticated"],
        &[("OMNIGRAPH_INTERNAL_TOKEN", "internal-secret-0123456789")],
    );
    let (status, body) = dp.post(
        "/internal/registry",
        &json!({ "generation": 5, "graphs": [
            { "graph_id": "alpha", "uri": g.store, "policy": GRAPH_POLICY },
        ] }),
        Some("internal-secret-0123456789"),
    );
    envelope(status, &body, 403, "forbidden");
    assert!(
        body["error"].as_str().unwrap_or("").contains("open mode"),
        "{body}"
    );
    let (status, body) = dp.post(
        "/graphs/alpha/change",
        &json!({ "query_source": "query add() { insert Person { name: \"Mallory\" } }" }),
        None,
    );
    envelope(status, &body, 404, "not_found");
    assert_eq!(dp.get("/readyz", None).0, 503);
}

#[test]
fn internal_routes_are_not_mounted_without_a_control_plane() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[("OMNIGRAPH_INTERNAL_TOKEN", "internal-secret-0123456789")],
    );
    let evil = json!({ "generation": 9, "graphs": [
        { "graph_id": "evil", "uri": g.store },
    ] });
    for token in [None, Some("internal-secret-0123456789")] {
        let (status, body) = dp.post("/internal/registry", &evil, token);
        envelope(status, &body, 404, "not_found");
    }
}

/// `serve` with `env` (and nothing inherited of the auth settings): exit code and output.
fn serve_fails(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = data_plane();
    command
        .arg("serve")
        .args(["--bind", &format!("127.0.0.1:{}", free_port())])
        .args(args);
    for name in [
        "OMNIGRAPH_SERVER_BEARER_TOKEN",
        "OMNIGRAPH_SERVER_BEARER_TOKENS_FILE",
        "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
        "OMNIGRAPH_UNAUTHENTICATED",
        "OMNIGRAPH_INTERNAL_TOKEN",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let out = command.output().expect("run serve");
    assert!(!out.status.success(), "serve started: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_authenticated_worker_needs_the_internal_token_and_a_blank_one_refuses_to_start() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let tokens = ("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS);
    let err = serve_fails(&["--control-plane", &closed], &[tokens]);
    assert!(err.contains("OMNIGRAPH_INTERNAL_TOKEN"), "{err}");
    for blank in ["", "   "] {
        let err = serve_fails(
            &["--control-plane", &closed],
            &[tokens, ("OMNIGRAPH_INTERNAL_TOKEN", blank)],
        );
        assert!(err.contains("blank"), "{err}");
        let err = serve_fails(
            &["--control-plane", &closed, "--unauthenticated"],
            &[("OMNIGRAPH_INTERNAL_TOKEN", blank)],
        );
        assert!(err.contains("blank"), "{err}");
    }
}

#[test]
fn an_authenticated_control_plane_needs_the_internal_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("omnigraph.yaml");
    std::fs::write(
        &config,
        format!(
            "graphs:\n  alpha:\n    uri: {}\n",
            graph_uri(dir.path(), "alpha.omni")
        ),
    )
    .expect("config");
    let mut command = control_plane();
    command
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--bind", &format!("127.0.0.1:{}", free_port())])
        .env_remove("OMNIGRAPH_INTERNAL_TOKEN")
        .env_remove("OMNIGRAPH_UNAUTHENTICATED")
        .env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS);
    let out = command.output().expect("run serve");
    assert!(!out.status.success(), "started: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OMNIGRAPH_INTERNAL_TOKEN"), "{err}");
}
