//! Harness of the fault and load scenarios (tests/examples/fault_*.rs, load_mixed.rs, run
//! by tests/faults/run.sh): the S3-compatible server as a process the scenario can kill
//! and restart, the storage a scenario's graphs live in, and latency figures.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The S3-compatible test server (tests/s3/server), on a fixed port across restarts.
pub struct S3Server {
    bin: PathBuf,
    data: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl S3Server {
    /// Starts the server at `bin` with an empty data dir and one bucket, `omnigraph`, and
    /// points this process's AWS_* variables (the binaries started later inherit them) and
    /// OMNIGRAPH_TEST_STORAGE at it.
    pub fn start(bin: &Path) -> S3Server {
        let mut server = S3Server {
            bin: bin.to_path_buf(),
            data: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            child: None,
        };
        server.restart();
        for (name, value) in [
            ("AWS_ENDPOINT_URL", server.endpoint()),
            ("AWS_ACCESS_KEY_ID", "omnigraph-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "omnigraph-test-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("OMNIGRAPH_TEST_STORAGE", "s3://omnigraph/scenarios".into()),
        ] {
            std::env::set_var(name, value);
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the store is gone at once, mid-request for whoever was talking to it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data; returns once it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .expect("server log");
        let child = Command::new(&self.bin)
            .arg(self.data.path().join("objects"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--bucket", "omnigraph"])
            .args(["--access-key", "omnigraph-test"])
            .args(["--secret-key", "omnigraph-test-secret"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start the S3 test server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the S3 test server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where a scenario's graphs live: a local temp dir, or the S3 test server when
/// OMNIGRAPH_S3_SERVER names its binary (tests/faults/run.sh sets it).
pub struct ScenarioStorage {
    pub s3: Option<S3Server>,
    dir: tempfile::TempDir,
}

impl ScenarioStorage {
    pub fn from_env() -> ScenarioStorage {
        let s3 = std::env::var_os("OMNIGRAPH_S3_SERVER")
            .filter(|b| !b.is_empty())
            .map(|bin| S3Server::start(Path::new(&bin)));
        ScenarioStorage {
            s3,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The same placement as the integration tests' [`graph_uri`](crate::graph_uri): the
    /// S3 server's bucket when there is one (its start sets OMNIGRAPH_TEST_STORAGE), else
    /// the temp dir.
    pub fn graph_uri(&self, name: &str) -> String {
        crate::graph_uri(self.dir.path(), name)
    }

    pub fn describe(&self) -> String {
        match &self.s3 {
            Some(s) => format!("S3-compatible server at {}", s.endpoint()),
            None => "local disk".into(),
        }
    }
}

/// Latencies of one kind of request, for median / p99 figures.
#[derive(Default, Clone)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.samples.push(d);
    }

    pub fn merge(&mut self, other: &Latencies) {
        self.samples.extend_from_slice(&other.samples);
    }

    pub fn count(&self) -> usize {
        self.samples.len()
    }

    /// The q-quantile (0..=1) in milliseconds; 0 with no samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }

    /// `n=…, median …ms, p99 …ms`
    pub fn summary(&self) -> String {
        format!(
            "n={}, median {:.1} ms, p99 {:.1} ms",
            self.count(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99)
        )
    }
}

/// An HTTP client for load generators: fresh connections are fine, short timeouts are not
/// (a load can take seconds), so 120 s.
pub fn load_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// JSONL of `n` Person rows named `{prefix}{i}` (with the `age` property of the fault
/// scenarios' schema), and a Knows edge from each to the previous one.
pub fn people_jsonl(prefix: &str, n: usize) -> String {
    let mut out = String::with_capacity(n * 110);
    for i in 0..n {
        out.push_str(&format!(
            "{{\"type\": \"Person\", \"data\": {{\"name\": \"{prefix}{i}\", \"age\": {}}}}}\n",
            i % 100
        ));
    }
    for i in 1..n {
        out.push_str(&format!(
            "{{\"edge\": \"Knows\", \"from\": \"{prefix}{i}\", \"to\": \"{prefix}{}\"}}\n",
            i - 1
        ));
    }
    out
}

/// The schema of the fault and load scenarios.
pub const SCENARIO_SCHEMA: &str =
    "node Person {\n    name: String @key\n    age: I32?\n}\nedge Knows: Person -> Person\n";
