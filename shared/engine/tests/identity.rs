//! Node identity (shared/engine/src/identity.rs): the system `id` of node types without a
//! key, composite keys, `data.id` in JSONL, `$x.id` in queries, and edges between them.

use crate::common;

use common::*;
use omnigraph_engine::{EngineError, LoadMode};
use serde_json::{json, Value};

const SCHEMA: &str = r#"
node Company { slug: String @key  name: String }
node Badge { n: I64 @key }
node Chunk { text: String  chunk_index: I32 }
node Listing { market: String  year: I32  price: F64?  @key(market, year) }
edge PartOf: Chunk -> Company { @unique(src) }
edge ListedBy: Listing -> Company
"#;

async fn load_err(g: &TestGraph, data: &str, mode: LoadMode) -> Vec<(u64, String)> {
    g.load_errors(data.as_bytes(), mode).await
}

#[tokio::test]
async fn keyless_nodes_get_generated_ids_or_keep_given_ones() {
    let g = TestGraph::new(
        SCHEMA,
        r#"{"type": "Company", "data": {"slug": "acme", "name": "Acme"}}
{"type": "Chunk", "data": {"id": "c1", "text": "one", "chunk_index": 0}}
{"type": "Chunk", "data": {"text": "two", "chunk_index": 1}}
{"type": "Chunk", "data": {"text": "three", "chunk_index": 2}}
{"edge": "PartOf", "from": "c1", "to": "acme"}
"#,
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $c: Chunk } return { $c.id, $c.text } order { $c.chunk_index } }",
            json!({}),
        )
        .await;
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["c.id"], "c1");
    let generated: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r["c.id"].as_str().expect("an id"))
        .collect();
    assert!(generated.iter().all(|id| id.len() == 36), "{generated:?}");
    assert_ne!(generated[0], generated[1]);
    // Traversals reach keyless nodes by their ids.
    let rows = g
        .rows(
            "query q() { match { $c: Chunk $c partOf $k } return { $c.id, $k.slug } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"c.id": "c1", "k.slug": "acme"}]));
    // Merge mode upserts a keyless node by its given id.
    g.load(
        r#"{"type": "Chunk", "data": {"id": "c1", "text": "ONE", "chunk_index": 0}}"#,
        LoadMode::Merge,
    )
    .await;
    let rows = g
        .rows(
            r#"query q() { match { $c: Chunk { id: "c1" } } return { $c.text } }"#,
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"c.text": "ONE"}]));
}

#[tokio::test]
async fn a_composite_key_derives_the_id_and_is_unique() {
    let g = TestGraph::new(
        SCHEMA,
        r#"{"type": "Company", "data": {"slug": "acme", "name": "Acme"}}
{"type": "Listing", "data": {"market": "nyse", "year": 2024, "price": 1.5}}
{"type": "Listing", "data": {"id": "[\"nyse\",\"2025\"]", "market": "nyse", "year": 2025}}
{"edge": "ListedBy", "from": "[\"nyse\",\"2024\"]", "to": "acme"}
"#,
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $l: Listing $l listedBy $c } return { $l.id, $c.slug } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows,
        json!([{"l.id": "[\"nyse\",\"2024\"]", "c.slug": "acme"}])
    );

    // A given id that disagrees with the key, a missing part, a duplicate tuple.
    let errors = load_err(
        &g,
        r#"{"type": "Listing", "data": {"id": "x", "market": "lse", "year": 2024}}
{"type": "Listing", "data": {"market": "lse"}}
"#,
        LoadMode::Append,
    )
    .await;
    assert!(
        errors[0].0 == 1 && errors[0].1.contains("does not match"),
        "{errors:?}"
    );
    assert!(
        errors[1].0 == 2 && errors[1].1.contains("`year`"),
        "{errors:?}"
    );
    let errors = load_err(
        &g,
        r#"{"type": "Listing", "data": {"market": "nyse", "year": 2024}}"#,
        LoadMode::Append,
    )
    .await;
    assert!(errors[0].1.contains("already exists"), "{errors:?}");

    // Inserts derive the id too; a key part cannot be updated.
    g.mutate(
        "query q() { insert Listing { market: \"lse\", year: 2030 } }",
        json!({}),
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $l: Listing { market: \"lse\" } } return { $l.id } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"l.id": "[\"lse\",\"2030\"]"}]));
    let err = g
        .try_mutate(
            "query q() { update Listing set { year: 2031 } where market = \"lse\" }",
            json!({}),
        )
        .await
        .expect_err("a key part is fixed");
    assert!(err.to_string().contains("year"), "{err}");
}

#[tokio::test]
async fn data_id_of_a_keyed_node_is_its_key() {
    let g = TestGraph::new(
        SCHEMA,
        r#"{"type": "Company", "data": {"id": "acme", "slug": "acme", "name": "Acme"}}
{"type": "Company", "data": {"id": "globex", "name": "Globex"}}
{"type": "Badge", "data": {"id": "7"}}
"#,
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $c: Company } return { $c.id, $c.slug } order { $c.slug } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows,
        json!([{"c.id": "acme", "c.slug": "acme"}, {"c.id": "globex", "c.slug": "globex"}])
    );
    // `id` names the key in bindings and mutations too.
    let rows = g
        .rows(
            "query q($id: String) { match { $c: Company { id: $id } } return { $c.name } }",
            json!({"id": "globex"}),
        )
        .await;
    assert_eq!(rows, json!([{"c.name": "Globex"}]));
    g.mutate(
        "query q() { update Company set { name: \"G\" } where id = \"globex\" }",
        json!({}),
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $b: Badge } return { $b.n } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"b.n": 7}]));

    let errors = load_err(
        &g,
        r#"{"type": "Company", "data": {"id": "other", "slug": "initech", "name": "I"}}
{"type": "Badge", "data": {"id": "seven"}}
"#,
        LoadMode::Append,
    )
    .await;
    assert!(errors[0].1.contains("does not match"), "{errors:?}");
    assert!(errors[1].1.contains("not an integer"), "{errors:?}");
}

#[tokio::test]
async fn export_and_reload_keep_every_id() {
    let g = TestGraph::new(
        SCHEMA,
        r#"{"type": "Company", "data": {"slug": "acme", "name": "Acme"}}
{"type": "Chunk", "data": {"text": "generated", "chunk_index": 0}}
{"type": "Listing", "data": {"market": "nyse", "year": 2024}}
{"edge": "ListedBy", "from": "[\"nyse\",\"2024\"]", "to": "acme"}
"#,
    )
    .await;
    let chunk_id = g
        .rows(
            "query q() { match { $c: Chunk } return { $c.id } }",
            json!({}),
        )
        .await[0]["c.id"]
        .clone();
    assert!(matches!(chunk_id, Value::String(_)));
    g.mutate(
        &format!("query q() {{ insert PartOf {{ from: {chunk_id}, to: \"acme\" }} }}"),
        json!({}),
    )
    .await;
    let exported = export_sorted(&g.graph).await;
    let copy = TestGraph::new(SCHEMA, &(exported.join("\n") + "\n")).await;
    assert_eq!(export_sorted(&copy.graph).await, exported);
    let rows = copy
        .rows(
            "query q() { match { $c: Chunk $c partOf $k } return { $c.id, $k.slug } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"c.id": chunk_id, "k.slug": "acme"}]));
}

#[tokio::test]
async fn edge_uniqueness_on_src_holds() {
    let g = TestGraph::new(
        SCHEMA,
        r#"{"type": "Company", "data": {"slug": "a", "name": "A"}}
{"type": "Company", "data": {"slug": "b", "name": "B"}}
{"type": "Chunk", "data": {"id": "c1", "text": "t", "chunk_index": 0}}
{"type": "Chunk", "data": {"id": "c2", "text": "u", "chunk_index": 1}}
{"edge": "PartOf", "from": "c1", "to": "a"}
"#,
    )
    .await;
    // A mutation, a second edge of the file, an edge against a stored one.
    let err = g
        .try_mutate(
            "query q() { insert PartOf { from: \"c1\", to: \"b\" } }",
            json!({}),
        )
        .await
        .expect_err("@unique(src): one PartOf per chunk");
    assert!(
        matches!(&err, EngineError::Constraint(m) if m.contains("@unique(from)")),
        "{err:?}"
    );
    let errors = load_err(
        &g,
        r#"{"edge": "PartOf", "from": "c2", "to": "a"}
{"edge": "PartOf", "from": "c2", "to": "b"}
"#,
        LoadMode::Append,
    )
    .await;
    assert!(
        errors[0].0 == 2 && errors[0].1.contains("@unique(from)"),
        "{errors:?}"
    );
    let errors = load_err(
        &g,
        r#"{"edge": "PartOf", "from": "c1", "to": "b"}"#,
        LoadMode::Append,
    )
    .await;
    assert!(
        errors[0].0 == 1 && errors[0].1.contains("c1 -> a"),
        "{errors:?}"
    );
    // Merge replaces the stored edge with the same endpoints: no clash with itself.
    g.load(
        r#"{"edge": "PartOf", "from": "c1", "to": "a"}"#,
        LoadMode::Merge,
    )
    .await;
    g.load(
        r#"{"edge": "PartOf", "from": "c2", "to": "b"}"#,
        LoadMode::Append,
    )
    .await;
}

#[tokio::test]
async fn interfaces_expand_into_keyless_and_keyed_nodes() {
    let schema = r#"
interface Named { name: String @index  note: String? }
node Tag implements Named { weight: I32? }
node Topic implements Named { slug: String @key }
edge About: Tag -> Topic
"#;
    let g = TestGraph::new(
        schema,
        r#"{"type": "Topic", "data": {"slug": "db", "name": "Databases"}}
{"type": "Tag", "data": {"id": "t1", "name": "lance", "weight": 3}}
{"edge": "About", "from": "t1", "to": "db"}
"#,
    )
    .await;
    let rows = g
        .rows(
            "query q($n: String) { match { $t: Tag { name: $n } $t about $p } return { $t.id, $t.weight, $p.name } }",
            json!({"n": "lance"}),
        )
        .await;
    assert_eq!(
        rows,
        json!([{"t.id": "t1", "t.weight": 3, "p.name": "Databases"}])
    );
}
