//! Fault scenario: kill -9 the control plane while clients read and write through two
//! data planes, restart it later, and add a graph after the restart.
//!
//! Checks: while the control plane is down every read and write of every known graph
//! is still answered (200, or 409 for a write that lost a race and is retried); after the
//! restart both workers serve a graph created then (registry and workers converge); every
//! acknowledged write is read back. Settings: FAULT_CLIENTS (default 4), FAULT_SECONDS
//! (total, default 24; the control plane is down for its middle third).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use omnigraph_e2e::*;
use serde_json::json;

const NAME: &str = "fault_kill_control_plane";
const GRAPHS: [&str; 3] = ["g0", "g1", "g2"];

#[derive(Default)]
struct Outcome {
    acked: Vec<(String, String)>, // (graph, name)
    answered_while_down: usize,
    unanswered_while_down: Vec<String>,
    server_errors: Vec<String>,
    conflicts: usize,
    reads: Latencies,
    writes: Latencies,
}

fn main() -> std::process::ExitCode {
    let clients = setting("FAULT_CLIENTS", 4);
    let seconds = setting("FAULT_SECONDS", 24);
    let storage = ScenarioStorage::from_env();
    let mut cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let w1 = DataPlane::with_control_plane(&cp.url, "w1");
    let w2 = DataPlane::with_control_plane(&cp.url, "w2");
    let client = load_client();
    let workers = [w1.url.clone(), w2.url.clone()];
    for g in GRAPHS {
        let uri = storage.graph_uri(&format!("{g}.omni"));
        create_served(&client, &cp.url, &[&w1.url, &w2.url], g, &uri);
    }
    println!(
        "{NAME}: storage {}; {clients} clients, {seconds} s, two workers, {} graphs",
        storage.describe(),
        GRAPHS.len()
    );

    let down = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (down, stop, outcome, workers) =
                (down.clone(), stop.clone(), outcome.clone(), workers.clone());
            std::thread::spawn(move || {
                let client = load_client();
                let mut rng = Rng::new(t + 1);
                let mut mine = Outcome::default();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let graph = GRAPHS[rng.below(GRAPHS.len() as u64) as usize];
                    let worker = &workers[rng.below(2) as usize];
                    let was_down = down.load(Ordering::SeqCst);
                    let started = Instant::now();
                    let (status, body, write_name) = if rng.below(2) == 0 {
                        let name = format!("c{t}-{i}");
                        i += 1;
                        let q = "query add($name: String) { insert Person { name: $name } }";
                        let (s, b) = post(
                            &client,
                            &format!("{worker}/graphs/{graph}/change"),
                            &json!({ "query_source": q, "params": { "name": name } }),
                        );
                        (s, b, Some(name))
                    } else {
                        let q = "query n() { match { $p: Person } return { $p.name } limit 5 }";
                        let (s, b) = post(
                            &client,
                            &format!("{worker}/graphs/{graph}/read"),
                            &json!({ "query_source": q }),
                        );
                        (s, b, None)
                    };
                    let took = started.elapsed();
                    match (status, &write_name) {
                        (200, Some(name)) => {
                            mine.writes.record(took);
                            mine.acked.push((graph.to_string(), name.clone()));
                        }
                        (200, None) => mine.reads.record(took),
                        (409, Some(_)) => mine.conflicts += 1,
                        (s, _) if s >= 500 || s == 0 => mine
                            .server_errors
                            .push(format!("{s} from {worker}: {body}")),
                        (s, _) => mine
                            .server_errors
                            .push(format!("unexpected {s} from {worker}: {body}")),
                    }
                    if was_down && down.load(Ordering::SeqCst) {
                        if status == 200 || status == 409 {
                            mine.answered_while_down += 1;
                        } else {
                            mine.unanswered_while_down.push(format!("{status}: {body}"));
                        }
                    }
                }
                let mut all = outcome.lock().expect("outcome");
                all.acked.extend(mine.acked);
                all.answered_while_down += mine.answered_while_down;
                all.unanswered_while_down.extend(mine.unanswered_while_down);
                all.server_errors.extend(mine.server_errors);
                all.conflicts += mine.conflicts;
                all.reads.merge(&mine.reads);
                all.writes.merge(&mine.writes);
            })
        })
        .collect();

    let third = Duration::from_secs(seconds / 3);
    std::thread::sleep(third);
    let port = cp.port();
    down.store(true, Ordering::SeqCst);
    cp.kill();
    std::thread::sleep(third);
    down.store(false, Ordering::SeqCst);
    let restarted_at = Instant::now();
    let restarted =
        ControlPlane::start_on_port(&cp.config_path, Some(port), ControlPlaneOptions::open())
            .expect("the control plane restarts from its yaml");
    let restart_took = restarted_at.elapsed();
    let created = create_graph(
        &client,
        &restarted.url,
        "after",
        &storage.graph_uri("after.omni"),
    );
    let converged = wait_served(
        &client,
        &[&w1.url, &w2.url],
        "after",
        Duration::from_secs(30),
    );
    std::thread::sleep(third);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("client");
    }

    let outcome = outcome.lock().expect("outcome");
    let mut failures = vec![];
    failures.extend(outcome.server_errors.iter().take(5).cloned());
    failures.extend(
        outcome
            .unanswered_while_down
            .iter()
            .take(5)
            .map(|e| format!("not served while the control plane was down: {e}")),
    );
    if outcome.answered_while_down == 0 {
        failures.push("no request completed while the control plane was down".into());
    }
    if created != 201 {
        failures.push(format!("POST /graphs after the restart answered {created}"));
    }
    if converged.is_none() {
        failures.push("the workers did not serve the graph created after the restart".into());
    }
    // Every acknowledged write, read back through each worker.
    for worker in &workers {
        for g in GRAPHS {
            match people_of(&client, worker, g) {
                Ok(names) => {
                    let want: BTreeSet<&String> = outcome
                        .acked
                        .iter()
                        .filter(|(graph, _)| graph == g)
                        .map(|(_, n)| n)
                        .collect();
                    let missing = want.iter().filter(|n| !names.contains(**n)).count();
                    if missing > 0 {
                        failures.push(format!("{missing} acknowledged writes missing in {g}"));
                    }
                }
                Err(e) => failures.push(e),
            }
        }
    }
    println!(
        "{NAME}: {} requests answered while the control plane was down ({:.0} s), {} not",
        outcome.answered_while_down,
        third.as_secs_f64(),
        outcome.unanswered_while_down.len()
    );
    println!(
        "{NAME}: control plane restart {:.2} s; a graph created after it served by both workers in {}",
        restart_took.as_secs_f64(),
        converged
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "never".into())
    );
    println!(
        "{NAME}: reads {}; acknowledged writes {} ({} read back); {} write conflicts (409); {} errors",
        outcome.reads.summary(),
        outcome.writes.summary(),
        outcome.acked.len(),
        outcome.conflicts,
        outcome.server_errors.len()
    );
    drop(restarted);
    finish(NAME, &failures)
}
