//! `ControlPlane`: the real `omnigraph-control-plane serve` on a free 127.0.0.1 port with
//! its omnigraph.yaml in a temp dir, killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::control_plane as control_plane_command;

/// Auth variables of both servers, which tests set explicitly (never inherited).
pub(crate) const AUTH_ENV: [&str; 6] = [
    "OMNIGRAPH_SERVER_BEARER_TOKEN",
    "OMNIGRAPH_SERVER_BEARER_TOKENS_FILE",
    "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
    "OMNIGRAPH_UNAUTHENTICATED",
    "OMNIGRAPH_INTERNAL_TOKEN",
    "OMNIGRAPH_METRICS_TOKEN",
];

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The internal token that authenticated control planes and their workers get unless a
/// test sets its own: a deployment with bearer tokens must have one.
pub const TEST_INTERNAL_TOKEN: &str = "test-internal-token-0123456789";

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// How to start a control plane.
#[derive(Clone, Default)]
pub struct ControlPlaneOptions {
    /// Pass `--unauthenticated`.
    pub unauthenticated: bool,
    /// Extra environment (tokens, internal token).
    pub env: Vec<(String, String)>,
}

impl ControlPlaneOptions {
    pub fn open() -> Self {
        ControlPlaneOptions {
            unauthenticated: true,
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

pub struct ControlPlane {
    /// Owns the temp dir when this control plane created it.
    dir: Option<tempfile::TempDir>,
    pub root: PathBuf,
    pub config_path: PathBuf,
    pub url: String,
    pub log_path: PathBuf,
    child: Child,
    client: reqwest::blocking::Client,
}

impl ControlPlane {
    /// Writes `yaml` as `omnigraph.yaml` in a new temp dir (`{root}` in it is replaced
    /// by the dir's path, `{graphs}` by the folder for graph uris, see
    /// [`graphs_root`](crate::graphs_root)) and starts a control plane on it.
    pub fn start(yaml: &str, options: ControlPlaneOptions) -> ControlPlane {
        Self::start_with_files(yaml, &[], options)
    }

    /// Like [`start`](Self::start), also writing `files` (relative path, content)
    /// beside omnigraph.yaml first.
    pub fn start_with_files(
        yaml: &str,
        files: &[(&str, &str)],
        options: ControlPlaneOptions,
    ) -> ControlPlane {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        for (name, content) in files {
            let path = root.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(path, fill_in(content, &root)).expect("write file");
        }
        let config_path = root.join("omnigraph.yaml");
        std::fs::write(&config_path, fill_in(yaml, &root)).expect("write yaml");
        let mut cp = Self::start_on(&config_path, options)
            .unwrap_or_else(|log| panic!("control plane did not start:\n{log}"));
        cp.dir = Some(dir);
        cp
    }

    /// Starts a control plane on an existing omnigraph.yaml (whose directory outlives
    /// it). Err carries the process's log when it exited instead of serving.
    pub fn start_on(
        config_path: &Path,
        options: ControlPlaneOptions,
    ) -> Result<ControlPlane, String> {
        Self::start_on_port(config_path, None, options)
    }

    /// Like [`start_on`](Self::start_on), on `port` when given (a restart that workers
    /// configured with the old URL must find again).
    pub fn start_on_port(
        config_path: &Path,
        port: Option<u16>,
        options: ControlPlaneOptions,
    ) -> Result<ControlPlane, String> {
        let root = config_path.parent().expect("config dir").to_path_buf();
        let mut last_log = String::new();
        let fixed = port;
        for _ in 0..3 {
            let port = fixed.unwrap_or_else(free_port);
            let log_path = root.join(format!("control-plane-{port}.log"));
            let child = spawn(
                config_path,
                &format!("127.0.0.1:{port}"),
                &options,
                &log_path,
            );
            let mut cp = ControlPlane {
                dir: None,
                root: root.clone(),
                config_path: config_path.to_path_buf(),
                url: format!("http://127.0.0.1:{port}"),
                log_path,
                child,
                client: reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(60))
                    // A fresh connection per request: a server that refuses a body early (413) closes its
                    // connection, and a pooled reuse of it would fail the next request at random.
                    .pool_max_idle_per_host(0)
                    .build()
                    .expect("http client"),
            };
            match cp.wait_ready() {
                Ok(()) => return Ok(cp),
                Err(log) if log.contains("cannot listen") && fixed.is_none() => last_log = log, // port race: retry
                Err(log) => return Err(log),
            }
        }
        Err(last_log)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.log());
            }
            if let Ok(r) = self
                .client
                .get(self.endpoint("/healthz"))
                .timeout(Duration::from_secs(1))
                .send()
            {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        Err(format!(
            "not ready within {START_TIMEOUT:?}:\n{}",
            self.log()
        ))
    }

    /// Everything the process wrote to stdout and stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn yaml(&self) -> String {
        std::fs::read_to_string(&self.config_path).expect("read omnigraph.yaml")
    }

    /// A path under the control plane's temp dir, as a string.
    pub fn path(&self, relative: &str) -> String {
        self.root.join(relative).to_string_lossy().into_owned()
    }

    /// The uri for a graph of this test: in the temp dir, or in the test storage.
    pub fn graph_uri(&self, name: &str) -> String {
        crate::graph_uri(&self.root, name)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(self.endpoint(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        into_json(request.send().expect("GET"))
    }

    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.post(self.endpoint(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        into_json(request.send().expect("POST"))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.delete(self.endpoint(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        into_json(request.send().expect("DELETE"))
    }

    pub fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.patch(self.endpoint(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        into_json(request.send().expect("PATCH"))
    }

    /// `POST /graphs` of `{ graph_id, uri, schema: { source } }`.
    pub fn create_graph(&self, graph_id: &str, uri: &str, token: Option<&str>) -> (u16, Value) {
        self.post("/graphs", &create_body(graph_id, uri), token)
    }

    pub fn health(&self) -> Value {
        let (status, body) = self.get("/healthz", None);
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn graph_ids(&self, token: Option<&str>) -> Vec<String> {
        let (status, body) = self.get("/graphs", token);
        assert_eq!(status, 200, "{body}");
        body["graphs"]
            .as_array()
            .expect("graphs array")
            .iter()
            .map(|g| g["graph_id"].as_str().expect("graph_id").to_owned())
            .collect()
    }

    /// The port this control plane listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in url")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
        // Keep the temp dir (and its log) when a test failed, for the post-mortem.
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("control plane log:\n{}", self.log());
                let _ = dir.keep();
            }
        }
    }
}

fn spawn(config: &Path, bind: &str, options: &ControlPlaneOptions, log_path: &Path) -> Child {
    let log = std::fs::File::create(log_path).expect("create log file");
    let mut command: Command = control_plane_command();
    command
        .args(["serve", "--config"])
        .arg(config)
        .args(["--bind", bind])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log)
        .env("RUST_LOG", "info");
    for name in AUTH_ENV {
        command.env_remove(name);
    }
    if options.unauthenticated {
        command.arg("--unauthenticated");
    } else {
        command.env("OMNIGRAPH_INTERNAL_TOKEN", TEST_INTERNAL_TOKEN);
    }
    for (name, value) in &options.env {
        command.env(name, value);
    }
    command.spawn().expect("spawn omnigraph-control-plane")
}

fn into_json(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().expect("response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// The smallest valid schema.
pub const PERSON_SCHEMA: &str = "node Person {\n    name: String @key\n}\n";

/// `{root}` -> the temp dir, `{graphs}` -> the folder for graph uris.
fn fill_in(text: &str, root: &Path) -> String {
    text.replace("{graphs}", &crate::graphs_root(root))
        .replace("{root}", &root.to_string_lossy())
}

pub fn create_body(graph_id: &str, uri: &str) -> Value {
    json!({ "graph_id": graph_id, "uri": uri, "schema": { "source": PERSON_SCHEMA } })
}

/// Runs the control-plane binary with `args` and `env` (auth variables cleared first)
/// and waits up to `timeout` for it to exit; `None` if it was still running (killed).
pub fn run_control_plane(
    args: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Option<crate::Run> {
    let mut command = control_plane_command();
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in AUTH_ENV {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn omnigraph-control-plane");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Some(child.wait_with_output().expect("collect output").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
