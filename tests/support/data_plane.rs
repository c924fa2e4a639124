//! `DataPlane`: the real `omnigraph-data-plane serve` on a free 127.0.0.1 port, started
//! from an omnigraph.yaml or against a control plane; waits until it has applied a
//! registry generation; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::control_plane::{AUTH_ENV, TEST_INTERNAL_TOKEN};
use crate::{data_plane as data_plane_command, free_port};

const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct DataPlane {
    pub url: String,
    pub log_path: PathBuf,
    _log_dir: tempfile::TempDir,
    child: Child,
    client: reqwest::blocking::Client,
}

impl DataPlane {
    /// `serve --config <config>` with extra `args` and `env`.
    pub fn with_config(config: &Path, args: &[&str], env: &[(&str, &str)]) -> DataPlane {
        let config = config.to_string_lossy().into_owned();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        Self::start(&all, env)
    }

    /// Single mode on `g`'s graph, open (no tokens, no policy).
    pub fn single_mode_open(g: &crate::TempGraph) -> DataPlane {
        Self::single_mode(g, "", &["--unauthenticated"], &[])
    }

    /// Single mode on `g`'s graph with `policy` (a policy file's text) and bearer `tokens`
    /// (`OMNIGRAPH_SERVER_BEARER_TOKENS_JSON`).
    pub fn single_mode_with_policy(g: &crate::TempGraph, policy: &str, tokens: &str) -> DataPlane {
        std::fs::write(g.dir.path().join("p.yaml"), policy).expect("policy");
        Self::single_mode(
            g,
            "  policy: { file: p.yaml }\n",
            &[],
            &[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", tokens)],
        )
    }

    /// Single mode on `g`'s graph: an omnigraph.yaml in its temp dir with `extra` lines
    /// under `graph:`.
    pub fn single_mode(
        g: &crate::TempGraph,
        extra: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> DataPlane {
        let path = g.dir.path().join("omnigraph.yaml");
        std::fs::write(&path, format!("graph:\n  uri: {}\n{extra}", g.store)).expect("config");
        Self::with_config(&path, args, env)
    }

    /// `serve --control-plane <url> --unauthenticated`.
    pub fn with_control_plane(cp_url: &str, worker_id: &str) -> DataPlane {
        Self::start(
            &[
                "--control-plane",
                cp_url,
                "--worker-id",
                worker_id,
                "--unauthenticated",
            ],
            &[],
        )
    }

    pub fn start(args: &[&str], env: &[(&str, &str)]) -> DataPlane {
        let mut dp = Self::spawn(args, env);
        dp.wait_ready(true);
        dp
    }

    /// Like [`start`](Self::start), but waits only until the worker answers `/healthz`,
    /// ready or not (a worker whose control plane is not there).
    pub fn start_unready(args: &[&str], env: &[(&str, &str)]) -> DataPlane {
        let mut dp = Self::spawn(args, env);
        dp.wait_ready(false);
        dp
    }

    fn spawn(args: &[&str], env: &[(&str, &str)]) -> DataPlane {
        let log_dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log_path = log_dir.path().join("data-plane.log");
        let log = std::fs::File::create(&log_path).expect("create log");
        let mut command = data_plane_command();
        command
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .env("RUST_LOG", "info");
        for name in AUTH_ENV {
            command.env_remove(name);
        }
        if args.contains(&"--control-plane") && !args.contains(&"--unauthenticated") {
            command.env("OMNIGRAPH_INTERNAL_TOKEN", TEST_INTERNAL_TOKEN);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("spawn omnigraph-data-plane serve");
        DataPlane {
            url: format!("http://127.0.0.1:{port}"),
            log_path,
            _log_dir: log_dir,
            child,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                // A fresh connection per request: a server that refuses a body early (413) closes its
                // connection, and a pooled reuse of it would fail the next request at random.
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        }
    }

    fn wait_ready(&mut self, need_ready: bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("data plane exited ({status}):\n{}", self.log());
            }
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(1))
                .send()
            {
                if let Ok(body) = r.json::<Value>() {
                    if body["ready"] == true || !need_ready {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("data plane not ready:\n{}", self.log());
    }

    /// Sends SIGTERM (a graceful shutdown request).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// The worker's resident memory now, in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Waits up to `timeout` for the process to exit; its exit code, or None if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.client.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        json_of(r.send().expect("GET"))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut r = self.client.delete(format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        json_of(r.send().expect("DELETE"))
    }

    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        self.post_raw(path, body.to_string(), token)
    }

    pub fn post_raw(&self, path: &str, body: String, token: Option<&str>) -> (u16, Value) {
        let (status, text) = self.post_text(path, body, token);
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text}"));
        (status, body)
    }

    /// Raw POST with a JSON content type; returns the status and the body text.
    pub fn post_text(&self, path: &str, body: String, token: Option<&str>) -> (u16, String) {
        let mut r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let response = r.send().expect("POST");
        let status = response.status().as_u16();
        (status, response.text().expect("body"))
    }
}

fn json_of(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text}"));
    (status, body)
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("data plane log:\n{}", self.log());
        }
    }
}

/// An error answer: `expected` status, the envelope with `code` and a message.
pub fn envelope(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].is_string(), "{body}");
}
