//! Hostile and careless callers of the control plane (issue 19): policy files only from
//! the policy folder and never echoed, stored policies owned by one graph, worker
//! acknowledgements that cannot pin the registry generation, bearer tokens re-read from
//! their file by both planes, a public `/healthz` without details, minimum token length,
//! and a trimmed internal token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

/// The content of a file outside the policy folder that must never reach a caller.
const CANARY: &str = "s3cr3t-canary-line";
const INTERNAL: &str = "internal-token-for-the-e2e-tests";

/// A server on 127.0.0.1 that answers every request with `status` and `body` (what a
/// registered "worker" url could answer); its url.
fn fixed_answer_server(status: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.trim().eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut request_body = vec![0u8; length];
            let _ = reader.read_exact(&mut request_body);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// [`with_server_policy`] plus a graph `docs` created through the API (so that it has
/// storage: `PATCH` answers with the graph's details).
fn with_docs() -> ControlPlane {
    let cp = with_server_policy();
    let (status, answer) = cp.create_graph("docs", &cp.graph_uri("docs.omni"), ADMIN);
    assert_eq!(status, 201, "{answer}");
    cp
}

fn error_text(body: &Value) -> String {
    body["error"].as_str().unwrap_or_default().to_owned()
}

// ---- item 4: policy files come only from the policy folder, never echoed ----

#[test]
fn a_policy_file_outside_the_policy_folder_is_refused_without_echoing_it() {
    let cp = with_server_policy();
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("token");
    std::fs::write(&secret, format!("{CANARY}\n")).expect("write");
    std::fs::write(cp.root.join("secret.txt"), format!("{CANARY}\n")).expect("write");
    std::os::unix::fs::symlink(&secret, cp.root.join("policies/link.yaml")).expect("symlink");
    std::fs::create_dir_all(cp.root.join("policies/sub")).expect("mkdir");
    std::os::unix::fs::symlink("../../secret.txt", cp.root.join("policies/sub/up.yaml"))
        .expect("symlink");
    let yaml_before = cp.yaml();
    let files = [
        secret.to_string_lossy().into_owned(), // absolute, elsewhere
        "secret.txt".to_owned(),               // next to omnigraph.yaml, not in policies/
        "policies/../secret.txt".to_owned(),
        "policies/sub/../../secret.txt".to_owned(),
        "./policies/../secret.txt".to_owned(),
        format!("{}/policies/../secret.txt", cp.root.display()),
        "policies/link.yaml".to_owned(),   // a symlink leading out
        "policies/sub/up.yaml".to_owned(), // a relative symlink leading out
        "/etc/hostname".to_owned(),
        "policies".to_owned(), // the folder itself
        " ".to_owned(),
    ];
    for file in &files {
        let policy = json!({ "file": file });
        let mut body = create_body("beta", &cp.graph_uri("beta.omni"));
        body["policy"] = policy.clone();
        let (status, answer) = cp.post("/graphs", &body, ADMIN);
        assert_envelope(status, &answer, 400, "bad_request");
        assert!(
            !answer.to_string().contains(CANARY),
            "POST {file}: {answer}"
        );
        let (status, answer) = cp.patch("/graphs/alpha", &json!({ "policy": policy }), ADMIN);
        assert_envelope(status, &answer, 400, "bad_request");
        assert!(
            !answer.to_string().contains(CANARY),
            "PATCH {file}: {answer}"
        );
    }
    assert_eq!(cp.yaml(), yaml_before);
    assert_eq!(cp.graph_ids(ADMIN), ["alpha"]);
}

#[test]
fn a_file_in_the_policy_folder_that_is_not_a_policy_is_refused_naming_only_line_and_column() {
    let cp = with_server_policy();
    for (name, text) in [
        ("notes.yaml", format!("{CANARY}\n")),
        ("keys.yaml", format!("version: 1\n{CANARY}: x\n")),
        ("list.yaml", format!("- {CANARY}\n")),
        ("bad.yaml", format!("version: [\"{CANARY}\"\n")),
    ] {
        std::fs::write(cp.root.join("policies").join(name), text).expect("write");
        let file = format!("policies/{name}");
        let (status, answer) = cp.patch(
            "/graphs/alpha",
            &json!({ "policy": { "file": file } }),
            ADMIN,
        );
        assert_envelope(status, &answer, 400, "bad_request");
        let message = error_text(&answer);
        assert!(!message.contains(CANARY), "{file}: {answer}");
        assert!(message.contains(&file), "names the file: {answer}");
        assert!(message.contains("line"), "names the line: {answer}");
    }
    // A policy sent as content is not echoed either (it may be a pasted secret).
    let (status, answer) = cp.patch(
        "/graphs/alpha",
        &json!({ "policy": { "content": format!("{CANARY}\n") } }),
        ADMIN,
    );
    assert_envelope(status, &answer, 400, "bad_request");
    assert!(!answer.to_string().contains(CANARY), "{answer}");
}

#[test]
fn a_policy_file_inside_the_policy_folder_is_accepted_and_recorded_normalised() {
    let cp = with_docs();
    std::fs::create_dir_all(cp.root.join("policies/shared")).expect("mkdir");
    std::fs::write(cp.root.join("policies/shared/readers.yaml"), GRAPH_POLICY).expect("write");
    let absolute = cp.root.join("policies/shared/readers.yaml");
    for (file, recorded) in [
        ("./policies/team.yaml", "policies/team.yaml"),
        (
            absolute.to_str().expect("utf-8"),
            "policies/shared/readers.yaml",
        ),
    ] {
        let (status, answer) = cp.patch(
            "/graphs/docs",
            &json!({ "policy": { "file": file } }),
            ADMIN,
        );
        assert_eq!(status, 200, "{file}: {answer}");
        assert!(
            cp.yaml().contains(&format!("file: {recorded}")),
            "{file}: {}",
            cp.yaml()
        );
    }
}

// ---- item 10: a graph names only its own stored policies; a delete keeps named files ----

#[test]
fn a_graph_cannot_name_another_graphs_stored_policy() {
    let cp = with_server_policy();
    let mut body = create_body("beta", &cp.graph_uri("beta.omni"));
    body["policy"] = json!({ "content": GRAPH_POLICY });
    let (status, answer) = cp.post("/graphs", &body, ADMIN);
    assert_eq!(status, 201, "{answer}");
    assert!(cp.root.join("policies/beta.yaml").is_file());

    let (status, answer) = cp.patch(
        "/graphs/alpha",
        &json!({ "policy": { "file": "policies/beta.yaml" } }),
        ADMIN,
    );
    assert_envelope(status, &answer, 400, "bad_request");
    assert!(error_text(&answer).contains("beta"), "{answer}");
    let mut body = create_body("gamma", &cp.graph_uri("gamma.omni"));
    body["policy"] = json!({ "file": "policies/beta.yaml" });
    let (status, answer) = cp.post("/graphs", &body, ADMIN);
    assert_envelope(status, &answer, 400, "bad_request");
    assert!(!cp.yaml().contains("gamma"), "{}", cp.yaml());
}

#[test]
fn a_delete_never_removes_a_policy_file_another_graph_names_and_the_control_plane_restarts() {
    let mut cp = with_docs();
    // docs names policies/team.yaml while no graph `team` exists (a shared file)...
    let (status, answer) = cp.patch(
        "/graphs/docs",
        &json!({ "policy": { "file": "policies/team.yaml" } }),
        ADMIN,
    );
    assert_eq!(status, 200, "{answer}");
    // ...then graph `team` names the same file, which has its stored-policy name.
    let mut body = create_body("team", &cp.graph_uri("team.omni"));
    body["policy"] = json!({ "file": "policies/team.yaml" });
    let (status, answer) = cp.post("/graphs", &body, ADMIN);
    assert_eq!(status, 201, "{answer}");
    // Replacing team's policy, then deleting team, must keep the file docs names.
    let (status, answer) = cp.patch(
        "/graphs/team",
        &json!({ "policy": { "content": GRAPH_POLICY } }),
        ADMIN,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        cp.root.join("policies/team.yaml").is_file(),
        "PATCH removed a named file"
    );
    let (status, answer) = cp.delete("/graphs/team", ADMIN);
    assert_eq!(status, 200, "{answer}");
    assert!(
        cp.root.join("policies/team.yaml").is_file(),
        "DELETE removed a named file"
    );

    let config = cp.config_path.clone();
    cp.kill();
    let restarted = ControlPlane::start_on(
        &config,
        ControlPlaneOptions::default().with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS),
    )
    .unwrap_or_else(|log| panic!("the control plane does not start again:\n{log}"));
    assert_eq!(restarted.graph_ids(ADMIN), ["alpha", "docs"]);
}

#[test]
fn a_hand_written_yaml_naming_a_stored_policy_twice_keeps_it_on_delete() {
    // omnigraph.yaml is the operator's: two graphs may name one file there; a delete of
    // the graph whose stored-policy name it has must keep it for the other.
    let mut cp = with_server_policy();
    let mut body = create_body("beta", &cp.graph_uri("beta.omni"));
    body["policy"] = json!({ "content": GRAPH_POLICY });
    let (status, answer) = cp.post("/graphs", &body, ADMIN);
    assert_eq!(status, 201, "{answer}");
    let config = cp.config_path.clone();
    cp.kill();
    let yaml = std::fs::read_to_string(&config).expect("read");
    let alpha = "  alpha:\n    uri: ";
    assert!(yaml.contains(alpha), "{yaml}");
    let yaml = yaml.replacen(
        alpha,
        "  alpha:\n    policy: { file: ./policies/beta.yaml }\n    uri: ",
        1,
    );
    std::fs::write(&config, yaml).expect("hand edit");
    let options =
        || ControlPlaneOptions::default().with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS);
    let mut cp = ControlPlane::start_on(&config, options()).expect("the hand edit loads");
    let (status, answer) = cp.delete("/graphs/beta", ADMIN);
    assert_eq!(status, 200, "{answer}");
    assert!(cp.root.join("policies/beta.yaml").is_file());
    cp.kill();
    let restarted = ControlPlane::start_on(&config, options())
        .unwrap_or_else(|log| panic!("the control plane does not start again:\n{log}"));
    assert_eq!(restarted.graph_ids(ADMIN), ["alpha"]);
}

// ---- item 5: an acknowledgement above the current generation is never adopted ----

#[test]
fn a_worker_acknowledging_generation_u64_max_does_not_pin_the_registry() {
    let cp = open_alpha();
    let evil = fixed_answer_server(
        "200 OK",
        json!({ "worker_id": "evil", "generation": u64::MAX, "applied": false }).to_string(),
    );
    let (status, _) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "evil", "url": evil }),
        None,
    );
    assert_eq!(status, 200);
    let honest = FakeWorker::start();
    let (status, _) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "honest", "url": honest.url }),
        None,
    );
    assert_eq!(status, 200);
    for (i, id) in ["beta", "gamma"].into_iter().enumerate() {
        let (status, answer) = cp.create_graph(id, &cp.graph_uri(&format!("{id}.omni")), None);
        assert_eq!(status, 201, "{answer}");
        let generation = 2 + i as u64;
        let (_, registry) = cp.get("/internal/registry", None);
        assert_eq!(registry["generation"], generation, "{registry}");
        honest
            .wait_for_push(Duration::from_secs(5), |doc| {
                doc["generation"] == generation
            })
            .unwrap_or_else(|| panic!("generation {generation} not pushed: {:?}", honest.pushed()));
    }
    let health = cp.health();
    let evil_report = health["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["worker_id"] == "evil")
        .cloned()
        .expect("evil is listed");
    assert!(evil_report["acknowledged_generation"].is_null(), "{health}");
    assert!(
        health["warnings"].to_string().contains("worker evil"),
        "the refused acknowledgement is reported: {health}"
    );
}

// ---- item 11: tokens from a file are re-read by both planes ----

fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

#[test]
fn rotating_the_tokens_file_takes_effect_on_both_planes_without_a_restart() {
    const OLD: &str = "old-admin-token-0123456789";
    const NEW: &str = "new-admin-token-0123456789";
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens.json");
    write_atomically(&tokens, &json!({ "act-admin": OLD }).to_string());
    let tokens_env = tokens.to_string_lossy().into_owned();
    let cp = ControlPlane::start_with_files(
        "server:\n  policy: { file: ./policies/server.yaml }\ngraphs: {}\n",
        &[("policies/server.yaml", SERVER_POLICY)],
        ControlPlaneOptions::default()
            .with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_FILE", &tokens_env)
            .with_env("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
    );
    let (status, answer) = cp.create_graph("alpha", &cp.graph_uri("alpha.omni"), Some(OLD));
    assert_eq!(status, 201, "{answer}");
    let worker = DataPlane::start(
        &["--control-plane", &cp.url, "--worker-id", "w1"],
        &[
            ("OMNIGRAPH_SERVER_BEARER_TOKENS_FILE", tokens_env.as_str()),
            ("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
        ],
    );
    let cp_status = |token: &str| cp.get("/graphs", Some(token)).0;
    let dp_status = |token: &str| worker.get("/graphs/alpha/snapshot", Some(token)).0;
    assert!(
        eventually(Duration::from_secs(10), || dp_status(OLD) == 200),
        "the worker does not serve alpha:\n{}",
        worker.log()
    );
    assert_eq!(cp_status(OLD), 200);
    assert_eq!(cp_status(NEW), 401);
    assert_eq!(dp_status(NEW), 401);

    write_atomically(&tokens, &json!({ "act-admin": NEW }).to_string());
    assert!(
        eventually(Duration::from_secs(5), || cp_status(OLD) == 401
            && dp_status(OLD) == 401),
        "the old token still works: control plane {}, worker {}",
        cp_status(OLD),
        dp_status(OLD)
    );
    assert_eq!(cp_status(NEW), 200);
    assert_eq!(dp_status(NEW), 200);

    // A file that becomes invalid keeps the last good set (and says so in the logs).
    std::fs::write(&tokens, "{\"act-admin\": ").expect("write");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(cp_status(NEW), 200);
    assert_eq!(dp_status(NEW), 200);
    assert!(cp.log().contains("keeping"), "{}", cp.log());
    // An in-place rewrite (not a rename) is seen too.
    std::fs::write(&tokens, json!({ "act-admin": OLD }).to_string()).expect("write");
    assert!(
        eventually(Duration::from_secs(5), || cp_status(OLD) == 200
            && dp_status(OLD) == 200
            && cp_status(NEW) == 401
            && dp_status(NEW) == 401),
        "the in-place rewrite was not seen"
    );
}

// ---- item 12: public /healthz says up or not; details need a token ----

#[test]
fn public_healthz_shows_no_worker_url_or_answer_and_details_need_a_token() {
    const ANSWER: &str = "canary-answer-of-a-registered-url";
    let cp = ControlPlane::start_with_files(
        &format!("server:\n  policy: {{ file: ./policies/server.yaml }}\n{ALPHA_YAML}"),
        &[("policies/server.yaml", SERVER_POLICY)],
        ControlPlaneOptions::default()
            .with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)
            .with_env("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
    );
    let url = fixed_answer_server("404 Not Found", format!("{{\"error\": \"{ANSWER}\"}}"));
    let (status, answer) = cp.post(
        "/internal/workers",
        &json!({ "worker_id": "probe", "url": url, "auth": "bearer" }),
        Some(INTERNAL),
    );
    assert_eq!(status, 200, "{answer}");
    let detailed = |token: Option<&str>| {
        let (status, body) = cp.get("/healthz", token);
        assert_eq!(status, 200, "{body}");
        body
    };
    assert!(
        eventually(Duration::from_secs(10), || detailed(ADMIN)["warnings"]
            .to_string()
            .contains(ANSWER)),
        "an actor sees the push error: {}",
        detailed(ADMIN)
    );
    // Any configured token sees the details, whatever the server policy allows it.
    let viewer = detailed(VIEWER);
    assert_eq!(
        viewer["workers"][0]["url"].as_str(),
        Some(format!("{url}/").as_str()),
        "{viewer}"
    );
    assert!(viewer["registry_generation"].is_u64(), "{viewer}");

    let (status, public) = cp.get("/healthz", None);
    assert_eq!(status, 200, "{public}");
    let text = public.to_string();
    assert!(!text.contains(ANSWER), "{public}");
    assert!(!text.contains(&url), "{public}");
    assert!(public.get("workers").is_none(), "{public}");
    assert!(public.get("registry_generation").is_none(), "{public}");
    assert!(public.get("warnings").is_none(), "{public}");
    assert_eq!(public["status"], "ok", "{public}");
    assert_eq!(public["auth"], "bearer", "{public}");
    assert!(public["version"].is_string(), "{public}");

    let (status, answer) = cp.get("/healthz", Some("not-a-configured-token"));
    assert_envelope(status, &answer, 401, "unauthorized");
}

// ---- tokens: minimum length at start; the internal token is trimmed ----

/// Runs `command` with only `env` of the auth variables; `None` when it still ran after
/// `timeout` (killed).
fn run_with_timeout(
    mut command: std::process::Command,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Option<Run> {
    for name in [
        "OMNIGRAPH_SERVER_BEARER_TOKEN",
        "OMNIGRAPH_SERVER_BEARER_TOKENS_FILE",
        "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
        "OMNIGRAPH_UNAUTHENTICATED",
        "OMNIGRAPH_INTERNAL_TOKEN",
    ] {
        command.env_remove(name);
    }
    command
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Some(child.wait_with_output().expect("output").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn tokens_shorter_than_16_bytes_refuse_the_start_of_both_planes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("omnigraph.yaml");
    std::fs::write(&config, "graphs: {}\n").expect("write");
    let config = config.to_str().expect("utf-8");
    let short_json = r#"{"act-admin": "fifteen-bytes-x"}"#;
    // With the internal token a deployment with bearer tokens needs: the short token is
    // the only reason to refuse.
    for env in [
        [
            ("OMNIGRAPH_SERVER_BEARER_TOKEN", "short"),
            ("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
        ],
        [
            ("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", short_json),
            ("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
        ],
    ] {
        let args = ["serve", "--config", config, "--bind", "127.0.0.1:0"];
        let run =
            run_control_plane(&args, &env, Duration::from_secs(20)).expect("refuses to start");
        assert_ne!(run.status, 0);
        assert!(run.stderr.contains("16 bytes"), "{}", run.stderr);
        assert!(!run.stderr.contains("fifteen-bytes-x"), "{}", run.stderr);

        let mut dp = data_plane();
        dp.args(["serve", "--config", config, "--bind", "127.0.0.1:0"]);
        let run = run_with_timeout(dp, &env, Duration::from_secs(20)).expect("refuses to start");
        assert_ne!(run.status, 0);
        assert!(run.stderr.contains("16 bytes"), "{}", run.stderr);
    }
    // A short internal token too.
    let args = [
        "serve",
        "--config",
        config,
        "--bind",
        "127.0.0.1:0",
        "--unauthenticated",
    ];
    let run = run_control_plane(
        &args,
        &[("OMNIGRAPH_INTERNAL_TOKEN", "short")],
        Duration::from_secs(20),
    )
    .expect("refuses to start");
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("16 bytes"), "{}", run.stderr);
}

#[test]
fn an_internal_token_with_surrounding_whitespace_is_trimmed_by_the_worker() {
    let cp = ControlPlane::start(
        ALPHA_YAML,
        ControlPlaneOptions::open().with_env("OMNIGRAPH_INTERNAL_TOKEN", INTERNAL),
    );
    // As read from a secret file with its final newline.
    let padded = format!(" {INTERNAL}\n");
    let worker = DataPlane::start(
        &[
            "--control-plane",
            &cp.url,
            "--worker-id",
            "w1",
            "--unauthenticated",
        ],
        &[("OMNIGRAPH_INTERNAL_TOKEN", padded.as_str())],
    );
    let (status, health) = worker.get("/healthz", None);
    assert_eq!(status, 200);
    assert_eq!(health["ready"], true, "{health}");
}
