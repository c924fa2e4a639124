//! Load scenario: sustained mixed load from many clients through two data planes.
//!
//! Each client loops over reads (point lookups and one-hop traversals), changes (insert a
//! person and a Knows edge), small loads (50 people) and, for one client, POST /graphs.
//! A change or load that loses a race (409) is retried, as a real client would. Checks:
//! no 5xx and no transport error; every acknowledged write is read back at the end; a real
//! Prometheus (Debian's `prometheus`) scraping the control plane and both workers all along
//! counts exactly the reads, changes, loads, conflicts and graph creations the clients saw.
//! Prints throughput and median / p99 latency per kind of request.
//! Settings: LOAD_CLIENTS (default 8), LOAD_SECONDS (default 120).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use omnigraph_e2e::*;
use serde_json::json;

const NAME: &str = "load_mixed";
const POINT: &str =
    "query p($n: String) { match { $p: Person { name: $n } } return { $p.name, $p.age } }";
const HOP: &str =
    "query h($n: String) { match { $p: Person { name: $n } $p knows $f } return { $f.name } }";
const ADD: &str = "query add($name: String, $to: String) { insert Person { name: $name, age: 1 } insert Knows { from: $name, to: $to } }";

#[derive(Default)]
struct Tally {
    reads: Latencies,
    changes: Latencies,
    loads: Latencies,
    creates: Latencies,
    conflicts: usize,
    errors: Vec<String>,
    acked: Vec<(String, String)>, // (graph, person)
    graphs: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let clients = setting("LOAD_CLIENTS", 8);
    let seconds = setting("LOAD_SECONDS", 120);
    let storage = Arc::new(ScenarioStorage::from_env());
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let w1 = DataPlane::with_control_plane(&cp.url, "w1");
    let w2 = DataPlane::with_control_plane(&cp.url, "w2");
    let client = load_client();
    let initial = ["m0", "m1"];
    for g in initial {
        let uri = storage.graph_uri(&format!("{g}.omni"));
        create_served(&client, &cp.url, &[&w1.url, &w2.url], g, &uri);
        let (s, b) = post(
            &client,
            &format!("{}/graphs/{g}/ingest", w1.url),
            &json!({ "data": people_jsonl("seed-", 2000) }),
        );
        assert_eq!(s, 200, "seed {g}: {b}");
    }
    println!(
        "{NAME}: storage {}; {clients} clients for {seconds} s through two workers",
        storage.describe()
    );
    let prometheus = Prometheus::start(&[
        ("control_plane", &[cp.url.as_str()]),
        ("workers", &[w1.url.as_str(), w2.url.as_str()]),
    ]);
    let before = scraped_counts(&prometheus, unix_now());

    let stop = Arc::new(AtomicBool::new(false));
    let graphs = Arc::new(Mutex::new(initial.map(String::from).to_vec()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers = [w1.url.clone(), w2.url.clone()];
    let cp_url = cp.url.clone();
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (stop, graphs, tally, workers, cp_url, storage) = (
                stop.clone(),
                graphs.clone(),
                tally.clone(),
                workers.clone(),
                cp_url.clone(),
                storage.clone(),
            );
            std::thread::spawn(move || {
                let client = load_client();
                let mut rng = Rng::new(1000 + t);
                let mut mine = Tally::default();
                let mut i = 0u64;
                let mut last_create = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    let known = graphs.lock().expect("graphs").clone();
                    let graph = known[rng.below(known.len() as u64) as usize].clone();
                    let worker = &workers[rng.below(2) as usize];
                    let roll = rng.below(100);
                    if t == 0 && last_create.elapsed() > Duration::from_secs(10) {
                        last_create = Instant::now();
                        let id = format!("new{i}");
                        i += 1;
                        let began = Instant::now();
                        let s = create_graph(
                            &client,
                            &cp_url,
                            &id,
                            &storage.graph_uri(&format!("{id}.omni")),
                        );
                        if s == 201 {
                            mine.creates.record(began.elapsed());
                            mine.graphs.push(id.clone());
                            // Clients use it once both workers serve it.
                            let urls: Vec<&str> = workers.iter().map(String::as_str).collect();
                            if wait_served(&client, &urls, &id, Duration::from_secs(30)).is_none() {
                                mine.errors.push(format!("graph {id} never served"));
                                continue;
                            }
                            // The same seed people as the first graphs, then clients use it.
                            let (s, b) = post(
                                &client,
                                &format!("{worker}/graphs/{id}/ingest"),
                                &json!({ "data": people_jsonl("seed-", 2000) }),
                            );
                            if s == 200 {
                                graphs.lock().expect("graphs").push(id);
                            } else {
                                mine.errors.push(format!("seed load of {id}: {s} {b}"));
                            }
                        } else {
                            mine.errors.push(format!("POST /graphs answered {s}"));
                        }
                        continue;
                    }
                    if roll < 60 {
                        let n = format!("seed-{}", rng.below(2000));
                        let q = if roll < 40 { POINT } else { HOP };
                        let began = Instant::now();
                        let (s, b) = post(
                            &client,
                            &format!("{worker}/graphs/{graph}/read"),
                            &json!({ "query_source": q, "params": { "n": n } }),
                        );
                        if s == 200 {
                            mine.reads.record(began.elapsed());
                        } else {
                            mine.errors.push(format!("read {graph}: {s} {b}"));
                        }
                        continue;
                    }
                    let (path, body, names, kind) = if roll < 92 {
                        let name = format!("t{t}-{i}");
                        let to = format!("seed-{}", rng.below(2000));
                        let body =
                            json!({ "query_source": ADD, "params": { "name": name, "to": to } });
                        ("change", body, vec![name], 0)
                    } else {
                        let prefix = format!("l{t}-{i}-");
                        let data = people_jsonl(&prefix, 50);
                        let names = (0..50).map(|k| format!("{prefix}{k}")).collect();
                        (
                            "ingest",
                            json!({ "data": data, "mode": "append" }),
                            names,
                            1,
                        )
                    };
                    i += 1;
                    let began = Instant::now();
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        let (s, b) =
                            post(&client, &format!("{worker}/graphs/{graph}/{path}"), &body);
                        match s {
                            200 => {
                                let took = began.elapsed();
                                if kind == 0 {
                                    mine.changes.record(took);
                                } else {
                                    mine.loads.record(took);
                                }
                                mine.acked
                                    .extend(names.iter().map(|n| (graph.clone(), n.clone())));
                                break;
                            }
                            409 if attempts < 20 => {
                                mine.conflicts += 1;
                                std::thread::sleep(Duration::from_millis(rng.below(20)));
                            }
                            _ => {
                                mine.errors.push(format!("{path} {graph}: {s} {b}"));
                                break;
                            }
                        }
                    }
                }
                let mut all = tally.lock().expect("tally");
                all.reads.merge(&mine.reads);
                all.changes.merge(&mine.changes);
                all.loads.merge(&mine.loads);
                all.creates.merge(&mine.creates);
                all.conflicts += mine.conflicts;
                all.errors.extend(mine.errors);
                all.acked.extend(mine.acked);
                all.graphs.extend(mine.graphs);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("client");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = scraped_counts(&prometheus, unix_now());

    let tally = tally.lock().expect("tally");
    let mut failures: Vec<String> = tally.errors.iter().take(10).cloned().collect();
    // What Prometheus scraped from the servers against what the clients saw.
    let saw = [
        tally.reads.count() as f64,
        tally.changes.count() as f64,
        // Each graph created during the run got its seed load.
        (tally.loads.count() + tally.graphs.len()) as f64,
        tally.conflicts as f64,
        tally.creates.count() as f64,
    ];
    match (before, after) {
        (Ok(before), Ok(after)) => {
            for ((what, (b, a)), want) in COUNTED.iter().zip(before.iter().zip(&after)).zip(saw) {
                if a - b != want {
                    failures.push(format!(
                        "Prometheus counted {} {what}, the clients {want}",
                        a - b
                    ));
                }
            }
            println!(
                "{NAME}: Prometheus counted {}",
                COUNTED
                    .iter()
                    .zip(before.iter().zip(&after))
                    .map(|(what, (b, a))| format!("{} {what}", a - b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        (Err(e), _) | (_, Err(e)) => failures.push(e),
    }
    let all_graphs: BTreeSet<String> = graphs.lock().expect("graphs").iter().cloned().collect();
    for g in &all_graphs {
        let want: BTreeSet<&String> = tally
            .acked
            .iter()
            .filter(|(graph, _)| graph == g)
            .map(|(_, n)| n)
            .collect();
        for worker in &workers {
            match people_of(&client, worker, g) {
                Ok(names) => {
                    let missing = want.iter().filter(|n| !names.contains(**n)).count();
                    if missing > 0 {
                        failures.push(format!("{missing} acknowledged people missing in {g}"));
                    }
                }
                Err(e) => failures.push(e),
            }
        }
    }
    let requests =
        tally.reads.count() + tally.changes.count() + tally.loads.count() + tally.creates.count();
    println!(
        "{NAME}: {requests} requests in {elapsed:.0} s = {:.0} req/s; {} errors; {} conflicts retried",
        requests as f64 / elapsed,
        tally.errors.len(),
        tally.conflicts
    );
    println!("{NAME}: reads   {}", tally.reads.summary());
    println!(
        "{NAME}: changes {} (latency includes 409 retries)",
        tally.changes.summary()
    );
    println!("{NAME}: loads   {} (50 people each)", tally.loads.summary());
    println!(
        "{NAME}: POST /graphs {} ({} graphs created, all served by both workers)",
        tally.creates.summary(),
        tally.graphs.len()
    );
    println!(
        "{NAME}: {} acknowledged people in {} graphs read back through both workers",
        tally.acked.len(),
        all_graphs.len()
    );
    finish(NAME, &failures)
}

/// The counters compared with the clients' tally, as PromQL over the scraped series.
const COUNTED: [&str; 5] = ["reads", "changes", "loads", "conflicts", "graph creations"];
const QUERIES: [&str; 5] = [
    r#"sum(omnigraph_http_requests_total{job="workers", route="/graphs/{graph_id}/read", status="200"})"#,
    r#"sum(omnigraph_http_requests_total{job="workers", route="/graphs/{graph_id}/change", status="200"})"#,
    r#"sum(omnigraph_http_requests_total{job="workers", route="/graphs/{graph_id}/ingest", status="200"})"#,
    r#"sum(omnigraph_write_conflicts_total{job="workers"}) or vector(0)"#,
    r#"sum(omnigraph_management_operations_total{job="control_plane", operation="graph_create", outcome="ok"})"#,
];

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The values of [`QUERIES`] from scrapes of each of the three targets (the control plane,
/// two workers) made after `since` (unix time): waits for them, up to 30 s.
fn scraped_counts(prometheus: &Prometheus, since: f64) -> Result<Vec<f64>, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let targets = prometheus.query("count(up == 1)");
        let oldest = prometheus.query("min(timestamp(up))");
        if targets == Some(3.0) && oldest.is_some_and(|t| t > since + 0.5) {
            // A series that never moved (no conflict, say) is absent: 0.
            return Ok(QUERIES
                .iter()
                .map(|q| prometheus.query(q).unwrap_or(0.0))
                .collect());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Prometheus has no scrape after the load:\n{}",
                prometheus.log()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
