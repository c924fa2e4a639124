//! Fault scenario: restart the object store under load (needs OMNIGRAPH_S3_SERVER, the
//! S3 test server's binary; tests/faults/run.sh sets it).
//!
//! Clients write and read through a data plane while the S3-compatible server is killed
//! and, a few seconds later, started again on the same data. Checks: while it is down,
//! requests fail with 503 (never another 5xx, never a hang past the client timeout);
//! nothing acknowledged is lost; service resumes by itself once the store is back.
//! A request made while the store is down may spend seconds in the object-store client's
//! retries and be answered after the restart, so the 503s counted are those of requests
//! *made* while it was down, and the outage is longer than a retry chain.
//! Settings: FAULT_CLIENTS (default 4), FAULT_DOWN_SECONDS (default 12).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use omnigraph_e2e::*;
use serde_json::json;

const NAME: &str = "fault_store_restart";

#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    unavailable: usize,
    unavailable_issued_while_down: usize,
    conflicts: usize,
    other: Vec<String>,
    first_ok_after_restart: Option<Instant>,
    writes: Latencies,
}

fn main() -> std::process::ExitCode {
    let clients = setting("FAULT_CLIENTS", 4);
    let down_for = Duration::from_secs(setting("FAULT_DOWN_SECONDS", 12));
    let mut storage = ScenarioStorage::from_env();
    if storage.s3.is_none() {
        println!("{NAME}: needs OMNIGRAPH_S3_SERVER (run it through tests/faults/run.sh)");
        return std::process::ExitCode::from(2);
    }
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let worker = DataPlane::with_control_plane(&cp.url, "w1");
    let client = load_client();
    assert_eq!(
        create_graph(&client, &cp.url, "g", &storage.graph_uri("g.omni")),
        201
    );
    wait_served(&client, &[&worker.url], "g", Duration::from_secs(30)).expect("served");
    println!(
        "{NAME}: storage {}; {clients} clients; store down for {} s",
        storage.describe(),
        down_for.as_secs()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let restarted: Arc<Mutex<Option<Instant>>> = Arc::default();
    let killed: Arc<Mutex<Option<Instant>>> = Arc::default();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (stop, seen, restarted, killed, url) = (
                stop.clone(),
                seen.clone(),
                restarted.clone(),
                killed.clone(),
                worker.url.clone(),
            );
            std::thread::spawn(move || {
                let client = load_client();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let name = format!("s{t}-{i}");
                    i += 1;
                    let q = "query add($name: String) { insert Person { name: $name } }";
                    let started = Instant::now();
                    let store_down = killed.lock().expect("killed").is_some()
                        && restarted.lock().expect("restarted").is_none();
                    let (s, body) = post(
                        &client,
                        &format!("{url}/graphs/g/change"),
                        &json!({ "query_source": q, "params": { "name": name } }),
                    );
                    let took = started.elapsed();
                    let mut seen = seen.lock().expect("seen");
                    match s {
                        200 => {
                            seen.acked.push(name);
                            seen.writes.record(took);
                            let back = *restarted.lock().expect("restarted");
                            if back.is_some() && seen.first_ok_after_restart.is_none() {
                                seen.first_ok_after_restart = Some(Instant::now());
                            }
                        }
                        409 => seen.conflicts += 1,
                        503 if body["code"] == "service_unavailable" => {
                            seen.unavailable += 1;
                            if store_down {
                                seen.unavailable_issued_while_down += 1;
                            }
                        }
                        _ => seen.other.push(format!("{s} after {took:?}: {body}")),
                    }
                    drop(seen);
                    if s == 503 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(3));
    let s3 = storage.s3.as_mut().expect("s3");
    s3.kill();
    *killed.lock().expect("killed") = Some(Instant::now());
    std::thread::sleep(down_for);
    s3.restart();
    let back_at = Instant::now();
    *restarted.lock().expect("restarted") = Some(back_at);
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("client");
    }

    let seen = seen.lock().expect("seen");
    let mut failures = vec![];
    failures.extend(seen.other.iter().take(5).map(|e| format!("not a 503: {e}")));
    if seen.unavailable_issued_while_down == 0 {
        failures.push("no 503 for a request made while the store was down".into());
    }
    let resumed = seen.first_ok_after_restart.map(|t| t - back_at);
    if resumed.is_none() {
        failures.push("no write succeeded after the store came back".into());
    }
    match people_of(&client, &worker.url, "g") {
        Ok(names) => {
            let acked: BTreeSet<&String> = seen.acked.iter().collect();
            let missing = acked.iter().filter(|n| !names.contains(**n)).count();
            if missing > 0 {
                failures.push(format!("{missing} acknowledged writes lost"));
            }
        }
        Err(e) => failures.push(e),
    }
    println!(
        "{NAME}: {} answers 503 ({} to requests made while the store was down), {} other errors; \
         {} writes acknowledged ({}), all read back; {} conflicts (409)",
        seen.unavailable,
        seen.unavailable_issued_while_down,
        seen.other.len(),
        seen.acked.len(),
        seen.writes.summary(),
        seen.conflicts
    );
    println!(
        "{NAME}: first acknowledged write {} after the store restarted",
        resumed
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "never".into())
    );
    finish(NAME, &failures)
}
