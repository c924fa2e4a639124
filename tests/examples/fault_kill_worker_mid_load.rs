//! Fault scenario: kill -9 a data plane in the middle of a large load through it.
//!
//! Checks, in each round: while the load runs and after the kill, a second worker only
//! ever sees the graph at the old version or at the complete new one (never some of the
//! load's rows); the next load through the second worker succeeds and adds exactly its
//! rows. Prints what each round saw. Settings: FAULT_ROWS (people per killed load,
//! default 100000, each with an edge), FAULT_ROUNDS (default 3).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use omnigraph_e2e::*;
use serde_json::json;

const NAME: &str = "fault_kill_worker_mid_load";

fn main() -> std::process::ExitCode {
    let rows = setting("FAULT_ROWS", 100_000) as usize;
    let rounds = setting("FAULT_ROUNDS", 3);
    let storage = ScenarioStorage::from_env();
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let survivor = DataPlane::with_control_plane(&cp.url, "survivor");
    let client = load_client();
    let mut failures = vec![];

    let uri = storage.graph_uri("big.omni");
    assert_eq!(
        create_graph(&client, &cp.url, "big", &uri),
        201,
        "create graph"
    );
    let (s, b) = post(
        &client,
        &format!("{}/graphs/big/ingest", survivor.url),
        &json!({ "data": people_jsonl("seed-", 1000) }),
    );
    assert_eq!(s, 200, "seed load: {b}");
    // How long a whole load of this size takes here: the kills land at fractions of it.
    let started = Instant::now();
    let (s, b) = post(
        &client,
        &format!("{}/graphs/big/ingest", survivor.url),
        &json!({ "data": people_jsonl("full-", rows), "mode": "append" }),
    );
    assert_eq!(s, 200, "a whole load: {b}");
    let full_load = started.elapsed();
    println!(
        "{NAME}: storage {}; {rows} people + {} edges per load; a whole load takes {:.1} s; \
         {rounds} rounds",
        storage.describe(),
        rows - 1,
        full_load.as_secs_f64()
    );

    for round in 0..rounds {
        let victim = DataPlane::with_control_plane(&cp.url, &format!("victim-{round}"));
        if wait_served(&client, &[&victim.url], "big", Duration::from_secs(30)).is_none() {
            failures.push(format!(
                "round {round}: the new worker never served the graph"
            ));
            continue;
        }
        let (v0, people0) = row_count(&client, &survivor.url, "big", "node:Person")
            .expect("snapshot before the load");
        let (_, edges0) =
            row_count(&client, &survivor.url, "big", "edge:Knows").expect("edges before");
        let data = people_jsonl(&format!("killed-{round}-"), rows);

        // Watch what the survivor sees while the load runs and dies.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (stop, url) = (stop.clone(), survivor.url.clone());
            std::thread::spawn(move || {
                let client = load_client();
                let mut seen = vec![];
                while !stop.load(Ordering::SeqCst) {
                    if let Some(p) = row_count(&client, &url, "big", "node:Person") {
                        seen.push(p);
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                seen
            })
        };
        let loader = {
            let url = format!("{}/graphs/big/ingest", victim.url);
            std::thread::spawn(move || {
                let client = load_client();
                post(&client, &url, &json!({ "data": data, "mode": "append" })).0
            })
        };
        // Kill at a different point of the load each round: early, halfway, near the end.
        let fraction = [0.2, 0.5, 0.9][(round % 3) as usize];
        let kill_after = full_load.mul_f64(fraction);
        std::thread::sleep(kill_after);
        let mut victim = victim;
        victim.kill();
        let load_status = loader.join().expect("loader");
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::SeqCst);
        let seen = watcher.join().expect("watcher");

        let (v1, people1) =
            row_count(&client, &survivor.url, "big", "node:Person").expect("snapshot after");
        let (_, edges1) = row_count(&client, &survivor.url, "big", "edge:Knows").expect("edges");
        let complete = people1 == people0 + rows as u64 && edges1 == edges0 + rows as u64 - 1;
        let untouched = people1 == people0 && edges1 == edges0 && v1 == v0;
        let outcome = if untouched {
            "old version kept"
        } else if complete {
            "load had published before the kill: complete new version"
        } else {
            "PARTIAL"
        };
        if !(untouched || complete) {
            failures.push(format!(
                "round {round}: {people0}->{people1} people, {edges0}->{edges1} edges, v{v0}->v{v1}"
            ));
        }
        if load_status == 200 && untouched {
            failures.push(format!("round {round}: load acknowledged but not visible"));
        }
        for (v, p) in &seen {
            if *p != people0 && *p != people0 + rows as u64 {
                failures.push(format!("round {round}: a reader saw {p} people at v{v}"));
            }
        }

        // The next load through the survivor.
        let started = Instant::now();
        let (s, b) = post(
            &client,
            &format!("{}/graphs/big/ingest", survivor.url),
            &json!({ "data": people_jsonl(&format!("after-{round}-"), 1000), "mode": "append" }),
        );
        let next_load = started.elapsed();
        let (v2, people2) =
            row_count(&client, &survivor.url, "big", "node:Person").expect("snapshot");
        if s != 200 || people2 != people1 + 1000 {
            failures.push(format!(
                "round {round}: the next load answered {s} ({b}); people {people1}->{people2}"
            ));
        }
        println!(
            "{NAME}: round {round}: killed {:.1} s ({:.0}%) into the load (load answer {load_status}); \
             {outcome}: v{v0}->v{v1}, people {people0}->{people1}; {} reads during the load, \
             none partial; next load through the other worker: {s} in {:.0} ms -> v{v2}",
            kill_after.as_secs_f64(),
            fraction * 100.0,
            seen.len(),
            next_load.as_secs_f64() * 1000.0
        );
    }
    finish(NAME, &failures)
}
