//! Search in queries: full text (`search`, `match_text`, `fuzzy`, `bm25`), vectors
//! (`nearest`) and rank fusion (`rrf`), each with exact expected rankings on a small graph;
//! combined with traversals and filters; and correct while the indexes cover only part of
//! a table.

use crate::common;

use common::*;
use omnigraph_engine::{LoadMode, TableKey};
use serde_json::{json, Value};

const SCHEMA: &str = r#"
node Doc {
    slug: String @key
    title: String @index
    body: String @index
    year: I32
    embedding: Vector(3)? @index
}
node Author { name: String @key }
edge Wrote: Author -> Doc
"#;

const DATA: &str = r#"{"type": "Doc", "data": {"slug": "d1", "title": "Graph databases", "body": "a graph database stores nodes and edges", "year": 2019, "embedding": [1.0, 0.0, 0.0]}}
{"type": "Doc", "data": {"slug": "d2", "title": "Vector search", "body": "vector search finds the nearest embeddings", "year": 2021, "embedding": [0.0, 1.0, 0.0]}}
{"type": "Doc", "data": {"slug": "d3", "title": "Graph search", "body": "graph search walks edges between nodes in a graph", "year": 2022, "embedding": [0.70710677, 0.70710677, 0.0]}}
{"type": "Doc", "data": {"slug": "d4", "title": "Cooking", "body": "slow cooking of beans and rice", "year": 2020, "embedding": [0.0, 0.0, 1.0]}}
{"type": "Doc", "data": {"slug": "d5", "title": "Databases", "body": "relational databases store rows in tables", "year": 2023, "embedding": [0.6, 0.0, 0.8]}}
{"type": "Author", "data": {"name": "ann"}}
{"type": "Author", "data": {"name": "bob"}}
{"type": "Author", "data": {"name": "cat"}}
{"edge": "Wrote", "from": "ann", "to": "d1"}
{"edge": "Wrote", "from": "ann", "to": "d2"}
{"edge": "Wrote", "from": "bob", "to": "d3"}
{"edge": "Wrote", "from": "bob", "to": "d4"}
{"edge": "Wrote", "from": "cat", "to": "d5"}
"#;

async fn docs() -> TestGraph {
    TestGraph::new(SCHEMA, DATA).await
}

/// The `slug` column of a result, in order.
async fn slugs(g: &TestGraph, text: &str, params: Value) -> Vec<String> {
    g.read(text, params)
        .await
        .rows
        .iter()
        .map(|r| r["slug"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The rows' `slug` and `column` are `expected` in order, the numbers within `tolerance`.
#[track_caller]
fn assert_values(
    r: &omnigraph_engine::QueryResult,
    column: &str,
    expected: &[(&str, f64)],
    tolerance: f64,
) {
    let got: Vec<(&str, f64)> = r
        .rows
        .iter()
        .map(|r| {
            (
                r["slug"].as_str().unwrap_or("?"),
                r[column].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((slug, value), (want_slug, want)) in got.iter().zip(expected) {
        assert_eq!(slug, want_slug, "{got:?}");
        assert!((value - want).abs() < tolerance, "{got:?}");
    }
}

const MATCHING: &str =
    "query q($q: String) { match { $d: Doc search($d.body, $q) } return { $d.slug as slug } }";

#[tokio::test]
async fn a_load_builds_full_text_indexes_on_indexed_strings() {
    let g = docs().await;
    assert_eq!(
        g.index_names(TableKey::node("Doc")).await,
        ["body_fts", "body_idx", "slug_idx", "title_fts", "title_idx"],
        "five rows are too few to train a vector index; nearest scans them exactly"
    );
}

#[tokio::test]
async fn search_keeps_nodes_with_every_term() {
    let g = docs().await;
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "graph nodes"})).await,
        ["d1", "d3"]
    );
    // Stemmed: "databases" finds "database" and "databases".
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "Databases"})).await,
        ["d1", "d5"]
    );
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "graph database"})).await,
        ["d1"]
    );
    assert!(slugs(&g, MATCHING, json!({"q": "graph beans"}))
        .await
        .is_empty());
    // A query without words matches nothing.
    assert!(slugs(&g, MATCHING, json!({"q": "  ?! "})).await.is_empty());
}

#[tokio::test]
async fn match_text_keeps_nodes_with_the_phrase() {
    let g = docs().await;
    let q = "query q($q: String) { match { $d: Doc match_text($d.body, $q) } return { $d.slug as slug } }";
    assert_eq!(slugs(&g, q, json!({"q": "graph database"})).await, ["d1"]);
    // The same words in another order are no phrase (search still finds them).
    assert!(slugs(&g, q, json!({"q": "database graph"}))
        .await
        .is_empty());
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "database graph"})).await,
        ["d1"]
    );
    assert_eq!(slugs(&g, q, json!({"q": "walks edges"})).await, ["d3"]);
}

#[tokio::test]
async fn fuzzy_tolerates_edits() {
    let g = docs().await;
    let q = |edits: &str| {
        format!("query q($q: String) {{ match {{ $d: Doc fuzzy($d.body, $q{edits}) }} return {{ $d.slug as slug }} }}")
    };
    assert_eq!(
        slugs(&g, &q(", 1"), json!({"q": "grapj"})).await,
        ["d1", "d3"]
    );
    assert!(slugs(&g, &q(", 0"), json!({"q": "grapj"})).await.is_empty());
    // Without a distance: 1 edit for a 5-letter term.
    assert_eq!(
        slugs(&g, &q(""), json!({"q": "grapj nodez"})).await,
        ["d1", "d3"]
    );
}

#[tokio::test]
async fn bm25_ranks_by_relevance_and_scores_zero_without_a_match() {
    let g = docs().await;
    let r = g
        .read(
            "query q($q: String) { match { $d: Doc } return { $d.slug as slug, bm25($d.body, $q) as score } order { bm25($d.body, $q) } limit 3 }",
            json!({"q": "graph"}),
        )
        .await;
    let got: Vec<&str> = r
        .rows
        .iter()
        .map(|r| r["slug"].as_str().unwrap_or("?"))
        .collect();
    // d3 says "graph" twice, d1 once; the rest tie at 0 and follow in key order.
    assert_eq!(got, ["d3", "d1", "d2"]);
    let score = |i: usize| r.rows[i]["score"].as_f64().expect("a number");
    assert!(score(0) > score(1) && score(1) > 0.0, "{:?}", r.rows);
    assert_eq!(score(2), 0.0);
    assert_eq!(r.columns, ["slug", "score"]);
}

#[tokio::test]
async fn search_values_in_return() {
    let g = docs().await;
    let rows = g
        .rows(
            "query q($q: String) { match { $d: Doc } return { $d.slug as slug, search($d.body, $q) as hit, match_text($d.title, \"graph search\") as phrase } order { $d.slug } limit 3 }",
            json!({"q": "graph"}),
        )
        .await;
    assert_eq!(
        rows,
        json!([
            {"slug": "d1", "hit": true, "phrase": false},
            {"slug": "d2", "hit": false, "phrase": false},
            {"slug": "d3", "hit": true, "phrase": true},
        ])
    );
}

const NEAREST: &str = "query q($v: Vector(3)) { match { $d: Doc } return { $d.slug as slug, nearest($d.embedding, $v) as dist } order { nearest($d.embedding, $v) } limit 3 }";

#[tokio::test]
async fn nearest_orders_by_cosine_distance() {
    let g = docs().await;
    let r = g.read(NEAREST, json!({"v": [2.0, 0.0, 0.0]})).await;
    assert_values(
        &r,
        "dist",
        &[("d1", 0.0), ("d3", 1.0 - 0.70710677), ("d5", 0.4)],
        1e-5,
    );
    // Filter first, then rank: among the docs since 2020, d3 then d5.
    let q = "query q($v: Vector(3)) { match { $d: Doc $d.year >= 2020 } return { $d.slug as slug } order { nearest($d.embedding, $v) } limit 2 }";
    assert_eq!(
        slugs(&g, q, json!({"v": [1.0, 0.0, 0.0]})).await,
        ["d3", "d5"]
    );
    // A query vector of the wrong size is refused before anything runs.
    let err = g
        .try_read_at(NEAREST, json!({"v": [1.0, 0.0]}), None)
        .await
        .expect_err("wrong dimension");
    assert!(err.is_user_error(), "{err}");
}

#[tokio::test]
async fn nodes_without_a_vector_come_last() {
    let g = docs().await;
    g.mutate(
        "query add() { insert Doc { slug: \"d0\", title: \"Empty\", body: \"no vector here\", year: 2024 } }",
        json!({}),
    )
    .await;
    let q = "query q($v: Vector(3)) { match { $d: Doc } return { $d.slug as slug, nearest($d.embedding, $v) as dist } order { nearest($d.embedding, $v) } }";
    let r = g.read(q, json!({"v": [1.0, 0.0, 0.0]})).await;
    let last = r.rows.last().expect("rows");
    assert_eq!(
        (last["slug"].as_str(), &last["dist"]),
        (Some("d0"), &Value::Null)
    );
    assert_eq!(r.rows.len(), 6);
}

const HYBRID: &str = "query q($v: Vector(3), $q: String) { match { $d: Doc } return { $d.slug as slug, rrf(nearest($d.embedding, $v), bm25($d.body, $q)) as score } order { rrf(nearest($d.embedding, $v), bm25($d.body, $q)) } limit 5 }";

#[tokio::test]
async fn rrf_fuses_two_rankings() {
    let g = docs().await;
    // nearest ranks d3 1, d1 2, d2 3 (ties by key), d5 4, d4 5; bm25("rows") ranks d5 1.
    let r = g
        .read(
            HYBRID,
            json!({"v": [0.70710677, 0.70710677, 0.0], "q": "rows"}),
        )
        .await;
    assert_values(
        &r,
        "score",
        &[
            ("d5", 1.0 / 64.0 + 1.0 / 61.0),
            ("d3", 1.0 / 61.0),
            ("d1", 1.0 / 62.0),
            ("d2", 1.0 / 63.0),
            ("d4", 1.0 / 65.0),
        ],
        1e-12,
    );
}

#[tokio::test]
async fn rrf_ranks_among_the_candidates_of_the_match() {
    let g = docs().await;
    // Since 2021: d2, d3, d5. nearest ranks d3 1, d2 2, d5 3; bm25("rows") ranks d5 1; k = 10.
    let q = "query q($v: Vector(3), $q: String) { match { $d: Doc $d.year >= 2021 } return { $d.slug as slug, rrf(nearest($d.embedding, $v), bm25($d.body, $q), 10) as score } order { score desc } }";
    let r = g
        .read(q, json!({"v": [0.70710677, 0.70710677, 0.0], "q": "rows"}))
        .await;
    assert_values(
        &r,
        "score",
        &[
            ("d5", 1.0 / 13.0 + 1.0 / 11.0),
            ("d3", 1.0 / 11.0),
            ("d2", 1.0 / 12.0),
        ],
        1e-12,
    );
}

#[tokio::test]
async fn search_composes_with_traversal() {
    let g = docs().await;
    let q = "query q($who: String, $q: String) { match { $a: Author { name: $who } $a wrote $d search($d.body, $q) } return { $d.slug as slug } }";
    assert_eq!(
        slugs(&g, q, json!({"who": "ann", "q": "search"})).await,
        ["d2"]
    );
    assert_eq!(
        slugs(&g, q, json!({"who": "bob", "q": "search"})).await,
        ["d3"]
    );
    let rows = g
        .rows(
            "query q() { match { $a: Author $a wrote $d search($d.body, \"graph\") } return { $a.name, $d.slug } order { $d.slug } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows,
        json!([{"a.name": "ann", "d.slug": "d1"}, {"a.name": "bob", "d.slug": "d3"}])
    );
    // Negated: authors with no doc about cooking.
    let rows = g
        .rows(
            "query q() { match { $a: Author not { $a wrote $d search($d.body, \"cooking\") } } return { $a.name } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"a.name": "ann"}, {"a.name": "cat"}]));
    // nearest among one author's docs.
    let q = "query q($v: Vector(3)) { match { $a: Author { name: \"bob\" } $a wrote $d } return { $d.slug as slug } order { nearest($d.embedding, $v) } limit 1 }";
    assert_eq!(slugs(&g, q, json!({"v": [1.0, 0.0, 0.0]})).await, ["d3"]);
}

#[tokio::test]
async fn rows_the_full_text_index_does_not_cover_are_found() {
    let g = docs().await;
    let loaded = g.version().await;
    // A mutation appends a fragment the load's index does not cover.
    g.mutate(
        "query add($v: Vector(3)) { insert Doc { slug: \"d6\", title: \"Notes\", body: \"graph graph graph notes\", year: 2024, embedding: $v } }",
        json!({"v": [0.0, 1.0, 0.0]}),
    )
    .await;
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "graph"})).await,
        ["d1", "d3", "d6"]
    );
    // Scored too (Lance scores rows outside the index with the statistics of those rows
    // until a load rebuilds it, so only the match, not the rank across both, is asserted).
    let q = "query q($q: String) { match { $d: Doc } return { $d.slug as slug, bm25($d.body, $q) as s } order { bm25($d.body, $q) } limit 1 }";
    let r = g.read(q, json!({"q": "notes"})).await;
    assert_eq!(r.rows[0]["slug"], "d6");
    assert!(r.rows[0]["s"].as_f64().unwrap_or(0.0) > 0.0, "{:?}", r.rows);
    // An updated body is searched as it is now, a deleted doc not at all.
    g.mutate(
        "query up() { update Doc set { body: \"now about soup\" } where slug = \"d1\" }",
        json!({}),
    )
    .await;
    g.mutate("query del() { delete Doc where slug = \"d3\" }", json!({}))
        .await;
    assert_eq!(slugs(&g, MATCHING, json!({"q": "graph"})).await, ["d6"]);
    assert_eq!(slugs(&g, MATCHING, json!({"q": "soup"})).await, ["d1"]);
    // Time travel: the first version still answers as it did.
    let r = g
        .try_read_at(MATCHING, json!({"q": "graph"}), Some(loaded))
        .await
        .expect("read at the loaded version");
    let old: Vec<&str> = r.rows.iter().filter_map(|r| r["slug"].as_str()).collect();
    assert_eq!(old, ["d1", "d3"]);
}

#[tokio::test]
async fn a_table_written_only_by_mutations_is_searched_without_an_index() {
    let g = TestGraph::new(SCHEMA, "").await;
    g.mutate(
        "query add($a: Vector(3), $b: Vector(3)) { insert Doc { slug: \"a\", title: \"T\", body: \"graph theory\", year: 2020, embedding: $a } insert Doc { slug: \"b\", title: \"T\", body: \"set theory\", year: 2021, embedding: $b } }",
        json!({"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0]}),
    )
    .await;
    assert!(g.index_names(TableKey::node("Doc")).await.is_empty());
    assert_eq!(slugs(&g, MATCHING, json!({"q": "graph"})).await, ["a"]);
    assert_eq!(
        slugs(&g, MATCHING, json!({"q": "theory"})).await,
        ["a", "b"]
    );
    assert_eq!(
        slugs(&g, NEAREST, json!({"v": [0.0, 1.0, 0.0]})).await,
        ["b", "a"]
    );
}

/// Rows of a table big enough for a vector index: `n` docs on a spiral, each its own
/// direction.
fn many_docs(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let t = i as f64 * 0.37;
        let z = (i as f64 / n as f64) - 0.5;
        out.push_str(&format!(
            "{{\"type\": \"Doc\", \"data\": {{\"slug\": \"m{i:05}\", \"title\": \"doc {i}\", \"body\": \"word{} common\", \"year\": {}, \"embedding\": [{:.6}, {:.6}, {:.6}]}}}}\n",
            i % 97,
            2000 + (i % 25),
            t.cos(),
            t.sin(),
            z
        ));
    }
    out
}

#[tokio::test]
async fn the_vector_index_answers_top_k_and_rows_it_does_not_cover_are_found() {
    let g = TestGraph::new(SCHEMA, &many_docs(5000)).await;
    assert!(
        g.index_names(TableKey::node("Doc"))
            .await
            .contains(&"embedding_vec".to_string()),
        "a load of 5,000 rows builds the vector index"
    );
    // The top hit of a stored row's own vector is that row.
    let t = 1234.0f64 * 0.37;
    let v = json!([t.cos(), t.sin(), 1234.0 / 5000.0 - 0.5]);
    let got = slugs(&g, NEAREST, json!({"v": v})).await;
    assert_eq!(got.first().map(String::as_str), Some("m01234"), "{got:?}");
    assert_eq!(got.len(), 3);
    // A row added by a mutation lies outside the index and is found all the same.
    g.mutate(
        "query add($v: Vector(3)) { insert Doc { slug: \"new\", title: \"T\", body: \"fresh\", year: 2030, embedding: $v } }",
        json!({"v": [0.0, 0.0, 1.0]}),
    )
    .await;
    let got = slugs(&g, NEAREST, json!({"v": [0.0, 0.0, 5.0]})).await;
    assert_eq!(got.first().map(String::as_str), Some("new"), "{got:?}");
    // A filtered nearest ranks exactly among the rows that pass.
    let q = "query q($v: Vector(3)) { match { $d: Doc $d.year = 2030 } return { $d.slug as slug } order { nearest($d.embedding, $v) } limit 3 }";
    assert_eq!(slugs(&g, q, json!({"v": [1.0, 0.0, 0.0]})).await, ["new"]);
    // Another load that grows the table past the uncovered share rebuilds it.
    g.load(&many_docs(5000).replace("\"m", "\"n"), LoadMode::Merge)
        .await;
    let got = slugs(&g, NEAREST, json!({"v": [0.0, 0.0, 5.0]})).await;
    assert_eq!(got.first().map(String::as_str), Some("new"), "{got:?}");
}
