//! `Prometheus`: the real `prometheus` server (Debian's package) on a free 127.0.0.1 port,
//! scraping the given targets every second with the deployment's alert rules
//! (deploy/prometheus/alerts.yml) loaded, its data in a temp dir; killed on drop. Used by
//! tests/tests/metrics.rs and the load_mixed scenario. A machine without it fails, saying
//! how to install it: nothing is skipped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{free_port, workspace_file};

pub struct Prometheus {
    pub url: String,
    child: Child,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Fails, saying how to install it, when the `prometheus` binary is missing.
pub fn require_prometheus() {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the `prometheus` binary is not installed: `apt-get install prometheus` \
         (./dev.sh test installs it)"
    );
}

impl Prometheus {
    /// Scrapes each `(job, [base urls])` at `/metrics`, every second.
    pub fn start(jobs: &[(&str, &[&str])]) -> Prometheus {
        require_prometheus();
        let dir = tempfile::tempdir().expect("tempdir");
        // The deployment's alert rules, loaded as an operator would.
        std::fs::copy(
            workspace_file("deploy/prometheus/alerts.yml"),
            dir.path().join("alerts.yml"),
        )
        .expect("copy alerts.yml");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - alerts.yml\nscrape_configs:\n",
        );
        for (job, urls) in jobs {
            let targets: Vec<String> = urls
                .iter()
                .map(|u| format!("'{}'", u.trim_start_matches("http://")))
                .collect();
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        let port = free_port();
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child,
            log_path,
            _dir: dir,
        }
    }

    /// The answer of `GET /api/v1/<path>` with `params`, if it answered JSON.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Option<Value> {
        reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/{path}", self.url))
            .query(params)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?
            .json()
            .ok()
    }

    /// The value of an instant query whose result is one sample, once there is one.
    pub fn query(&self, query: &str) -> Option<f64> {
        let body = self.api("query", &[("query", query)])?;
        let result = body["data"]["result"].as_array()?.first()?.clone();
        result["value"][1].as_str()?.parse().ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
