//! Shared by the fault and load scenarios (`mod common;`): HTTP calls that never
//! panic on a transport error (a killed process is the point of these programs), and a
//! small deterministic random generator.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// POST a JSON body; (status, body), or (0, error text) when no answer came.
pub fn post(client: &reqwest::blocking::Client, url: &str, body: &Value) -> (u16, Value) {
    match client.post(url).json(body).send() {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

pub fn get(client: &reqwest::blocking::Client, url: &str) -> (u16, Value) {
    match client.get(url).send() {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// Rows of `table_key` in the latest version, as a worker at `worker` sees graph `graph`.
pub fn row_count(
    client: &reqwest::blocking::Client,
    worker: &str,
    graph: &str,
    table_key: &str,
) -> Option<(u64, u64)> {
    let (s, body) = get(client, &format!("{worker}/graphs/{graph}/snapshot"));
    if s != 200 {
        return None;
    }
    let version = body["manifest_version"].as_u64()?;
    let rows = body["tables"]
        .as_array()?
        .iter()
        .find(|t| t["table_key"] == table_key)?["row_count"]
        .as_u64()?;
    Some((version, rows))
}

/// Every Person name of graph `graph`, read through `worker`.
pub fn people_of(
    client: &reqwest::blocking::Client,
    worker: &str,
    graph: &str,
) -> Result<std::collections::BTreeSet<String>, String> {
    let q = "query names() { match { $p: Person } return { $p.name } }";
    let (s, body) = post(
        client,
        &format!("{worker}/graphs/{graph}/read"),
        &json!({ "query_source": q }),
    );
    if s != 200 {
        return Err(format!("read of {graph} answered {s}: {body}"));
    }
    Ok(body["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["p.name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Creates `graph` at `uri` through the control plane with the scenarios' schema.
pub fn create_graph(client: &reqwest::blocking::Client, cp: &str, graph: &str, uri: &str) -> u16 {
    let body = json!({
        "graph_id": graph,
        "uri": uri,
        "schema": { "source": omnigraph_e2e::SCENARIO_SCHEMA }
    });
    post(client, &format!("{cp}/graphs"), &body).0
}

/// Creates `graph` (201, or a panic: scenario set-up) and waits until every worker serves it.
pub fn create_served(
    client: &reqwest::blocking::Client,
    cp: &str,
    workers: &[&str],
    graph: &str,
    uri: &str,
) {
    assert_eq!(create_graph(client, cp, graph, uri), 201, "create {graph}");
    wait_served(client, workers, graph, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the workers never served {graph}"));
}

/// Polls until every worker answers 200 for the graph's snapshot; the time it took.
pub fn wait_served(
    client: &reqwest::blocking::Client,
    workers: &[&str],
    graph: &str,
    timeout: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if workers
            .iter()
            .all(|w| get(client, &format!("{w}/graphs/{graph}/snapshot")).0 == 200)
        {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// xorshift64*: deterministic per seed, good enough to pick operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A whole-number setting from the environment, or its default.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Prints the verdict line; the exit code for `main` to return (so that every process
/// the scenario started is stopped by its drop on the way out).
pub fn finish(name: &str, failures: &[String]) -> std::process::ExitCode {
    if failures.is_empty() {
        println!("{name}: PASS");
        std::process::ExitCode::SUCCESS
    } else {
        for f in failures {
            println!("{name}: FAIL: {f}");
        }
        std::process::ExitCode::FAILURE
    }
}
