//! Search over HTTP and in the embedded CLI, with a real embedding model served on
//! 127.0.0.1 (tests/embedder: all-MiniLM-L6-v2 behind the OpenAI embeddings API): `@embed`
//! vectors computed on load and on mutation, Strings embedded for `nearest`, the
//! industry-intel cookbook's search and hybrid queries on its published schema, and every
//! provider failure.
//!
//! The published schema embeds `Chunk.text` into `Vector(3072)`; the local model gives 384
//! dimensions, so these tests run it as a stand-in of 3072 (`Embedder::start_tiled(8)`: each
//! vector repeated 8 times, which keeps every cosine similarity the model's own). The chunks
//! are this project's test data (tests/fixtures/industry-intel-chunks.jsonl): the cookbook's
//! seed has none.

use omnigraph_e2e::*;
use serde_json::{json, Value};

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// The chunks (and a few insights) the search tests load.
const CHUNKS: &str = "industry-intel-chunks.jsonl";

/// A worker serving a fresh industry-intel graph with `env`.
fn intel(env: &[(&str, String)]) -> (TempGraph, DataPlane) {
    let g = TempGraph::new("industry-intel/schema.pg");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dp = DataPlane::single_mode(&g, "", &["--unauthenticated"], &env);
    (g, dp)
}

fn read(dp: &DataPlane, source: &str, name: &str, params: Value) -> (u16, Value) {
    dp.post(
        "/read",
        &json!({"query_source": source, "query_name": name, "params": params}),
        None,
    )
}

fn texts(body: &Value) -> Vec<String> {
    body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("rows in {body}"))
        .iter()
        .map(|r| r["c.text"].as_str().unwrap_or("?").to_string())
        .collect()
}

const BY_TEXT: &str = "query by_text($q: String) { match { $c: Chunk } return { $c.id as id, nearest($c.embedding, $q) as dist } order { nearest($c.embedding, $q) } limit 1 }";

#[test]
fn cookbook_search_and_hybrid_queries_run_with_a_local_model() {
    let embedder = Embedder::start_tiled(8);
    let (_g, dp) = intel(&embedder.env());
    // The seed has no vectors: the load embeds every chunk's text.
    let (s, body) = dp.post("/ingest", &json!({ "data": fixture_text(CHUNKS) }), None);
    assert_eq!(s, 200, "{body}");

    let hybrid = fixture_text("industry-intel/queries/hybrid.gq");
    let (s, body) = read(
        &dp,
        &hybrid,
        "related_chunks",
        json!({"q": "How do robots pick up things?"}),
    );
    assert_eq!(s, 200, "{body}");
    let got = texts(&body);
    assert_eq!(got.len(), 6, "limit 10 of 6 chunks: {got:?}");
    assert_eq!(body["columns"], json!(["c.text", "c.chunk_index"]));
    let top2: Vec<&str> = got[..2].iter().map(|t| &t[..5]).collect();
    assert!(
        top2.contains(&"Robot") && top2.contains(&"Wareh"),
        "the two robotics chunks first: {got:?}"
    );

    let (s, body) = read(
        &dp,
        &hybrid,
        "hybrid_chunks",
        json!({"q": "semantic search over embeddings"}),
    );
    assert_eq!(s, 200, "{body}");
    let got = texts(&body);
    assert!(got[0].starts_with("Vector databases"), "{got:?}");

    let (s, body) = read(
        &dp,
        &hybrid,
        "hybrid_chunks",
        json!({"q": "cheaper LLM serving with draft tokens"}),
    );
    assert_eq!(s, 200, "{body}");
    assert!(
        texts(&body)[0].starts_with("Speculative decoding"),
        "{body}"
    );

    let insights = fixture_text("industry-intel/queries/insights.gq");
    let (s, body) = read(&dp, &insights, "search_insights", json!({"q": "robotics"}));
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"i.slug": "robot-data", "i.name": "Robotics is bottlenecked on data", "i.brief": "Demonstrations are scarce."}])
    );

    // A stored vector is the model's vector of the text: a chunk is its own nearest, at 0.
    let (s, body) = read(
        &dp,
        BY_TEXT,
        "by_text",
        json!({"q": "Quarterly earnings rose as cloud revenue grew across enterprise customers."}),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["rows"][0]["id"], "c4");
    assert!(
        body["rows"][0]["dist"].as_f64().expect("distance") < 1e-4,
        "{body}"
    );
}

#[test]
fn mutations_embed_inserted_and_updated_text() {
    let embedder = Embedder::start_tiled(8);
    let (_g, dp) = intel(&embedder.env());
    let insert =
        "query add($id: String, $t: String) { insert Chunk { id: $id, text: $t, chunk_index: 9, createdAt: \"2026-04-14T00:00:00Z\" } }";
    let (s, body) = dp.post(
        "/change",
        &json!({"query_source": insert, "params": {"id": "n1", "t": "Solar panels convert sunlight into electricity."}}),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = read(
        &dp,
        BY_TEXT,
        "by_text",
        json!({"q": "Solar panels convert sunlight into electricity."}),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["rows"][0]["id"], "n1");
    assert!(
        body["rows"][0]["dist"].as_f64().expect("distance") < 1e-4,
        "{body}"
    );

    // A new text gets a new vector; the old text is no longer at distance 0.
    let update = "query up($t: String) { update Chunk set { text: $t } where id = \"n1\" }";
    let (s, body) = dp.post(
        "/change",
        &json!({"query_source": update, "params": {"t": "Tides are driven by the moon's gravity."}}),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let (_, body) = read(
        &dp,
        BY_TEXT,
        "by_text",
        json!({"q": "Tides are driven by the moon's gravity."}),
    );
    assert!(
        body["rows"][0]["dist"].as_f64().expect("distance") < 1e-4,
        "{body}"
    );
    let (_, body) = read(
        &dp,
        BY_TEXT,
        "by_text",
        json!({"q": "Solar panels convert sunlight into electricity."}),
    );
    assert!(
        body["rows"][0]["dist"].as_f64().expect("distance") > 0.3,
        "{body}"
    );

    // A vector given explicitly is kept as given.
    let mut v = vec![0.0f32; 3072];
    v[0] = 1.0;
    let given = "query put($v: Vector(3072)) { insert Chunk { id: \"n2\", text: \"anything\", chunk_index: 1, createdAt: \"2026-04-14T00:00:00Z\", embedding: $v } }";
    let (s, body) = dp.post(
        "/change",
        &json!({"query_source": given, "params": {"v": v}}),
        None,
    );
    assert_eq!(s, 200, "{body}");
    let probe = "query p($v: Vector(3072)) { match { $c: Chunk } return { $c.id as id, nearest($c.embedding, $v) as dist } order { nearest($c.embedding, $v) } limit 1 }";
    let (_, body) = read(&dp, probe, "p", json!({"v": v}));
    assert_eq!(body["rows"][0]["id"], "n2", "{body}");
}

#[test]
fn typing_errors_are_positioned_400s() {
    let (_g, dp) = intel(&[]);
    // Phrase matching needs a full-text index, which Chunk.id does not have.
    let q =
        "query q($q: String) {\n  match { $c: Chunk match_text($c.id, $q) }\n  return { $c.id }\n}";
    let (s, body) = dp.post(
        "/read",
        &json!({"query_source": q, "params": {"q": "x"}}),
        None,
    );
    envelope(s, &body, 400, "bad_request");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("T16") && message.contains("2:"),
        "{message}"
    );
}

#[test]
fn provider_failures_are_clear_errors() {
    // No provider configured: a load that needs vectors is refused and loads nothing.
    let (g, dp) = intel(&[]);
    let seed = fixture_text(CHUNKS);
    let (s, body) = dp.post("/ingest", &json!({ "data": seed }), None);
    envelope(s, &body, 400, "bad_request");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("OMNIGRAPH_EMBEDDING_URL"),
        "{body}"
    );
    assert_eq!(g.row_count("node:Chunk"), 0);
    let (s, body) = read(&dp, BY_TEXT, "by_text", json!({"q": "anything"}));
    envelope(s, &body, 400, "bad_request");
    drop(dp);

    // The provider is down: 503, retry later.
    let down = vec![
        (
            "OMNIGRAPH_EMBEDDING_URL",
            "http://127.0.0.1:9/v1".to_string(),
        ),
        ("OMNIGRAPH_EMBEDDING_MODEL", EMBEDDING_MODEL.to_string()),
    ];
    let (_g2, dp) = intel(&down);
    let (s, body) = dp.post("/ingest", &json!({ "data": seed }), None);
    envelope(s, &body, 503, "service_unavailable");
    drop(dp);

    // The provider serves another model than the schema names (a schema of this project's
    // own: the published one names no model).
    let embedder = Embedder::start();
    let mut other = embedder.env();
    other[1].1 = "text-embedding-3-small".to_string();
    let g3 = TempGraph::new("embedding-model.pg");
    let env: Vec<(&str, &str)> = other.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dp = DataPlane::single_mode(&g3, "", &["--unauthenticated"], &env);
    let note = "{\"type\": \"Note\", \"data\": {\"slug\": \"a\", \"text\": \"hello\"}}\n";
    let (s, body) = dp.post("/ingest", &json!({ "data": note }), None);
    envelope(s, &body, 400, "bad_request");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("model mismatch") && message.contains("all-MiniLM-L6-v2"),
        "{message}"
    );
    drop(dp);

    // Vectors of another width than the schema's: the model's own 384 for Vector(3072).
    let (g4, dp) = intel(&embedder.env());
    let (s, body) = dp.post("/ingest", &json!({ "data": seed }), None);
    envelope(s, &body, 400, "bad_request");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("384") && message.contains("3072"),
        "{message}"
    );
    assert_eq!(g4.row_count("node:Chunk"), 0);
}

#[test]
fn the_embedded_cli_embeds_on_load_and_query() {
    let embedder = Embedder::start_tiled(8);
    let g = TempGraph::new("industry-intel/schema.pg");
    let seed = fixture(CHUNKS);
    let hybrid = fixture("industry-intel/queries/hybrid.gq");
    let run = |args: &[&str]| -> Run {
        let mut c = data_plane();
        c.args(args);
        for (k, v) in embedder.env() {
            c.env(k, v);
        }
        c.output().expect("run the CLI").into()
    };
    let r = run(&[
        "load",
        "--data",
        seed.to_str().unwrap(),
        "--mode",
        "overwrite",
        "--store",
        &g.store,
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let r = run(&[
        "query",
        "--store",
        &g.store,
        "--file",
        hybrid.to_str().unwrap(),
        "--name",
        "related_chunks",
        "--params",
        r#"{"q": "fast transformer inference on GPUs"}"#,
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert!(texts(&out)[0].starts_with("GPU kernels"), "{out}");
}
