use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use omnigraph_config::GraphId;

use super::*;
use crate::registry::RegisteredGraph;

/// A fake worker: records the generations pushed to it and answers like a worker that
/// applies only newer generations, starting from `holds`.
#[derive(Clone)]
struct FakeWorker {
    received: Arc<Mutex<Vec<u64>>>,
    holds: Arc<Mutex<u64>>,
}

async fn fake_push(
    State(w): State<FakeWorker>,
    Json(doc): Json<RegistryDocument>,
) -> Json<RegistryAck> {
    w.received.lock().unwrap().push(doc.generation);
    let mut holds = w.holds.lock().unwrap();
    let applied = doc.generation > *holds;
    if applied {
        *holds = doc.generation;
    }
    Json(RegistryAck {
        worker_id: "fake".into(),
        generation: *holds,
        applied,
    })
}

async fn start_fake_worker(holds: u64) -> (Url, FakeWorker) {
    let worker = FakeWorker {
        received: Arc::default(),
        holds: Arc::new(Mutex::new(holds)),
    };
    let app = Router::new()
        .route(REGISTRY_PATH, post(fake_push))
        .with_state(worker.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{addr}")).unwrap(), worker)
}

fn fast_policy() -> PushPolicy {
    PushPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        request_timeout: Duration::from_secs(2),
    }
}

fn registry() -> Arc<Registry> {
    Registry::new(BTreeMap::from([(
        GraphId::parse("alpha").unwrap(),
        RegisteredGraph {
            uri: "/data/alpha".into(),
            policy: None,
        },
    )]))
}

fn add_graph(registry: &Arc<Registry>, id: &str) -> u64 {
    let id = GraphId::parse(id).unwrap();
    let uri = format!("/data/{id}");
    let reservation = registry.reserve(&id, &uri).unwrap();
    registry
        .publish(reservation, RegisteredGraph { uri, policy: None })
        .unwrap()
        .generation
}

#[tokio::test]
async fn push_delivers_every_new_generation_to_registered_workers() {
    let registry = registry();
    let workers = WorkerSet::new(registry.clone(), None, fast_policy()).unwrap();
    let (url_a, a) = start_fake_worker(0).await;
    let (url_b, b) = start_fake_worker(0).await;
    workers.register("a".into(), url_a);
    workers.register("b".into(), url_b);
    workers.wait_for(1, Duration::from_secs(5)).await;

    let generation = add_graph(&registry, "beta");
    workers.wait_for(generation, Duration::from_secs(5)).await;
    for w in [&a, &b] {
        assert_eq!(*w.holds.lock().unwrap(), 2);
    }
    for report in workers.reports() {
        assert_eq!(report.state.acked, Some(2), "{report:?}");
        assert_eq!(report.state.last_error, None);
    }
}

#[tokio::test]
async fn push_to_an_unreachable_worker_records_the_error_and_gives_up() {
    let registry = registry();
    let workers = WorkerSet::new(registry.clone(), None, fast_policy()).unwrap();
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    workers.register(
        "gone".into(),
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
    );
    workers.wait_for(1, Duration::from_secs(5)).await;
    let report = &workers.reports()[0];
    assert_eq!(report.state.acked, None);
    assert_eq!(report.state.exhausted, Some(1));
    assert!(report.state.last_error.is_some());
}

#[tokio::test]
async fn an_ack_above_the_pushed_generation_is_refused_and_never_adopted() {
    // A worker that claims u64::MAX (or a generation of an earlier run of the control
    // plane) must not pin the generation counter: later pushes still reach the others.
    let registry = registry();
    let workers = WorkerSet::new(registry.clone(), None, fast_policy()).unwrap();
    let (liar_url, _liar) = start_fake_worker(u64::MAX).await;
    let (url, honest) = start_fake_worker(0).await;
    workers.register("liar".into(), liar_url);
    workers.register("honest".into(), url);
    workers.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(registry.generation(), 1);

    let generation = add_graph(&registry, "beta");
    assert_eq!(generation, 2);
    workers.wait_for(generation, Duration::from_secs(5)).await;
    assert_eq!(registry.generation(), 2);
    assert_eq!(*honest.holds.lock().unwrap(), 2);
    for report in workers.reports() {
        match report.worker_id.as_str() {
            "liar" => {
                assert_eq!(report.state.acked, None, "{report:?}");
                assert_eq!(report.state.exhausted, Some(2), "{report:?}");
                let error = report.state.last_error.clone().unwrap_or_default();
                assert!(error.contains("acknowledged generation"), "{report:?}");
            }
            _ => assert_eq!(report.state.acked, Some(2), "{report:?}"),
        }
    }
}

#[tokio::test]
async fn register_with_the_same_url_replaces_the_previous_incarnation() {
    let registry = registry();
    let workers = WorkerSet::new(registry, None, fast_policy()).unwrap();
    let (url, _w) = start_fake_worker(0).await;
    workers.register("old".into(), url.clone());
    workers.register("new".into(), url);
    let ids: Vec<String> = workers.reports().into_iter().map(|r| r.worker_id).collect();
    assert_eq!(ids, ["new"]);
}
