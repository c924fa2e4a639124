//! Shared support for end-to-end tests: find the real binaries, run CLI commands, and start
//! servers on free 127.0.0.1 ports in temp dirs (killed on drop).

mod control_plane;
mod control_plane_fixtures;
mod data_plane;
mod embedder;
mod fake_worker;
mod faults;
mod otlp;
mod prometheus;
mod storage;

pub use control_plane::*;
pub use control_plane_fixtures::*;
pub use data_plane::{envelope, DataPlane};
pub use embedder::*;
pub use fake_worker::*;
pub use faults::*;
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use prometheus::{require_prometheus, Prometheus};
pub use storage::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a workspace binary, built by `cargo test` next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "binary {} not built; run the tests with `cargo test --workspace`",
        path.display()
    );
    path
}

/// Polls `check` until it holds or `timeout` passes; whether it held.
pub fn eventually(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn data_plane() -> Command {
    loopback_only(Command::new(bin("omnigraph-data-plane")))
}

pub fn control_plane() -> Command {
    loopback_only(Command::new(bin("omnigraph-control-plane")))
}

/// Every binary a test starts reaches object storage on 127.0.0.1 only: unless the S3
/// test server's variables are set (tests/s3/run.sh), the AWS_* variables name a closed
/// loopback port and instance metadata is off, so an `s3://` uri in a test can never send
/// a request anywhere else. Nor does it export traces to an OTLP endpoint of the
/// environment: only a test that sets one (tests/tests/traces.rs, to its own receiver).
fn loopback_only(mut command: Command) -> Command {
    command
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        command
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "none")
            .env("AWS_SECRET_ACCESS_KEY", "none")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }
    command
}

/// The outcome of one CLI run.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run the data-plane CLI with `args`.
pub fn dp(args: &[&str]) -> Run {
    data_plane()
        .args(args)
        .output()
        .expect("run omnigraph-data-plane")
        .into()
}

/// Run and require success; returns stdout.
pub fn dp_ok(args: &[&str]) -> String {
    let r = dp(args);
    assert_eq!(
        r.status, 0,
        "omnigraph-data-plane {args:?} failed:\n{}",
        r.stderr
    );
    r.stdout
}

/// Run with `--json` output and parse it.
pub fn dp_json(args: &[&str]) -> serde_json::Value {
    let out = dp_ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// This crate's directory: the `CARGO_MANIFEST_DIR` that cargo sets when it runs the
/// tests (a build cache shared by two clones may hold a build whose compiled-in path
/// names the other clone), else the compiled-in one.
pub fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// A file of the workspace, by its path from the workspace root.
pub fn workspace_file(path: &str) -> PathBuf {
    crate_dir().join("..").join(path)
}

pub fn fixture(name: &str) -> PathBuf {
    crate_dir().join("fixtures").join(name)
}

/// A temp dir holding a graph initialised from a fixture schema.
pub struct TempGraph {
    pub dir: tempfile::TempDir,
    pub store: String,
}

impl TempGraph {
    pub fn new(schema_fixture: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = graph_uri(dir.path(), "graph.omni");
        let schema = fixture(schema_fixture);
        dp_ok(&["init", "--schema", schema.to_str().unwrap(), &store]);
        TempGraph { dir, store }
    }

    /// A graph of `tests/fixtures/social.pg` with `social.jsonl` loaded.
    pub fn social() -> Self {
        let g = TempGraph::new("social.pg");
        let data = fixture("social.jsonl");
        dp_ok(&[
            "load",
            "--data",
            data.to_str().unwrap(),
            "--mode",
            "overwrite",
            "--store",
            &g.store,
        ]);
        g
    }

    pub fn write_file(&self, name: &str, contents: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p.to_string_lossy().into_owned()
    }

    pub fn snapshot(&self) -> serde_json::Value {
        dp_json(&["snapshot", "--store", &self.store, "--json"])
    }

    pub fn row_count(&self, table_key: &str) -> u64 {
        let snap = self.snapshot();
        snap["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["table_key"] == table_key))
            .and_then(|t| t["row_count"].as_u64())
            .unwrap_or_else(|| panic!("no table {table_key} in {snap}"))
    }

    /// Exported JSONL lines, sorted, for whole-graph comparisons.
    pub fn export_sorted(&self) -> Vec<String> {
        let out = dp_ok(&["export", "--store", &self.store]);
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }
}

/// The `p.name` column of a read response, in order.
pub fn person_names(body: &serde_json::Value) -> Vec<String> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["p.name"].as_str().unwrap_or_default().to_owned())
        .collect()
}
