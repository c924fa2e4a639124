//! Admission control on a real worker (docs/architecture.md, section 3): a per-actor cap on writes in
//! flight answers 429 with Retry-After, after the policy (403) and before the handler.
//!
//! A write is held in flight deterministically: the worker's embedding provider is a
//! socket that accepts and never answers, so an insert that needs an embedding waits there
//! (after admission, holding the graph's write lock) until the test closes the socket.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const POLICY: &str = "version: 1
groups:
  writers: [act-a, act-b]
rules:
  - id: writers-read-and-change
    allow: { actors: { group: writers }, actions: [read, change], branch_scope: any }
";
const TOKENS: &str = r#"{"act-a": "token-a-0123456789", "act-b": "token-b-0123456789"}"#;
const A: Option<&str> = Some("token-a-0123456789");
const B: Option<&str> = Some("token-b-0123456789");

/// An embedding provider that accepts connections and holds them unanswered until
/// released; after that it closes every connection at once.
pub(crate) struct SilentProvider {
    pub(crate) url: String,
    pub(crate) accepted: mpsc::Receiver<()>,
    held: Arc<Mutex<Option<Vec<TcpStream>>>>,
}

impl SilentProvider {
    pub(crate) fn start() -> SilentProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let (tx, accepted) = mpsc::channel();
        let held: Arc<Mutex<Option<Vec<TcpStream>>>> = Arc::new(Mutex::new(Some(Vec::new())));
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut keep = keep.lock().expect("lock");
                if let Some(streams) = keep.as_mut() {
                    streams.push(stream);
                    let _ = tx.send(());
                } // released: dropping the stream closes it
            }
        });
        SilentProvider {
            url,
            accepted,
            held,
        }
    }

    /// Closes every held connection; later ones are closed as they come.
    pub(crate) fn release(&self) {
        self.held.lock().expect("lock").take();
    }
}

fn insight(slug: &str) -> Value {
    json!({ "query_source": format!("query q() {{ insert Insight {{ slug: \"{slug}\", name: \"{slug}\", createdAt: \"2026-04-14T00:00:00Z\", updatedAt: \"2026-04-14T00:00:00Z\" }} }}") })
}

fn chunk(id: &str) -> Value {
    json!({ "query_source": format!(
        "query q() {{ insert Chunk {{ id: \"{id}\", text: \"held in flight\", chunk_index: 0, createdAt: \"2026-04-14T00:00:00Z\" }} }}"
    ) })
}

fn slugs(dp: &DataPlane) -> Vec<String> {
    let (s, body) = dp.post(
        "/read",
        &json!({ "query_source": "query q() { match { $i: Insight } return { $i.slug } order { $i.slug } }" }),
        A,
    );
    assert_eq!(s, 200, "{body}");
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["i.slug"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn writes_over_the_per_actor_cap_answer_429_with_retry_after() {
    let provider = SilentProvider::start();
    let g = TempGraph::new("industry-intel/schema.pg");
    g.write_file("p.yaml", POLICY);
    let dp = DataPlane::single_mode(
        &g,
        "  policy: { file: p.yaml }\n",
        &[],
        &[
            ("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS),
            ("OMNIGRAPH_MAX_WRITES_PER_ACTOR", "1"),
            ("OMNIGRAPH_EMBEDDING_URL", provider.url.as_str()),
            ("OMNIGRAPH_EMBEDDING_MODEL", EMBEDDING_MODEL),
        ],
    );

    // Actor a's one write slot: an insert waiting on the provider.
    let held = std::thread::scope(|scope| {
        let first = scope.spawn(|| dp.post("/change", &chunk("c1"), A));
        provider
            .accepted
            .recv_timeout(Duration::from_secs(30))
            .expect("the held write reached the provider");

        // Over the cap: 429 with Retry-After and the envelope, nothing written.
        let response = dp
            .client()
            .post(format!("{}/change", dp.url))
            .bearer_auth("token-a-0123456789")
            .json(&insight("refused"))
            .send()
            .expect("POST");
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body: Value = response.json().expect("JSON body");
        envelope(429, &body, 429, "too_many_requests");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("act-a"), "{message}");

        // Every write route is capped: loads, branch operations.
        let (s, body) = dp.post(
            "/ingest",
            &json!({ "data": "{\"type\":\"Insight\",\"data\":{\"slug\":\"loaded\",\"name\":\"x\",\"createdAt\":\"2026-04-14T00:00:00Z\",\"updatedAt\":\"2026-04-14T00:00:00Z\"}}\n" }),
            A,
        );
        envelope(s, &body, 429, "too_many_requests");
        // Admission comes before the handler: a body that would be a 400 is a 429 here.
        let (s, body) = dp.post_raw("/change", "{not json".to_string(), A);
        envelope(s, &body, 429, "too_many_requests");
        // ... and after the policy: an action a may not do is a 403, not a 429.
        let (s, body) = dp.post("/branches", &json!({ "name": "x" }), A);
        envelope(s, &body, 403, "forbidden");
        // Reads are not capped.
        assert_eq!(slugs(&dp), Vec::<String>::new());
        // Another actor is admitted: its write waits for the graph's write lock (the
        // worker runs one write of a branch at a time) and succeeds once the held one ends.
        let other = scope.spawn(|| dp.post("/change", &insight("by-b"), B));

        // The held write fails when its provider goes away, and gives its slot back.
        provider.release();
        let held = first.join().expect("held write thread");
        let (s, body) = other.join().expect("other actor's thread");
        assert_eq!(s, 200, "another actor's write is not capped: {body}");
        held
    });
    envelope(held.0, &held.1, 503, "service_unavailable");

    let (s, body) = dp.post("/change", &insight("after"), A);
    assert_eq!(s, 200, "the slot was given back: {body}");
    assert_eq!(slugs(&dp), vec!["after".to_string(), "by-b".to_string()]);
}

#[test]
fn an_invalid_cap_refuses_to_start() {
    let g = TempGraph::new("social.pg");
    let config = g.write_file("omnigraph.yaml", &format!("graph:\n  uri: {}\n", g.store));
    for (args, env) in [
        (vec!["--max-writes-per-actor", "0"], None),
        (vec![], Some("many")),
        (vec![], Some("-3")),
    ] {
        let mut command = data_plane();
        command.args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--unauthenticated",
            "--config",
            &config,
        ]);
        command.args(&args);
        if let Some(value) = env {
            command.env("OMNIGRAPH_MAX_WRITES_PER_ACTOR", value);
        }
        let out = command.output().expect("run serve");
        assert!(!out.status.success(), "{args:?} {env:?} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("max-writes-per-actor"), "{stderr}");
    }
}
