//! `GET /metrics` of both planes (README.md, "Observability"), on real processes: the
//! counters move by what the test did, with the labels it expects (route template, graph,
//! status, error code, request kind, operation); who may scrape follows the metrics token;
//! and a real Prometheus (the Debian package) scrapes a worker and a control plane.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use omnigraph_e2e::*;
use serde_json::{json, Value};

use crate::admission::SilentProvider;

const METRICS_TOKEN: &str = "metrics-token-0123456789";

/// One scrape: every sample by its name and labels (`name{a="x",b="y"}` with the labels
/// sorted).
#[derive(Debug, Default)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = value.parse().expect("sample value");
            samples.insert(canonical(series), value);
        }
        Scrape(samples)
    }

    /// The value of `name` with exactly `labels` (0 when absent).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0.get(&key(name, labels)).copied().unwrap_or(0.0)
    }

    /// Sum of every series of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (n, rest) = series.split_once('{').unwrap_or((series.as_str(), ""));
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| v)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.0
            .keys()
            .any(|s| s == name || s.starts_with(&format!("{name}{{")))
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

/// `name{b="2",a="1"}` -> `name{a="1",b="2"}` (label values here hold no `",`).
fn canonical(series: &str) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return series.to_owned();
    };
    let inner = rest.strip_suffix('}').expect("closing brace");
    let mut labels: Vec<&str> = inner
        .split("\",")
        .map(|l| l.trim_end_matches('"'))
        .collect();
    labels.retain(|l| !l.is_empty());
    let mut labels: Vec<String> = labels.iter().map(|l| format!("{l}\"")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// `GET <url>/metrics` with an optional bearer token: status, content type, body.
fn get_metrics(url: &str, token: Option<&str>) -> (u16, String, String) {
    let client = reqwest::blocking::Client::new();
    let mut request = client.get(format!("{url}/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().expect("GET /metrics");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().expect("body"))
}

fn scrape(url: &str, token: Option<&str>) -> Scrape {
    let (status, content_type, body) = get_metrics(url, token);
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Scrape::parse(&body)
}

fn load_body(text: &str, mode: &str) -> Value {
    json!({ "data": text, "mode": mode })
}

#[test]
fn worker_counts_requests_errors_conflicts_rows_cache_and_object_store_requests() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let before = scrape(&dp.url, None);

    // A load, a read, a load refused (append of a key that exists: 400), a branch created
    // twice (the second conflicts: 409), an unknown route.
    let data = std::fs::read_to_string(fixture("social.jsonl")).expect("fixture");
    let (s, loaded) = dp.post("/ingest", &load_body(&data, "overwrite"), None);
    assert_eq!(s, 200, "{loaded}");
    let rows: u64 = loaded["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["rows_loaded"].as_u64().expect("rows_loaded"))
        .sum();
    assert!(rows > 0, "{loaded}");
    let (s, body) = dp.post(
        "/read",
        &json!({ "query_source": "query q() { match { $p: Person } return { $p.name } }" }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.post(
        "/ingest",
        &load_body(
            "{\"type\":\"Person\",\"data\":{\"name\":\"Alice\"}}\n",
            "append",
        ),
        None,
    );
    envelope(s, &body, 400, "bad_request");
    let (s, body) = dp.post("/branches", &json!({ "name": "dev" }), None);
    assert_eq!(s, 201, "{body}");
    let (s, body) = dp.post("/branches", &json!({ "name": "dev" }), None);
    envelope(s, &body, 409, "conflict");
    let (s, body) = dp.get("/no/such/route/42", None);
    envelope(s, &body, 404, "not_found");

    let after = scrape(&dp.url, None);
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let http = |route: &str, status: &str| {
        delta(
            "omnigraph_http_requests_total",
            &[
                ("route", route),
                ("method", "POST"),
                ("graph", "default"),
                ("status", status),
            ],
        )
    };
    assert_eq!(http("/ingest", "200"), 1.0);
    assert_eq!(http("/ingest", "400"), 1.0);
    assert_eq!(http("/branches", "201"), 1.0);
    assert_eq!(http("/branches", "409"), 1.0);
    assert_eq!(http("/read", "200"), 1.0);
    assert_eq!(
        delta(
            "omnigraph_http_request_duration_seconds_count",
            &[
                ("route", "/read"),
                ("method", "POST"),
                ("graph", "default"),
                ("status", "200"),
            ],
        ),
        1.0
    );
    // The raw path never becomes a label: an unknown route is `unmatched`, on no graph.
    assert_eq!(
        delta(
            "omnigraph_http_errors_total",
            &[
                ("route", "unmatched"),
                ("method", "GET"),
                ("graph", "-"),
                ("code", "not_found"),
            ],
        ),
        1.0
    );
    assert!(!after.0.keys().any(|k| k.contains("/no/such/route")));
    assert_eq!(
        delta(
            "omnigraph_http_errors_total",
            &[
                ("route", "/ingest"),
                ("method", "POST"),
                ("graph", "default"),
                ("code", "bad_request"),
            ],
        ),
        1.0
    );
    assert_eq!(
        delta(
            "omnigraph_http_errors_total",
            &[
                ("route", "/branches"),
                ("method", "POST"),
                ("graph", "default"),
                ("code", "conflict"),
            ],
        ),
        1.0
    );
    assert_eq!(
        delta(
            "omnigraph_write_conflicts_total",
            &[("route", "/branches"), ("graph", "default")],
        ),
        1.0
    );
    assert_eq!(
        delta(
            "omnigraph_write_conflicts_total",
            &[("route", "/ingest"), ("graph", "default")],
        ),
        0.0
    );
    assert_eq!(
        delta("omnigraph_rows_loaded_total", &[("graph", "default")]),
        rows as f64
    );
    // The read built its node data in the query cache.
    assert!(delta("omnigraph_query_cache_misses_total", &[]) >= 1.0);
    assert!(after.get("omnigraph_query_cache_bytes", &[]) > 0.0);
    assert!(after.has("omnigraph_query_cache_hits_total"));
    assert!(after.has("omnigraph_query_cache_evictions_total"));
    assert_eq!(after.get("omnigraph_reads_in_flight", &[]), 0.0);
    assert_eq!(after.get("omnigraph_writes_in_flight", &[]), 0.0);
    // Object-store requests of the load, counted under the graph and the request kind.
    for operation in ["GET", "PUT"] {
        let n = after.sum(
            "omnigraph_object_store_requests_total",
            &[
                ("graph", "default"),
                ("kind", "load"),
                ("operation", operation),
            ],
        );
        assert!(n >= 1.0, "{operation}: {n}\n{:#?}", after.0);
    }
    assert!(
        after.sum(
            "omnigraph_object_store_bytes_total",
            &[("graph", "default"), ("kind", "load"), ("operation", "PUT")],
        ) > 0.0
    );
    assert!(
        after.sum(
            "omnigraph_object_store_requests_total",
            &[("graph", "default"), ("kind", "read")],
        ) >= 1.0
    );
}

#[test]
fn worker_counts_admission_refusals_writes_in_flight_and_embedding_errors() {
    let provider = SilentProvider::start();
    let g = TempGraph::new("industry-intel/schema.pg");
    g.write_file(
        "p.yaml",
        "version: 1\ngroups:\n  writers: [act-a]\nrules:\n  - id: writers-read-and-change\n    allow: { actors: { group: writers }, actions: [read, change], branch_scope: any }\n",
    );
    let token = Some("token-a-0123456789");
    let dp = DataPlane::single_mode(
        &g,
        "  policy: { file: p.yaml }\n",
        &["--metrics-token", METRICS_TOKEN],
        &[
            (
                "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
                r#"{"act-a": "token-a-0123456789"}"#,
            ),
            ("OMNIGRAPH_MAX_WRITES_PER_ACTOR", "1"),
            ("OMNIGRAPH_EMBEDDING_URL", provider.url.as_str()),
            ("OMNIGRAPH_EMBEDDING_MODEL", EMBEDDING_MODEL),
        ],
    );
    let before = scrape(&dp.url, Some(METRICS_TOKEN));
    let insert_chunk = json!({ "query_source":
        "query q() { insert Chunk { id: \"c1\", text: \"held in flight\", chunk_index: 0, createdAt: \"2026-04-14T00:00:00Z\" } }" });
    let during = std::thread::scope(|scope| {
        let held = scope.spawn(|| dp.post("/change", &insert_chunk, token));
        provider
            .accepted
            .recv_timeout(Duration::from_secs(30))
            .expect("the held write reached the provider");
        let (s, body) = dp.post("/change", &insert_chunk, token);
        envelope(s, &body, 429, "too_many_requests");
        let during = scrape(&dp.url, Some(METRICS_TOKEN));
        provider.release();
        let (s, body) = held.join().expect("held write");
        envelope(s, &body, 503, "service_unavailable");
        during
    });
    assert_eq!(during.get("omnigraph_writes_in_flight", &[]), 1.0);
    let after = scrape(&dp.url, Some(METRICS_TOKEN));
    assert_eq!(after.get("omnigraph_writes_in_flight", &[]), 0.0);
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert_eq!(
        delta(
            "omnigraph_admission_refusals_total",
            &[
                ("route", "/change"),
                ("graph", "default"),
                ("code", "too_many_requests"),
            ],
        ),
        1.0
    );
    assert_eq!(
        delta(
            "omnigraph_http_errors_total",
            &[
                ("route", "/change"),
                ("method", "POST"),
                ("graph", "default"),
                ("code", "service_unavailable"),
            ],
        ),
        1.0
    );
    assert_eq!(delta("omnigraph_embedding_calls_total", &[]), 1.0);
    assert_eq!(delta("omnigraph_embedding_errors_total", &[]), 1.0);
    assert_eq!(
        delta("omnigraph_embedding_call_duration_seconds_count", &[]),
        1.0
    );
}

#[test]
fn who_may_scrape_follows_the_metrics_token() {
    let g = TempGraph::new("social.pg");
    g.write_file(
        "p.yaml",
        "version: 1\ngroups:\n  admins: [admin]\nrules:\n  - id: admins-read\n    allow: { actors: { group: admins }, actions: [read], branch_scope: any }\n",
    );
    let tokens = [(
        "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
        r#"{"admin": "admin-token-0123456789"}"#,
    )];
    // Bearer tokens and a metrics token: only that token scrapes.
    let dp = DataPlane::single_mode(
        &g,
        "  policy: { file: p.yaml }\n",
        &[],
        &[tokens[0], ("OMNIGRAPH_METRICS_TOKEN", METRICS_TOKEN)],
    );
    for token in [
        None,
        Some("admin-token-0123456789"),
        Some("wrong-token-0123456789"),
    ] {
        let (s, _, body) = get_metrics(&dp.url, token);
        let body: Value = serde_json::from_str(&body).expect("envelope");
        envelope(s, &body, 401, "unauthorized");
    }
    let (s, _, body) = get_metrics(&dp.url, Some(METRICS_TOKEN));
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("omnigraph_http_requests_total"), "{body}");
    drop(dp);

    // Bearer tokens and no metrics token: closed, and the refusal says how to open it.
    let dp = DataPlane::single_mode(&g, "  policy: { file: p.yaml }\n", &[], &tokens);
    let (s, _, body) = get_metrics(&dp.url, Some("admin-token-0123456789"));
    let body: Value = serde_json::from_str(&body).expect("envelope");
    envelope(s, &body, 401, "unauthorized");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("OMNIGRAPH_METRICS_TOKEN"),
        "{body}"
    );
    drop(dp);

    // Open mode: open.
    let dp = DataPlane::single_mode_open(&g);
    let (s, _, body) = get_metrics(&dp.url, None);
    assert_eq!(s, 200, "{body}");

    // A metrics token shorter than 16 bytes refuses to start, on both planes.
    let config = g.write_file("omnigraph.yaml", &format!("graph:\n  uri: {}\n", g.store));
    let out = data_plane()
        .args(["serve", "--bind", "127.0.0.1:0", "--unauthenticated"])
        .args(["--config", &config, "--metrics-token", "short"])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("16 bytes"), "{stderr}");
    let run = run_control_plane(
        &["serve", "--config", &config, "--bind", "127.0.0.1:0"],
        &[
            ("OMNIGRAPH_UNAUTHENTICATED", "1"),
            ("OMNIGRAPH_METRICS_TOKEN", "short"),
        ],
        Duration::from_secs(30),
    )
    .expect("the control plane exits");
    assert!(run.stderr.contains("16 bytes"), "{}", run.stderr);

    // The control plane follows the same rule.
    let cp = ControlPlane::start(
        "graphs: {}\n",
        ControlPlaneOptions::default()
            .with_env(
                "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON",
                r#"{"admin": "admin-token-0123456789"}"#,
            )
            .with_env("OMNIGRAPH_METRICS_TOKEN", METRICS_TOKEN),
    );
    let (s, _, body) = get_metrics(&cp.url, Some("admin-token-0123456789"));
    let body: Value = serde_json::from_str(&body).expect("envelope");
    envelope(s, &body, 401, "unauthorized");
    let (s, _, body) = get_metrics(&cp.url, Some(METRICS_TOKEN));
    assert_eq!(s, 200, "{body}");
}

#[test]
fn control_plane_counts_generations_workers_pushes_drift_and_operations() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let w1 = DataPlane::with_control_plane(&cp.url, "w1");
    let mut w2 = DataPlane::with_control_plane(&cp.url, "w2");
    let before = scrape(&cp.url, None);

    let (s, body) = cp.create_graph("alpha", &cp.graph_uri("alpha.omni"), None);
    assert_eq!(s, 201, "{body}");
    // The same id again: refused with 409.
    let (s, body) = cp.create_graph("alpha", &cp.graph_uri("alpha2.omni"), None);
    envelope(s, &body, 409, "conflict");
    let (s, body) = cp.get("/graphs/alpha", None);
    assert_eq!(s, 200, "{body}");

    let generation = cp.health()["registry_generation"]
        .as_u64()
        .expect("generation");
    let mut after = Scrape::default();
    assert!(
        eventually(Duration::from_secs(20), || {
            after = scrape(&cp.url, None);
            after.get("omnigraph_worker_generation_lag", &[("worker", "w1")]) == 0.0
                && after.get("omnigraph_worker_generation_lag", &[("worker", "w2")]) == 0.0
        }),
        "{after:#?}"
    );
    assert_eq!(
        after.get("omnigraph_registry_generation", &[]),
        generation as f64
    );
    assert_eq!(
        after.get(
            "omnigraph_worker_acknowledged_generation",
            &[("worker", "w1")]
        ),
        generation as f64
    );
    let delta = |after: &Scrape, name: &str, labels: &[(&str, &str)]| {
        after.get(name, labels) - before.get(name, labels)
    };
    let op = |after: &Scrape, operation: &str, outcome: &str| {
        delta(
            after,
            "omnigraph_management_operations_total",
            &[("operation", operation), ("outcome", outcome)],
        )
    };
    assert_eq!(op(&after, "graph_create", "ok"), 1.0);
    assert_eq!(op(&after, "graph_create", "conflict"), 1.0);
    assert_eq!(op(&after, "graph_get", "ok"), 1.0);
    assert_eq!(
        delta(
            &after,
            "omnigraph_http_requests_total",
            &[
                ("route", "/graphs/{graph_id}"),
                ("method", "GET"),
                ("graph", "alpha"),
                ("status", "200"),
            ],
        ),
        1.0
    );
    // The graph's storage requests, made by the control plane when it created it.
    assert!(
        after.sum(
            "omnigraph_object_store_requests_total",
            &[("graph", "alpha"), ("operation", "PUT")]
        ) >= 1.0,
        "{after:#?}"
    );

    // A worker that is gone: pushes to it fail and it falls behind.
    w2.kill();
    let (s, body) = cp.create_graph("beta", &cp.graph_uri("beta.omni"), None);
    assert_eq!(s, 201, "{body}");
    assert!(
        eventually(Duration::from_secs(20), || {
            after = scrape(&cp.url, None);
            delta(
                &after,
                "omnigraph_registry_push_failures_total",
                &[("worker", "w2")],
            ) >= 1.0
        }),
        "{after:#?}"
    );
    assert_eq!(
        after.get("omnigraph_worker_generation_lag", &[("worker", "w2")]),
        1.0
    );
    assert_eq!(
        delta(
            &after,
            "omnigraph_registry_push_failures_total",
            &[("worker", "w1")]
        ),
        0.0
    );
    drop(w1);

    // omnigraph.yaml edited by hand: drift.
    assert_eq!(after.get("omnigraph_config_drifted", &[]), 0.0);
    let yaml = cp.yaml();
    std::fs::write(&cp.config_path, format!("{yaml}# edited by hand\n")).expect("edit");
    assert!(
        eventually(Duration::from_secs(20), || {
            after = scrape(&cp.url, None);
            after.get("omnigraph_config_drifted", &[]) == 1.0
        }),
        "{after:#?}"
    );
    assert_eq!(
        delta(&after, "omnigraph_config_drift_detections_total", &[]),
        1.0
    );
}

#[test]
fn a_real_prometheus_scrapes_two_workers_and_the_control_plane_during_mixed_load() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let workers = [
        DataPlane::with_control_plane(&cp.url, "w1"),
        DataPlane::with_control_plane(&cp.url, "w2"),
    ];
    let (s, body) = cp.create_graph("alpha", &cp.graph_uri("alpha.omni"), None);
    assert_eq!(s, 201, "{body}");
    // The mixed load: on each worker, two writers inserting people at once (their changes
    // meet in group commits, and the two workers' groups in the manifest compare-and-swap,
    // where a loser plans again) and a reader.
    const READS: usize = 6;
    const WRITES: usize = 5;
    std::thread::scope(|scope| {
        for (w, worker) in workers.iter().enumerate() {
            for writer in 0..2 {
                scope.spawn(move || {
                    for i in 0..WRITES {
                        let (s, body) = worker.post(
                            "/graphs/alpha/change",
                            &json!({
                                "query_source": "query add($n: String) { insert Person { name: $n } }",
                                "params": { "n": format!("w{w}-{writer}-{i}") }
                            }),
                            None,
                        );
                        assert_eq!(s, 200, "{body}");
                    }
                });
            }
            scope.spawn(move || {
                for _ in 0..READS {
                    let (s, body) = worker.post(
                        "/graphs/alpha/read",
                        &json!({ "query_source": "query q() { match { $p: Person } return { $p.name } }" }),
                        None,
                    );
                    assert_eq!(s, 200, "{body}");
                }
            });
        }
    });
    let generation = cp.health()["registry_generation"]
        .as_u64()
        .expect("generation") as f64;
    // What the workers count themselves, to compare with what Prometheus stored.
    let replans: f64 = workers
        .iter()
        .map(|w| scrape(&w.url, None).sum("omnigraph_group_commit_replans_total", &[]))
        .sum();

    let prometheus = Prometheus::start(&[
        ("control_plane", &[cp.url.as_str()]),
        (
            "worker",
            &[workers[0].url.as_str(), workers[1].url.as_str()],
        ),
    ]);
    let started = Instant::now();
    let reads = "sum(omnigraph_http_requests_total{job=\"worker\",route=\"/graphs/{graph_id}/read\",graph=\"alpha\",status=\"200\"})";
    let changes = "sum(omnigraph_http_requests_total{job=\"worker\",route=\"/graphs/{graph_id}/change\",graph=\"alpha\",status=\"200\"})";
    let mut seen = (None, None, None);
    let found = eventually(Duration::from_secs(60), || {
        seen = (
            prometheus.query("omnigraph_registry_generation{job=\"control_plane\"}"),
            prometheus.query(reads),
            prometheus.query(changes),
        );
        // Both workers scraped: the sums reach what was sent.
        seen.0.is_some()
            && seen.1 == Some((2 * READS) as f64)
            && seen.2 == Some((2 * 2 * WRITES) as f64)
    });
    assert!(
        found,
        "Prometheus saw {seen:?} after {:?} (expected {} reads and {} changes):\n{}",
        started.elapsed(),
        2 * READS,
        4 * WRITES,
        prometheus.log()
    );
    assert_eq!(seen.0, Some(generation));
    // No change was refused: a write that lost the race was planned again, and every such
    // replan the workers counted is what Prometheus has.
    assert_eq!(
        prometheus.query(
            "sum(omnigraph_http_requests_total{job=\"worker\",status=\"409\"}) or vector(0)"
        ),
        Some(0.0)
    );
    assert_eq!(
        prometheus.query("sum(omnigraph_group_commit_replans_total{job=\"worker\"})"),
        Some(replans)
    );
    assert_eq!(
        prometheus.query("count(up{job=\"worker\"} == 1)"),
        Some(2.0)
    );
    // The alert rules loaded and were evaluated: every rule of the group is healthy.
    let rules = prometheus.api("rules", &[]).expect("GET /api/v1/rules");
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "omnigraph", "{rules}");
    let names: Vec<&str> = group["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "OmnigraphWorkerBehindRegistry",
            "OmnigraphServerErrors",
            "OmnigraphObjectStoreUnreachable",
            "OmnigraphConfigDrift"
        ],
        "{rules}"
    );
    assert_eq!(prometheus.query("up{job=\"control_plane\"}"), Some(1.0));
}

/// Object-store requests of one request, by operation, from the worker's counters (every
/// kind of the graph, `unattributed` included: one client, nothing else running).
fn requests_of(dp: &DataPlane, graph: &str, run: impl FnOnce()) -> BTreeMap<String, f64> {
    let before = scrape(&dp.url, None);
    run();
    let after = scrape(&dp.url, None);
    ["GET", "HEAD", "PUT", "LIST", "DELETE", "COPY", "RENAME"]
        .into_iter()
        .map(|op| {
            let labels = [("graph", graph), ("operation", op)];
            let n = after.sum("omnigraph_object_store_requests_total", &labels)
                - before.sum("omnigraph_object_store_requests_total", &labels);
            (op.to_owned(), n)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

/// The figures of README.md, "Observability": object-store requests of a single-row
/// insert and of a point read, as this process's storage sees them (on a local disk
/// without Lance's direct file I/O; run with tests/s3/run.sh for S3, where every request
/// counts). Printed; the test checks only that a write publishes (a PUT) and reads.
#[test]
fn object_store_requests_of_a_single_row_insert_and_a_point_read() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let data = std::fs::read_to_string(fixture("social.jsonl")).expect("fixture");
    let (s, body) = dp.post("/ingest", &load_body(&data, "overwrite"), None);
    assert_eq!(s, 200, "{body}");
    let point = json!({ "query_source":
        "query q($n: String) { match { $p: Person { name: $n } } return { $p.name } }",
        "params": { "n": "Alice" } });
    let read = || {
        let (s, body) = dp.post("/read", &point, None);
        assert_eq!(s, 200, "{body}");
    };
    read(); // warms the cache
    let mut inserts = Vec::new();
    let mut reads_after_write = Vec::new();
    let mut warm_reads = Vec::new();
    for i in 0..3 {
        inserts.push(requests_of(&dp, "default", || {
            let (s, body) = dp.post(
                "/change",
                &json!({ "query_source": "query add($n: String) { insert Person { name: $n } }",
                         "params": { "n": format!("new-{i}") } }),
                None,
            );
            assert_eq!(s, 200, "{body}");
        }));
        reads_after_write.push(requests_of(&dp, "default", read));
        warm_reads.push(requests_of(&dp, "default", read));
    }
    eprintln!(
        "object-store requests ({}):\n  single-row insert: {inserts:?}\n  point read right after a write: {reads_after_write:?}\n  warm point read: {warm_reads:?}",
        if g.store.starts_with("s3://") { "S3" } else { "local disk" }
    );
    for insert in &inserts {
        assert!(
            insert.get("PUT").copied().unwrap_or(0.0) >= 1.0,
            "{insert:?}"
        );
    }
}

/// Logs a person can read: without `RUST_LOG` (or with it blank) a worker logs its own
/// INFO lines, the request log among them, and no INFO event of Lance; `RUST_LOG` changes it.
#[test]
fn default_logs_are_the_projects_info_lines_and_the_libraries_warnings() {
    let data = std::fs::read_to_string(fixture("social.jsonl")).expect("fixture");
    for (rust_log, lance_events) in [("", false), ("info", true)] {
        let g = TempGraph::new("social.pg");
        let dp = DataPlane::single_mode(&g, "", &["--unauthenticated"], &[("RUST_LOG", rust_log)]);
        let (s, body) = dp.post("/ingest", &load_body(&data, "overwrite"), None);
        assert_eq!(s, 200, "{body}");
        let log = dp.log();
        assert!(log.contains("omnigraph data plane listening"), "{log}");
        assert!(log.contains("finished processing request"), "{log}");
        assert!(log.contains("path=/ingest"), "{log}");
        assert_eq!(
            log.contains("lance::dataset_events"),
            lance_events,
            "RUST_LOG={rust_log:?}:\n{log}"
        );
    }
}

/// Every metric family the servers export (README.md, "Observability").
const FAMILIES: &[&str] = &[
    "omnigraph_http_requests_total",
    "omnigraph_http_request_duration_seconds",
    "omnigraph_http_errors_total",
    "omnigraph_write_conflicts_total",
    "omnigraph_admission_refusals_total",
    "omnigraph_reads_in_flight",
    "omnigraph_writes_in_flight",
    "omnigraph_rows_loaded_total",
    "omnigraph_query_cache_bytes",
    "omnigraph_query_cache_hits_total",
    "omnigraph_query_cache_misses_total",
    "omnigraph_query_cache_evictions_total",
    "omnigraph_embedding_calls_total",
    "omnigraph_embedding_errors_total",
    "omnigraph_embedding_call_duration_seconds",
    "omnigraph_object_store_requests_total",
    "omnigraph_object_store_bytes_total",
    "omnigraph_maintenance_runs_total",
    "omnigraph_maintenance_run_duration_seconds",
    "omnigraph_registry_generation",
    "omnigraph_worker_acknowledged_generation",
    "omnigraph_worker_generation_lag",
    "omnigraph_registry_push_failures_total",
    "omnigraph_config_drifted",
    "omnigraph_config_drift_detections_total",
    "omnigraph_management_operations_total",
];

/// The `omnigraph_*` metric names in `text` (a histogram's `_bucket`, `_count` and `_sum`
/// as its family).
fn metric_names(text: &str) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("omnigraph_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        let name = &text[start..end];
        let family = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| FAMILIES.contains(f))
            .unwrap_or(name);
        *names.entry(family.to_owned()).or_default() += 1;
        i = end;
    }
    names
}

#[test]
fn the_families_are_served_and_documented() {
    // Scraped from real processes after requests of every kind the other tests check.
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let data = std::fs::read_to_string(fixture("social.jsonl")).expect("fixture");
    let (s, body) = dp.post("/ingest", &load_body(&data, "overwrite"), None);
    assert_eq!(s, 200, "{body}");
    let (s, body) = dp.post(
        "/read",
        &json!({ "query_source": "query q() { match { $p: Person } return { $p.name } }" }),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (_, _, worker) = get_metrics(&dp.url, None);
    for family in [
        "omnigraph_http_requests_total",
        "omnigraph_http_request_duration_seconds",
        "omnigraph_reads_in_flight",
        "omnigraph_writes_in_flight",
        "omnigraph_rows_loaded_total",
        "omnigraph_query_cache_bytes",
        "omnigraph_query_cache_hits_total",
        "omnigraph_query_cache_misses_total",
        "omnigraph_query_cache_evictions_total",
        "omnigraph_embedding_calls_total",
        "omnigraph_embedding_errors_total",
        "omnigraph_embedding_call_duration_seconds",
        "omnigraph_object_store_requests_total",
        "omnigraph_object_store_bytes_total",
    ] {
        assert!(
            worker.contains(&format!("# TYPE {family} ")),
            "{family}:\n{worker}"
        );
    }
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let _w = DataPlane::with_control_plane(&cp.url, "w1");
    let (s, body) = cp.get("/graphs", None);
    assert_eq!(s, 200, "{body}");
    let (_, _, control) = get_metrics(&cp.url, None);
    for family in [
        "omnigraph_registry_generation",
        "omnigraph_worker_acknowledged_generation",
        "omnigraph_worker_generation_lag",
        "omnigraph_config_drifted",
        "omnigraph_config_drift_detections_total",
        "omnigraph_management_operations_total",
        "omnigraph_http_requests_total",
    ] {
        assert!(
            control.contains(&format!("# TYPE {family} ")),
            "{family}:\n{control}"
        );
    }
    // Every family (the ones that appear only after their first event included, checked
    // by the tests above) is in the README's tables, by its full name.
    let readme = std::fs::read_to_string(workspace_file("README.md")).expect("README");
    for family in FAMILIES {
        assert!(
            readme.contains(&format!("`{family}`")),
            "{family} in README.md"
        );
    }
    // And its section names no other.
    let section = readme
        .split("\n## Observability\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has an Observability section");
    let documented = metric_names(section);
    let unknown: Vec<_> = documented
        .keys()
        .filter(|n| !FAMILIES.contains(&n.as_str()))
        .collect();
    assert!(unknown.is_empty(), "README.md names {unknown:?}");
}

/// `promtool` (Debian's `prometheus` package), or a failure saying how to install it.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `promtool` ({e}): `apt-get install prometheus` \
                 (./dev.sh test installs it)"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// The pod discovery of deploy/prometheus/prometheus-k8s.yml, and what stands in for it
/// under Debian's promtool.
const K8S_DISCOVERY: &str = "    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [omnigraph]
";
const K8S_STATIC_STAND_IN: &str = "    static_configs:
      - targets: [\"127.0.0.1:8081\"]
";

#[test]
fn the_deployment_scrape_config_alert_rules_and_dashboard_are_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    for file in [
        "prometheus.yml",
        "prometheus-k8s.yml",
        "alerts.yml",
        "alerts.test.yml",
    ] {
        std::fs::copy(
            workspace_file(&format!("deploy/prometheus/{file}")),
            dir.path().join(file),
        )
        .expect("copy");
    }
    // The token file the scrape configuration reads (never shipped).
    std::fs::write(dir.path().join("omnigraph-metrics-token"), METRICS_TOKEN).expect("token");
    promtool(dir.path(), &["check", "config", "prometheus.yml"]);
    // Debian's Prometheus is built without Kubernetes discovery: the rest of the Kubernetes
    // job (its token, relabelling) is checked with a static target in place of the pods.
    let k8s = std::fs::read_to_string(dir.path().join("prometheus-k8s.yml")).expect("read");
    assert!(k8s.contains(K8S_DISCOVERY), "{k8s}");
    std::fs::write(
        dir.path().join("prometheus-k8s.yml"),
        k8s.replace(K8S_DISCOVERY, K8S_STATIC_STAND_IN),
    )
    .expect("write");
    promtool(dir.path(), &["check", "config", "prometheus-k8s.yml"]);
    promtool(dir.path(), &["check", "rules", "alerts.yml"]);
    let tested = promtool(dir.path(), &["test", "rules", "alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    let rules = std::fs::read_to_string(dir.path().join("alerts.yml")).expect("rules");
    let dashboard_text = std::fs::read_to_string(workspace_file("deploy/grafana/omnigraph.json"))
        .expect("dashboard");
    let dashboard: Value = serde_json::from_str(&dashboard_text).expect("dashboard JSON");
    let mut exprs = String::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            exprs.push_str(target["expr"].as_str().expect("expr"));
            exprs.push('\n');
        }
    }
    for (what, text) in [("alerts.yml", &rules), ("omnigraph.json", &exprs)] {
        let unknown: Vec<_> = metric_names(text)
            .into_keys()
            .filter(|n| !FAMILIES.contains(&n.as_str()))
            .collect();
        assert!(unknown.is_empty(), "{what} names {unknown:?}");
    }
    // The dashboard shows every family.
    let shown = metric_names(&exprs);
    let missing: Vec<_> = FAMILIES
        .iter()
        .filter(|f| !shown.contains_key(**f))
        .collect();
    assert!(missing.is_empty(), "the dashboard lacks {missing:?}");
}

/// The worker's own maintenance (compaction, version cleanup) counts its runs by outcome,
/// and its object-store requests under the kind `maintenance`.
#[test]
fn worker_counts_maintenance_runs() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode(
        &g,
        "",
        &[
            "--unauthenticated",
            "--maintenance-interval-secs",
            "1",
            "--compact-min-fragments",
            "2",
        ],
        &[],
    );
    // A load and a few inserts: Person gets one fragment per write.
    let data = std::fs::read_to_string(fixture("social.jsonl")).expect("fixture");
    let (s, body) = dp.post("/ingest", &load_body(&data, "overwrite"), None);
    assert_eq!(s, 200, "{body}");
    for i in 0..3 {
        let (s, body) = dp.post(
            "/change",
            &json!({ "query_source": "query add($n: String) { insert Person { name: $n } }",
                     "params": { "n": format!("m-{i}") } }),
            None,
        );
        assert_eq!(s, 200, "{body}");
    }
    let mut seen = Scrape::default();
    let compacted = eventually(Duration::from_secs(60), || {
        seen = scrape(&dp.url, None);
        // The round's cleanup comes after its compaction: wait for both.
        seen.get(
            "omnigraph_maintenance_runs_total",
            &[
                ("graph", "default"),
                ("operation", "compact"),
                ("outcome", "done"),
            ],
        ) >= 1.0
            && seen.sum(
                "omnigraph_maintenance_runs_total",
                &[("graph", "default"), ("operation", "cleanup")],
            ) >= 1.0
    });
    assert!(compacted, "{seen:#?}");
    assert!(
        seen.sum(
            "omnigraph_maintenance_runs_total",
            &[("graph", "default"), ("operation", "cleanup")],
        ) >= 1.0,
        "{seen:#?}"
    );
    assert_eq!(
        seen.sum("omnigraph_maintenance_runs_total", &[("outcome", "failed")],),
        0.0
    );
    assert!(
        seen.get(
            "omnigraph_maintenance_run_duration_seconds_count",
            &[("operation", "compact")]
        ) >= 1.0
    );
    assert!(
        seen.sum(
            "omnigraph_object_store_requests_total",
            &[
                ("graph", "default"),
                ("kind", "maintenance"),
                ("operation", "PUT")
            ],
        ) >= 1.0,
        "{seen:#?}"
    );
}
