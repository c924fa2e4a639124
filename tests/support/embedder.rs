//! `Embedder`: the local embedding server of `tests/embedder/server.py` (the real
//! all-MiniLM-L6-v2 model, run with numpy) on a free 127.0.0.1 port; killed on drop.
//! Its Python environment is installed by `tests/embedder/setup.sh` on first use.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The model the server serves.
pub const EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";

pub struct Embedder {
    /// The OpenAI-compatible API base, e.g. `http://127.0.0.1:40123/v1`.
    pub url: String,
    child: Child,
}

impl Embedder {
    pub fn start() -> Embedder {
        Embedder::start_with(&[])
    }

    /// A stand-in for a model of `384 * times` dimensions (the industry-intel cookbook's
    /// Chunk embeddings are 3072-dimensional): the real model's vectors repeated, so that
    /// every similarity is the real model's (tests/embedder/server.py, `--tile`).
    pub fn start_tiled(times: u32) -> Embedder {
        Embedder::start_with(&["--tile".to_string(), times.to_string()])
    }

    fn start_with(extra: &[String]) -> Embedder {
        let dir = crate::workspace_file("tests/embedder");
        let setup = Command::new("bash")
            .arg(dir.join("setup.sh"))
            .status()
            .expect("run tests/embedder/setup.sh");
        assert!(setup.success(), "tests/embedder/setup.sh failed");
        let venv = std::env::var_os("OMNIGRAPH_EMBEDDER_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                    .join(".cache/omnigraph/embedder-venv")
            });
        let mut child = Command::new(venv.join("bin/python"))
            .arg(dir.join("server.py"))
            .args(["--port", "0", "--quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the embedding server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's first line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the embedding server: {line:?}"))
            .to_string();
        Embedder {
            url: format!("{base}/v1"),
            child,
        }
    }

    /// The environment that points a data plane or the CLI at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OMNIGRAPH_EMBEDDING_URL", self.url.clone()),
            ("OMNIGRAPH_EMBEDDING_MODEL", EMBEDDING_MODEL.to_string()),
        ]
    }
}

impl Drop for Embedder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
