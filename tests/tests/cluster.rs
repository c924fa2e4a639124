//! A real control plane with real data-plane workers (all separate processes on
//! 127.0.0.1): graphs added at runtime are served by every worker without a restart, and
//! the workers converge to the control plane's registry after its crash and restart.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::json;

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const ADD: &str = "query add($name: String) { insert Person { name: $name } }";

/// The graph ids a worker serves, among `candidates`.
fn served(worker: &DataPlane, candidates: &[String]) -> BTreeSet<String> {
    candidates
        .iter()
        .filter(|id| worker.get(&format!("/graphs/{id}/snapshot"), None).0 == 200)
        .cloned()
        .collect()
}

fn registry_ids(cp: &ControlPlane) -> Vec<String> {
    let (s, registry) = cp.get("/internal/registry", None);
    assert_eq!(s, 200, "{registry}");
    registry["graphs"]
        .as_array()
        .expect("graphs")
        .iter()
        .map(|g| g["graph_id"].as_str().expect("graph_id").to_owned())
        .collect()
}

#[test]
fn a_posted_graph_is_read_and_written_through_two_workers_within_a_second() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let w1 = DataPlane::with_control_plane(&cp.url, "w1");
    let w2 = DataPlane::with_control_plane(&cp.url, "w2");
    for w in [&w1, &w2] {
        let (s, b) = w.get("/graphs/beta/snapshot", None);
        assert_eq!(s, 404, "{b}");
        assert_eq!(b["code"], "not_found");
    }

    let (s, b) = cp.create_graph("beta", &cp.graph_uri("beta.omni"), None);
    assert_eq!(s, 201, "{b}");
    for w in [&w1, &w2] {
        assert!(
            eventually(Duration::from_secs(1), || w
                .get("/graphs/beta/snapshot", None)
                .0
                == 200),
            "not served within 1s:\n{}",
            w.log()
        );
    }
    // A write through one worker is read through the other, and the other way round.
    let (s, b) = w1.post(
        "/graphs/beta/change",
        &json!({ "query_source": ADD, "params": { "name": "Ana" } }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = w2.post(
        "/graphs/beta/change",
        &json!({ "query_source": ADD, "params": { "name": "Bo" } }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    for w in [&w1, &w2] {
        let (s, b) = w.post("/graphs/beta/read", &json!({ "query_source": NAMES }), None);
        assert_eq!(s, 200, "{b}");
        assert_eq!(person_names(&b), ["Ana", "Bo"]);
    }
    // The control plane reports both workers at the current generation.
    let health = cp.health();
    let workers = health["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2, "{health}");
}

#[test]
fn twenty_concurrent_posts_are_served_by_every_worker() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let workers = [
        DataPlane::with_control_plane(&cp.url, "w1"),
        DataPlane::with_control_plane(&cp.url, "w2"),
    ];
    let ids: Vec<String> = (0..20).map(|i| format!("graph-{i:02}")).collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let cp = &cp;
                s.spawn(move || {
                    cp.create_graph(id, &cp.graph_uri(&format!("{id}.omni")), None)
                        .0
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let yaml = cp.yaml();
    for id in &ids {
        assert!(
            yaml.contains(&format!("  {id}:\n")),
            "{id} missing:\n{yaml}"
        );
    }
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    for w in &workers {
        assert!(
            eventually(Duration::from_secs(2), || served(w, &ids) == all),
            "worker serves only {:?}:\n{}",
            served(w, &ids),
            w.log()
        );
        assert_eq!(w.get("/healthz", None).1["registry_generation"], 21);
    }
}

#[test]
fn kill_9_of_the_control_plane_mid_burst_then_restart_and_the_workers_converge() {
    let mut cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let worker = DataPlane::with_control_plane(&cp.url, "w1");
    let (client, url, root) = (cp.client().clone(), cp.endpoint("/graphs"), cp.root.clone());
    let created = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = (0..2)
        .map(|writer| {
            let (client, url, root, created) =
                (client.clone(), url.clone(), root.clone(), created.clone());
            std::thread::spawn(move || {
                for i in 0..30 {
                    let id = format!("burst-{writer}-{i}");
                    let uri = graph_uri(&root, &format!("{id}.omni"));
                    let body = create_body(&id, &uri);
                    match client.post(&url).json(&body).send() {
                        Ok(r) if r.status().as_u16() == 201 => {
                            created.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(_) => return, // the control plane is gone
                    }
                }
            })
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(60), || created.load(Ordering::SeqCst)
            >= 3),
        "the burst did not get under way"
    );
    let port = cp.port();
    cp.kill();
    for writer in burst {
        writer.join().expect("writer");
    }

    let restarted =
        ControlPlane::start_on_port(&cp.config_path, Some(port), ControlPlaneOptions::open())
            .expect("the yaml still loads");
    let listed = registry_ids(&restarted);
    let (_, registry) = restarted.get("/internal/registry", None);
    for graph in registry["graphs"].as_array().expect("graphs") {
        let uri = graph["uri"].as_str().expect("uri");
        assert!(has_manifest(uri), "listed but not initialised: {graph}");
    }
    assert!(
        listed.len() >= created.load(Ordering::SeqCst),
        "an acknowledged graph is missing: {listed:?}"
    );
    let candidates: Vec<String> = (0..2)
        .flat_map(|w| (0..30).map(move |i| format!("burst-{w}-{i}")))
        .collect();
    let expected: BTreeSet<String> = listed.iter().cloned().collect();
    // The worker re-registers (the restarted control plane is behind it) and then serves
    // exactly what omnigraph.yaml lists: every listed graph opens.
    assert!(
        eventually(Duration::from_secs(15), || served(&worker, &candidates)
            == expected),
        "worker serves {:?}, registry lists {expected:?}:\n{}",
        served(&worker, &candidates),
        worker.log()
    );
}

#[test]
fn restarting_every_process_from_the_yaml_serves_the_same_graphs_and_data() {
    let mut cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    let mut worker = DataPlane::with_control_plane(&cp.url, "w1");
    for id in ["alpha", "beta"] {
        assert_eq!(
            cp.create_graph(id, &cp.graph_uri(&format!("{id}.omni")), None)
                .0,
            201
        );
    }
    let ids = vec!["alpha".to_owned(), "beta".to_owned()];
    assert!(eventually(Duration::from_secs(2), || served(&worker, &ids)
        .len()
        == 2));
    let (s, b) = worker.post(
        "/graphs/beta/change",
        &json!({ "query_source": ADD, "params": { "name": "Kept" } }),
        None,
    );
    assert_eq!(s, 200, "{b}");
    let before = registry_ids(&cp);

    worker.kill();
    cp.kill();
    let cp = ControlPlane::start_on(&cp.config_path, ControlPlaneOptions::open()).expect("restart");
    assert_eq!(registry_ids(&cp), before);
    let worker = DataPlane::with_control_plane(&cp.url, "w1");
    assert_eq!(served(&worker, &ids).len(), 2);
    let (s, b) = worker.post("/graphs/beta/read", &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(person_names(&b), ["Kept"]);
}
