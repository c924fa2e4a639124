//! Scalar indexes: built by loads on key, unique and edge endpoint columns, committed
//! with the data, used by filtered Lance scans, and never wrong when a mutation has added
//! rows they do not cover.

use crate::common;

use arrow::array::Array;
use common::*;
use lance::index::DatasetIndexExt;
use omnigraph_engine::query::pushdown::column_filter;
use omnigraph_engine::query::value::Scalar;
use omnigraph_engine::TableKey;
use omnigraph_lang::query::typed::CompareOp;
use omnigraph_lang::{BaseType, PropType};
use serde_json::json;

#[tokio::test]
async fn a_load_indexes_keys_unique_and_indexed_properties_and_edge_endpoints() {
    let schema = format!("{SOCIAL_SCHEMA}\nnode Tag {{ slug: String @key  label: String? @index  weights: [F32]? }}\n");
    let g = TestGraph::new(&schema, SOCIAL_DATA).await;
    assert_eq!(
        g.index_names(TableKey::node("Person")).await,
        ["email_idx", "name_idx"]
    );
    assert_eq!(g.index_names(TableKey::node("Company")).await, ["name_idx"]);
    assert_eq!(
        g.index_names(TableKey::edge("Knows")).await,
        ["_dst_idx", "_src_idx"]
    );
    // An empty table has nothing to train on.
    assert!(g.index_names(TableKey::node("Tag")).await.is_empty());
    g.load(
        "{\"type\": \"Tag\", \"data\": {\"slug\": \"rust\", \"label\": \"Rust\", \"weights\": [1.0]}}\n",
        omnigraph_engine::LoadMode::Merge,
    )
    .await;
    // An @index String also gets a full-text index.
    assert_eq!(
        g.index_names(TableKey::node("Tag")).await,
        ["label_fts", "label_idx", "slug_idx"]
    );
}

#[tokio::test]
async fn filtered_scans_use_the_index_and_find_rows_it_does_not_cover() {
    let g = TestGraph::social().await;
    g.mutate(
        "query add($n: String) { insert Person { name: $n, email: \"zed@example.com\" } }",
        json!({ "n": "Zed" }),
    )
    .await;
    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let ds = snap.table(&TableKey::node("Person")).await.expect("table");
    // The mutation kept the index; its new fragment is not covered by it.
    let indices = ds.load_indices().await.expect("indices");
    assert!(indices.iter().any(|i| i.name == "name_idx"));

    let mut scanner = ds.scan();
    scanner.project(&["name"]).expect("project");
    scanner
        .filter("name = 'Zed' OR name = 'Bob'")
        .expect("filter");
    let plan = scanner.explain_plan(true).await.expect("plan");
    assert!(
        plan.contains("ScalarIndex") || plan.contains("index"),
        "{plan}"
    );
    let batches: Vec<_> = {
        use futures::TryStreamExt;
        scanner
            .try_into_stream()
            .await
            .expect("scan")
            .try_collect()
            .await
            .expect("rows")
    };
    let mut names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let col = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .expect("utf8")
                .clone();
            (0..col.len())
                .map(move |i| col.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["Bob", "Zed"]);

    // Mutations that match by key and by unique properties answer correctly through it.
    g.mutate(
        "query q() { update Person set { age: 40 } where name = \"Zed\" }",
        json!({}),
    )
    .await;
    let rows = g
        .rows(
            "query q() { match { $p: Person { email: \"zed@example.com\" } } return { $p.name, $p.age } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{ "p.name": "Zed", "p.age": 40 }]));
    let err = g
        .try_mutate(
            "query q() { insert Person { name: \"Zed2\", email: \"zed@example.com\" } }",
            json!({}),
        )
        .await
        .expect_err("duplicate unique value");
    assert!(err.to_string().contains("unique"), "{err}");
}

/// Single-variable reads on a version nothing has cached yet are answered by an indexed
/// Lance scan of the matching rows; once a traversal has built the cache, the same
/// queries are answered from it. Both answers must be the same.
#[tokio::test]
async fn cold_reads_pushed_into_indexed_scans_equal_cached_reads() {
    let g = TestGraph::social().await;
    let queries = [
        ("query q($n: String) { match { $p: Person { name: $n } } return { $p.name, $p.age, $p.email } }", json!({ "n": "Bob" })),
        ("query q() { match { $p: Person $p.email = \"alice@example.com\" } return { $p.name } }", json!({})),
        ("query q() { match { $p: Person \"Charlie\" <= $p.name $p.age > 18 } return { $p.name, $p.age } order { $p.age desc } }", json!({})),
        ("query q() { match { $p: Person $p.name >= \"B\" not { $p knows $_ } } return { $p.name } order { $p.name } }", json!({})),
        ("query q() { match { $p: Person $p.name != \"Bob\" $p.name < \"D\" } return { count($p) as n } }", json!({})),
        ("query q($n: String) { match { $p: Person { name: $n } } return { $p.name } }", json!({ "n": "Nobody" })),
    ];
    let mut cold = vec![];
    for (text, params) in &queries {
        cold.push(g.rows(text, params.clone()).await);
    }
    // A traversal builds the cached node data of this version.
    g.rows(
        "query q() { match { $a: Person $a knows $b } return { $a.name, $b.name } }",
        json!({}),
    )
    .await;
    for ((text, params), cold) in queries.iter().zip(cold) {
        assert_eq!(g.rows(text, params.clone()).await, cold, "{text}");
    }
    assert_eq!(
        g.rows(queries[0].0, queries[0].1.clone()).await,
        json!([{ "p.name": "Bob", "p.age": 25, "p.email": "bob@example.com" }])
    );
}

async fn index_uuid(g: &TestGraph, table: TableKey, name: &str) -> String {
    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let ds = snap.table(&table).await.expect("table");
    let indices = ds.load_indices().await.expect("indices");
    let index = indices.iter().find(|i| i.name == name).expect("index");
    index.uuid.to_string()
}

#[tokio::test]
async fn a_small_load_keeps_the_index_and_a_large_one_rebuilds_it() {
    let g = TestGraph::social().await;
    let first = index_uuid(&g, TableKey::node("Person"), "name_idx").await;
    // One row next to four: a fifth of the table outside the index, under the threshold.
    g.load(
        "{\"type\": \"Person\", \"data\": {\"name\": \"Eve\"}}\n",
        omnigraph_engine::LoadMode::Merge,
    )
    .await;
    assert_eq!(
        index_uuid(&g, TableKey::node("Person"), "name_idx").await,
        first
    );
    let rows = json!({ "n": "Eve" });
    assert_eq!(
        g.rows(
            "query q($n: String) { match { $p: Person { name: $n } } return { $p.name } }",
            rows
        )
        .await,
        json!([{ "p.name": "Eve" }])
    );
    let many: String = (0..5)
        .map(|i| format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"New{i}\"}}}}\n"))
        .collect();
    g.load(&many, omnigraph_engine::LoadMode::Merge).await;
    assert_ne!(
        index_uuid(&g, TableKey::node("Person"), "name_idx").await,
        first
    );
}

#[test]
fn only_exact_filters_are_pushed_into_scans() {
    let string = PropType::Base(BaseType::String);
    let i32_ty = PropType::Base(BaseType::I32);
    assert_eq!(
        column_filter(
            "name",
            &string,
            CompareOp::Eq,
            &Scalar::Str("O'Hara".into())
        )
        .as_deref(),
        Some("`name` = 'O''Hara'")
    );
    assert_eq!(
        column_filter("age", &i32_ty, CompareOp::Ge, &Scalar::Int(30)).as_deref(),
        Some("`age` >= 30")
    );
    // Out of the column's range, or an operator SQL spells differently: not pushed.
    assert_eq!(
        column_filter("age", &i32_ty, CompareOp::Eq, &Scalar::Int(1 << 40)),
        None
    );
    assert_eq!(
        column_filter(
            "name",
            &string,
            CompareOp::Contains,
            &Scalar::Str("a".into())
        ),
        None
    );
    assert_eq!(
        column_filter(
            "age",
            &PropType::Base(BaseType::F64),
            CompareOp::Eq,
            &Scalar::Int(1)
        ),
        None
    );
}
