//! Read queries, one construct per test, on the small social graph (tests/fixtures/social.*, docs/languages.md):
//! exact rows in order.

use crate::common;

use common::*;
use omnigraph_engine::{EngineError, LoadMode};
use serde_json::json;

#[tokio::test]
async fn language_md_example_counts_friends_per_person() {
    let g = TestGraph::social().await;
    let r = g
        .read(
            "query q() { match { $p: Person $p knows $f } return { $p.name, count($f) as friends } order { friends desc } }",
            json!({}),
        )
        .await;
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"columns": ["p.name", "friends"], "rows": [{"p.name": "Alice", "friends": 2}, {"p.name": "Bob", "friends": 1}]})
    );
}

#[tokio::test]
async fn binding_with_parameter_equality_returns_the_node() {
    let g = TestGraph::social().await;
    let q = "query q($name: String) { match { $p: Person { name: $name } } return { $p.name, $p.age } }";
    assert_eq!(
        g.rows(q, json!({"name": "Bob"})).await,
        json!([{"p.name": "Bob", "p.age": 25}])
    );
    assert_eq!(g.rows(q, json!({"name": "Nobody"})).await, json!([]));
}

#[tokio::test]
async fn binding_with_non_key_equality_scans_the_type() {
    let g = TestGraph::social().await;
    let q = r#"query q() { match { $p: Person { role: "member" } } return { $p.name } }"#;
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.name": "Bob"}, {"p.name": "Diana"}])
    );
}

#[tokio::test]
async fn binding_without_properties_enumerates_in_key_order() {
    let g = TestGraph::social().await;
    assert_eq!(g.person_names().await, ["Alice", "Bob", "Charlie", "Diana"]);
}

#[tokio::test]
async fn bare_variable_projects_the_node_key() {
    let g = TestGraph::social().await;
    let r = g
        .read(
            r#"query q() { match { $c: Company { name: "Acme" } } return { $c } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r.columns, ["c"]);
    assert_eq!(
        serde_json::Value::Array(r.rows.into_iter().map(Into::into).collect()),
        json!([{"c": "Acme"}])
    );
}

#[tokio::test]
async fn filter_comparison_operators() {
    let g = TestGraph::social().await;
    let names = |rows: serde_json::Value| -> Vec<String> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["p.name"].as_str().unwrap().to_string())
            .collect()
    };
    let cases = [
        ("$p.age = 30", vec!["Alice"]),
        ("$p.age != 30", vec!["Bob", "Charlie", "Diana"]),
        ("$p.age < 25", vec!["Diana"]),
        ("$p.age <= 25", vec!["Bob", "Diana"]),
        ("$p.age > 30", vec!["Charlie"]),
        ("$p.age >= 30", vec!["Alice", "Charlie"]),
        ("18 <= $p.age", vec!["Alice", "Bob", "Charlie"]),
        (r#"$p.name contains "li""#, vec!["Alice", "Charlie"]),
        (r#"$p.name starts_with "Ch""#, vec!["Charlie"]),
        (r#"$p.tags contains "rust""#, vec!["Alice"]),
        (r#"$p.role = "member""#, vec!["Bob", "Diana"]),
        (r#"$p.joined > "2019-12-31""#, vec!["Alice"]),
        (r#"$p.email != "bob@example.com""#, vec!["Alice"]),
    ];
    for (filter, expected) in cases {
        let q = format!("query q() {{ match {{ $p: Person {filter} }} return {{ $p.name }} }}");
        assert_eq!(
            names(g.rows(&q, json!({})).await),
            expected,
            "filter {filter}"
        );
    }
}

#[tokio::test]
async fn filter_between_two_variables() {
    let g = TestGraph::social().await;
    let q = "query q() { match { $p: Person $p knows $f $f.age < $p.age } return { $p.name, $f.name } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.name": "Alice", "f.name": "Bob"}, {"p.name": "Bob", "f.name": "Diana"}])
    );
}

#[tokio::test]
async fn traversal_forward_follows_edges_from_source() {
    let g = TestGraph::social().await;
    let q = "query friends_of($name: String) { match { $p: Person { name: $name } $p knows $f } return { $f.name } }";
    assert_eq!(
        g.rows(q, json!({"name": "Alice"})).await,
        json!([{"f.name": "Bob"}, {"f.name": "Charlie"}])
    );
}

#[tokio::test]
async fn traversal_reverse_when_the_target_is_bound() {
    let g = TestGraph::social().await;
    let q = "query employees_of($c: String) { match { $co: Company { name: $c } $p worksAt $co } return { $p.name } }";
    assert_eq!(
        g.rows(q, json!({"c": "Acme"})).await,
        json!([{"p.name": "Alice"}, {"p.name": "Bob"}])
    );
}

#[tokio::test]
async fn chained_traversals_reach_friends_of_friends() {
    let g = TestGraph::social().await;
    let q = "query fof($name: String) { match { $p: Person { name: $name } $p knows $m $m knows $x } return { $x.name } }";
    assert_eq!(
        g.rows(q, json!({"name": "Alice"})).await,
        json!([{"x.name": "Diana"}])
    );
}

#[tokio::test]
async fn variable_length_traversal_returns_each_destination_once() {
    let g = TestGraph::social().await;
    // A second path to Diana and a cycle back to Alice.
    g.load(
        "{\"edge\": \"Knows\", \"from\": \"Charlie\", \"to\": \"Diana\"}\n{\"edge\": \"Knows\", \"from\": \"Diana\", \"to\": \"Alice\"}\n",
        LoadMode::Append,
    )
    .await;
    // The cycle's return to Alice is pruned: a visited node (the start included) is never
    // reported or expanded again.
    let q = "query reach($name: String) { match { $p: Person { name: $name } $p knows{1,3} $x } return { $x.name } }";
    assert_eq!(
        g.rows(q, json!({"name": "Alice"})).await,
        json!([{"x.name": "Bob"}, {"x.name": "Charlie"}, {"x.name": "Diana"}])
    );
    // From Diana: Alice at hop 1, then Bob and Charlie; Diana herself is pruned at hop 3.
    assert_eq!(
        g.rows(q, json!({"name": "Diana"})).await,
        json!([{"x.name": "Alice"}, {"x.name": "Bob"}, {"x.name": "Charlie"}])
    );
    let exact_two = "query q() { match { $p: Person { name: \"Alice\" } $p knows{2,2} $x } return { $x.name } }";
    assert_eq!(
        g.rows(exact_two, json!({})).await,
        json!([{"x.name": "Diana"}])
    );
}

#[tokio::test]
async fn a_variable_length_traversal_whose_destination_is_bound_first_is_searched_forwards() {
    // Found by the randomised equivalence test: from p1, hop 1 reaches p0 (out of bounds)
    // and p0's self-loop reports p0 at hop 2; a search backwards from p0 would miss it.
    let g = TestGraph::new(
        SOCIAL_SCHEMA,
        concat!(
            "{\"type\": \"Person\", \"data\": {\"name\": \"p0\"}}\n",
            "{\"type\": \"Person\", \"data\": {\"name\": \"p1\"}}\n",
            "{\"edge\": \"Knows\", \"from\": \"p1\", \"to\": \"p0\"}\n",
            "{\"edge\": \"Knows\", \"from\": \"p0\", \"to\": \"p0\"}\n",
        ),
    )
    .await;
    let q = "query q() { match { $v0: Person $v1: Person $v1 knows{2,2} $v2 $v2 knows{1,2} $v0 } return { $v0.name, $v1.name, $v2.name } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"v0.name": "p0", "v1.name": "p1", "v2.name": "p0"}])
    );
}

#[tokio::test]
async fn variable_length_traversal_between_bound_nodes_checks_reachability() {
    let g = TestGraph::social().await;
    let q = r#"query q() { match { $a: Person { name: "Alice" } $d: Person { name: "Diana" } $a knows{1,2} $d } return { $a.name, $d.name } }"#;
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"a.name": "Alice", "d.name": "Diana"}])
    );
    let too_short = r#"query q() { match { $a: Person { name: "Alice" } $d: Person { name: "Diana" } $a knows{1,1} $d } return { $a.name } }"#;
    assert_eq!(g.rows(too_short, json!({})).await, json!([]));
}

#[tokio::test]
async fn negation_with_anonymous_variable() {
    let g = TestGraph::social().await;
    let q = "query unemployed() { match { $p: Person not { $p worksAt $_ } } return { $p.name } }";
    assert_eq!(g.rows(q, json!({})).await, json!([{"p.name": "Diana"}]));
}

#[tokio::test]
async fn negation_of_a_pattern_with_a_filter() {
    let g = TestGraph::social().await;
    let q = "query q() { match { $p: Person not { $p knows $f $f.age < 20 } } return { $p.name } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.name": "Alice"}, {"p.name": "Charlie"}, {"p.name": "Diana"}])
    );
}

#[tokio::test]
async fn projections_with_aliases_name_the_columns() {
    let g = TestGraph::social().await;
    let r = g
        .read(
            r#"query q() { match { $p: Person { name: "Alice" } $p knows $f } return { $f.name, $f.age as years } order { $f.age desc } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r.columns, ["f.name", "years"]);
    assert_eq!(
        serde_json::to_value(&r.rows).unwrap(),
        json!([{"f.name": "Charlie", "years": 35}, {"f.name": "Bob", "years": 25}])
    );
}

#[tokio::test]
async fn aggregates_group_by_the_other_projections() {
    let g = TestGraph::social().await;
    let q = "query age_stats() { match { $p: Person $p worksAt $c }
        return { $c.name, count($p) as headcount, avg($p.age) as avg_age, min($p.age) as youngest, max($p.age) as oldest, sum($p.age) as total }
        order { headcount desc } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([
            {"c.name": "Acme", "headcount": 2, "avg_age": 27.5, "youngest": 25, "oldest": 30, "total": 55.0},
            {"c.name": "Globex", "headcount": 1, "avg_age": 35.0, "youngest": 35, "oldest": 35, "total": 35.0}
        ])
    );
}

#[tokio::test]
async fn aggregate_without_rows_or_groups_gives_one_row_with_count_zero() {
    let g = TestGraph::social().await;
    let q = r#"query q() { match { $p: Person { name: "Nobody" } } return { count($p) as n, sum($p.age) as total } }"#;
    assert_eq!(g.rows(q, json!({})).await, json!([{"n": 0, "total": null}]));
    let grouped = r#"query q() { match { $p: Person { name: "Nobody" } } return { $p.name, count($p) as n } }"#;
    assert_eq!(g.rows(grouped, json!({})).await, json!([]));
}

#[tokio::test]
async fn count_of_a_property_counts_non_null_values() {
    let g = TestGraph::social().await;
    let q = "query q() { match { $p: Person } return { count($p) as people, count($p.email) as with_email } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"people": 4, "with_email": 2}])
    );
}

#[tokio::test]
async fn join_semantics_repeat_rows_without_distinct() {
    let g = TestGraph::social().await;
    let q = "query q() { match { $p: Person $p knows $f } return { $p.name } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.name": "Alice"}, {"p.name": "Alice"}, {"p.name": "Bob"}])
    );
    // A parallel edge is a second match.
    g.load(
        "{\"edge\": \"Knows\", \"from\": \"Bob\", \"to\": \"Diana\"}\n",
        LoadMode::Append,
    )
    .await;
    let q = r#"query q() { match { $p: Person { name: "Bob" } $d: Person { name: "Diana" } $p knows $d } return { $d.name } }"#;
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"d.name": "Diana"}, {"d.name": "Diana"}])
    );
}

#[tokio::test]
async fn order_by_several_keys_ascending_and_descending() {
    let g = TestGraph::social().await;
    let q = "query q() { match { $p: Person } return { $p.name, $p.role } order { $p.role desc, $p.name desc } }";
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([
            {"p.name": "Diana", "p.role": "member"},
            {"p.name": "Bob", "p.role": "member"},
            {"p.name": "Alice", "p.role": "admin"},
            {"p.name": "Charlie", "p.role": null}
        ])
    );
}

#[tokio::test]
async fn nulls_sort_first_ascending_and_last_descending() {
    let g = TestGraph::social().await;
    let asc = "query q() { match { $p: Person } return { $p.name, $p.email } order { $p.email } }";
    assert_eq!(
        g.rows(asc, json!({})).await,
        json!([
            {"p.name": "Charlie", "p.email": null},
            {"p.name": "Diana", "p.email": null},
            {"p.name": "Alice", "p.email": "alice@example.com"},
            {"p.name": "Bob", "p.email": "bob@example.com"}
        ])
    );
    let desc = "query q() { match { $p: Person } return { $p.name } order { $p.email desc } }";
    assert_eq!(
        g.rows(desc, json!({})).await,
        json!([{"p.name": "Bob"}, {"p.name": "Alice"}, {"p.name": "Charlie"}, {"p.name": "Diana"}])
    );
}

#[tokio::test]
async fn order_ties_are_broken_by_the_bound_nodes_keys() {
    let g = TestGraph::social().await;
    // Every row has the same company for Acme; ties fall back to $p's key, then $c's.
    let q = "query q() { match { $p: Person $p worksAt $c } return { $c.name as company } order { company } }";
    let r = g.read(q, json!({})).await;
    assert_eq!(
        serde_json::to_value(&r.rows).unwrap(),
        json!([{"company": "Acme"}, {"company": "Acme"}, {"company": "Globex"}])
    );
    let by_hidden = "query q() { match { $p: Person $p worksAt $c } return { $p.name } order { $c.name desc } }";
    assert_eq!(
        g.rows(by_hidden, json!({})).await,
        json!([{"p.name": "Charlie"}, {"p.name": "Alice"}, {"p.name": "Bob"}])
    );
}

#[tokio::test]
async fn limit_with_and_without_order() {
    let g = TestGraph::social().await;
    let ordered =
        "query q() { match { $p: Person } return { $p.name } order { $p.age desc } limit 2 }";
    assert_eq!(
        g.rows(ordered, json!({})).await,
        json!([{"p.name": "Charlie"}, {"p.name": "Alice"}])
    );
    let plain = "query q() { match { $p: Person } return { $p.name } limit 3 }";
    assert_eq!(
        g.rows(plain, json!({})).await,
        json!([{"p.name": "Alice"}, {"p.name": "Bob"}, {"p.name": "Charlie"}])
    );
    let zero = "query q() { match { $p: Person } return { $p.name } limit 0 }";
    assert_eq!(g.rows(zero, json!({})).await, json!([]));
}

#[tokio::test]
async fn values_use_the_public_result_formats() {
    let g = TestGraph::social().await;
    let q = r#"query q() { match { $p: Person { name: "Alice" } } return { $p.joined, $p.tags, $p.role, $p.age } }"#;
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.joined": "2020-01-15", "p.tags": ["ops", "rust"], "p.role": "admin", "p.age": 30}])
    );
}

#[tokio::test]
async fn datetime_values_are_iso_8601_with_milliseconds() {
    let schema = "node Event { id: I64 @key at: DateTime? }";
    let g = TestGraph::new(
        schema,
        "{\"type\": \"Event\", \"data\": {\"id\": 7, \"at\": \"2024-05-01T12:00:00Z\"}}\n",
    )
    .await;
    let q = r#"query q() { match { $e: Event { id: 7 } $e.at >= "2024-05-01T00:00:00Z" } return { $e, $e.at } }"#;
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"e": 7, "e.at": "2024-05-01T12:00:00.000Z"}])
    );
}

#[tokio::test]
async fn parameters_are_checked_against_their_declared_types() {
    let g = TestGraph::social().await;
    let q = "query q($name: String, $min: I32?) { match { $p: Person { name: $name } } return { $p.name } }";
    let err = |r: Result<_, EngineError>| match r {
        Err(EngineError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let missing = err(g.try_read_at(q, json!({}), None).await);
    assert!(
        missing.contains("`$name`") && missing.contains("missing"),
        "{missing}"
    );
    let wrong = err(g.try_read_at(q, json!({"name": 3}), None).await);
    assert!(
        wrong.contains("`$name`") && wrong.contains("expected String"),
        "{wrong}"
    );
    let null = err(g.try_read_at(q, json!({"name": null}), None).await);
    assert!(null.contains("may not be null"), "{null}");
    let unknown = err(g
        .try_read_at(q, json!({"name": "Bob", "nmae": 1}), None)
        .await);
    assert!(unknown.contains("unknown parameter `nmae`"), "{unknown}");
    // An optional parameter may be omitted.
    assert_eq!(
        g.rows(q, json!({"name": "Bob"})).await,
        json!([{"p.name": "Bob"}])
    );
}

#[tokio::test]
async fn null_never_compares_equal() {
    let g = TestGraph::social().await;
    let q = "query q($e: String?) { match { $p: Person $p.email = $e } return { $p.name } }";
    assert_eq!(g.rows(q, json!({})).await, json!([]));
    let ne = "query q($e: String?) { match { $p: Person $p.email != $e } return { $p.name } }";
    assert_eq!(g.rows(ne, json!({"e": null})).await, json!([]));
}

#[tokio::test]
async fn snapshot_reads_see_an_older_version() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    g.mutate(
        r#"query q() { insert Person { name: "Eve", age: 40 } }"#,
        json!({}),
    )
    .await;
    g.mutate(
        r#"query q() { delete Person where name = "Alice" }"#,
        json!({}),
    )
    .await;
    assert_eq!(g.person_names().await, ["Bob", "Charlie", "Diana", "Eve"]);
    let q = "query q() { match { $p: Person $p knows $f } return { $p.name, $f.name } }";
    let old = g.try_read_at(q, json!({}), Some(before)).await.unwrap();
    assert_eq!(old.rows.len(), 3);
    let now = g.read(q, json!({})).await;
    assert_eq!(
        serde_json::to_value(&now.rows).unwrap(),
        json!([{"p.name": "Bob", "f.name": "Diana"}])
    );
}

#[tokio::test]
async fn reading_a_mutation_at_a_snapshot_is_refused() {
    let g = TestGraph::social().await;
    let r = g
        .try_read_at(
            r#"query q() { insert Person { name: "Eve" } }"#,
            json!({}),
            Some(1),
        )
        .await;
    assert!(matches!(r, Err(EngineError::Invalid(m)) if m.contains("is a mutation")));
    assert!(!g.person_names().await.contains(&"Eve".to_string()));
}

#[tokio::test]
async fn ill_typed_queries_are_refused_before_running() {
    let g = TestGraph::social().await;
    let r = g
        .try_read_at(
            "query q() { match { $p: Persn } return { $p.name } }",
            json!({}),
            None,
        )
        .await;
    assert!(matches!(r, Err(EngineError::Lang(e)) if e.code.as_deref() == Some("T1")));
}

#[tokio::test]
async fn integer_keys_look_up_and_traverse() {
    let schema = "node Item { id: I64 @key label: String? } edge Next: Item -> Item";
    let data = "{\"type\": \"Item\", \"data\": {\"id\": 10, \"label\": \"a\"}}\n{\"type\": \"Item\", \"data\": {\"id\": 2, \"label\": \"b\"}}\n{\"type\": \"Item\", \"data\": {\"id\": 33}}\n{\"edge\": \"Next\", \"from\": 10, \"to\": 2}\n{\"edge\": \"Next\", \"from\": 10, \"to\": 33}\n";
    let g = TestGraph::new(schema, data).await;
    let q =
        "query q($id: I64) { match { $a: Item { id: $id } $a next $b } return { $b, $b.label } }";
    assert_eq!(
        g.rows(q, json!({"id": 10})).await,
        json!([{"b": 2, "b.label": "b"}, {"b": 33, "b.label": null}])
    );
}

/// Servers run queries on multi-threaded runtimes: the futures must be Send (checked at
/// compile time; never called).
#[allow(dead_code)]
fn engine_futures_are_send(
    graph: &std::sync::Arc<omnigraph_engine::Graph>,
    params: &serde_json::Map<String, serde_json::Value>,
) {
    fn assert_send<T: Send>(_: T) {}
    let budget = omnigraph_engine::QueryBudget::unlimited();
    let text = omnigraph_engine::QueryText::new("", None);
    let at = omnigraph_engine::ReadAt::Branch {
        branch: "main",
        version: None,
    };
    assert_send(omnigraph_engine::read(graph, at, text, params, &budget));
    assert_send(omnigraph_engine::change(
        graph, "main", text, params, "actor",
    ));
}

/// Undirected traversals, edge bindings, string predicates and `now()`
/// (docs/languages.md, section 2), on a small graph with a pair connected both ways, a
/// self-loop and parallel edges.
mod traversal_forms_and_now {
    use super::*;

    const SCHEMA: &str = r#"
node P { name: String @key  note: String?  tags: [String]?  seen: DateTime? }
node C { name: String @key }
edge Knows: P -> P { since: I32?  label: String? }
edge At: P -> C { role: String? }
"#;

    // a<->b (both ways), a->a (self-loop), b->c twice (parallel), c->d; e has no edges.
    const DATA: &str = r#"{"type": "P", "data": {"name": "a", "note": "100%", "tags": ["rust"], "seen": "2020-01-01T00:00:00Z"}}
{"type": "P", "data": {"name": "b", "note": "a_b", "seen": "2999-01-01T00:00:00Z"}}
{"type": "P", "data": {"name": "c", "note": "ab"}}
{"type": "P", "data": {"name": "d", "note": "Abc"}}
{"type": "P", "data": {"name": "e"}}
{"type": "C", "data": {"name": "x"}}
{"edge": "Knows", "from": "a", "to": "b", "data": {"since": 2010, "label": "first"}}
{"edge": "Knows", "from": "b", "to": "a", "data": {"since": 2011}}
{"edge": "Knows", "from": "a", "to": "a", "data": {"since": 2012}}
{"edge": "Knows", "from": "b", "to": "c", "data": {"since": 2013}}
{"edge": "Knows", "from": "b", "to": "c", "data": {"since": 2014}}
{"edge": "Knows", "from": "c", "to": "d", "data": {"since": 2015}}
{"edge": "At", "from": "a", "to": "x", "data": {"role": "cto"}}
"#;

    async fn graph() -> TestGraph {
        TestGraph::new(SCHEMA, DATA).await
    }

    /// The values of column `col`, in row order.
    async fn column(g: &TestGraph, q: &str, col: &str) -> Vec<serde_json::Value> {
        g.read(q, json!({}))
            .await
            .rows
            .into_iter()
            .map(|r| r.get(col).cloned().unwrap_or_default())
            .collect()
    }

    async fn names(g: &TestGraph, q: &str, col: &str) -> Vec<String> {
        column(g, q, col)
            .await
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[tokio::test]
    async fn undirected_traversal_reports_each_pair_once() {
        let g = graph().await;
        let q = "query q() { match { $x <knows> $y } return { $x.name, $y.name } order { $x.name, $y.name } }";
        let pairs: Vec<(String, String)> = g
            .read(q, json!({}))
            .await
            .rows
            .iter()
            .map(|r| {
                (
                    r["x.name"].as_str().unwrap().into(),
                    r["y.name"].as_str().unwrap().into(),
                )
            })
            .collect();
        let expected = [
            ("a", "a"),
            ("a", "b"),
            ("b", "a"),
            ("b", "c"),
            ("c", "b"),
            ("c", "d"),
            ("d", "c"),
        ];
        assert_eq!(pairs, expected.map(|(x, y)| (x.to_string(), y.to_string())));
        // The directed form keeps one row per stored edge (b->c twice).
        let directed = "query q() { match { $x knows $y } return { $x.name } }";
        assert_eq!(g.read(directed, json!({})).await.rows.len(), 6);
    }

    #[tokio::test]
    async fn undirected_traversal_from_a_bound_node_and_between_bound_nodes() {
        let g = graph().await;
        let from_a =
            r#"query q() { match { $x: P { name: "a" } $x <knows> $y } return { $y.name } }"#;
        assert_eq!(names(&g, from_a, "y.name").await, ["a", "b"]);
        // Only stored as c->d: found from d, where the directed form finds nothing.
        let from_d =
            r#"query q() { match { $x: P { name: "d" } $x <knows> $y } return { $y.name } }"#;
        assert_eq!(names(&g, from_d, "y.name").await, ["c"]);
        let directed =
            r#"query q() { match { $x: P { name: "d" } $x knows $y } return { $y.name } }"#;
        assert!(names(&g, directed, "y.name").await.is_empty());
        let between = r#"query q($s: String, $t: String) { match { $x: P { name: $s } $y: P { name: $t } $x <knows> $y } return { $x.name } }"#;
        for (s, t, rows) in [
            ("d", "c", 1),
            ("c", "d", 1),
            ("a", "b", 1),
            ("b", "c", 1),
            ("a", "a", 1),
            ("a", "c", 0),
            ("e", "a", 0),
        ] {
            let r = g.read(between, json!({"s": s, "t": t})).await;
            assert_eq!(r.rows.len(), rows, "{s} <knows> {t}");
        }
    }

    #[tokio::test]
    async fn undirected_traversal_with_hop_bounds_searches_both_directions() {
        let g = graph().await;
        let q = |name: &str, hops: &str| {
            format!(
                r#"query q() {{ match {{ $x: P {{ name: "{name}" }} $x <knows>{hops} $y }} return {{ $y.name }} }}"#
            )
        };
        // From a: b at hop 1 (a's self-loop too), c at 2, d at 3.
        assert_eq!(names(&g, &q("a", "{2,3}"), "y.name").await, ["c", "d"]);
        assert_eq!(
            names(&g, &q("a", "{1,3}"), "y.name").await,
            ["a", "b", "c", "d"]
        );
        assert_eq!(names(&g, &q("d", "{1,2}"), "y.name").await, ["b", "c"]);
        assert_eq!(names(&g, &q("d", "{3,9}"), "y.name").await, ["a"]);
        assert!(names(&g, &q("e", "{1,9}"), "y.name").await.is_empty());
        // Both ends bound: the pair is checked from the source.
        let between = r#"query q() { match { $x: P { name: "d" } $y: P { name: "a" } $x <knows>{1,3} $y } return { $y.name } }"#;
        assert_eq!(names(&g, between, "y.name").await, ["a"]);
    }

    #[tokio::test]
    async fn traversal_without_an_upper_bound_ends_on_cycles() {
        let g = graph().await;
        let q = |name: &str, edge: &str| {
            format!(
                r#"query q() {{ match {{ $x: P {{ name: "{name}" }} $x {edge} $y }} return {{ $y.name }} }}"#
            )
        };
        // a<->b is a cycle and a->a a self-loop: each node still comes once.
        assert_eq!(
            names(&g, &q("a", "knows{1,}"), "y.name").await,
            ["a", "b", "c", "d"]
        );
        assert_eq!(names(&g, &q("b", "knows{2,}"), "y.name").await, ["a", "d"]);
        assert!(names(&g, &q("d", "knows{1,}"), "y.name").await.is_empty());
        assert_eq!(
            names(&g, &q("d", "<knows>{2,}"), "y.name").await,
            ["a", "b"]
        );
        assert!(names(&g, &q("e", "<knows>{1,}"), "y.name").await.is_empty());
    }

    #[tokio::test]
    async fn undirected_traversal_inside_not_means_no_edge_either_way() {
        let g = graph().await;
        let undirected = "query q() { match { $p: P not { $p <knows> $_ } } return { $p.name } }";
        assert_eq!(names(&g, undirected, "p.name").await, ["e"]);
        let directed = "query q() { match { $p: P not { $p knows $_ } } return { $p.name } }";
        assert_eq!(names(&g, directed, "p.name").await, ["d", "e"]);
    }

    #[tokio::test]
    async fn edge_binding_gives_one_row_per_edge_with_its_properties() {
        let g = graph().await;
        let q = "query q() { match { $x $w:knows $y } return { $x.name, $y.name, $w.since, $w.label } order { $w.since } }";
        let r = g.read(q, json!({})).await;
        assert_eq!(r.columns, ["x.name", "y.name", "w.since", "w.label"]);
        let rows: Vec<serde_json::Value> =
            r.rows.into_iter().map(serde_json::Value::Object).collect();
        assert_eq!(
            rows,
            [
                json!({"x.name": "a", "y.name": "b", "w.since": 2010, "w.label": "first"}),
                json!({"x.name": "b", "y.name": "a", "w.since": 2011, "w.label": null}),
                json!({"x.name": "a", "y.name": "a", "w.since": 2012, "w.label": null}),
                json!({"x.name": "b", "y.name": "c", "w.since": 2013, "w.label": null}),
                json!({"x.name": "b", "y.name": "c", "w.since": 2014, "w.label": null}),
                json!({"x.name": "c", "y.name": "d", "w.since": 2015, "w.label": null}),
            ]
        );
    }

    #[tokio::test]
    async fn edge_properties_filter_order_limit_and_aggregate() {
        let g = graph().await;
        let filtered = "query q() { match { $x $w:knows $y  $w.since >= 2013 } return { $y.name, $w.since } order { $w.since desc } limit 2 }";
        assert_eq!(
            g.rows(filtered, json!({})).await,
            json!([{"y.name": "d", "w.since": 2015}, {"y.name": "c", "w.since": 2014}])
        );
        let param = "query q($min: I32) { match { $x: P { name: \"b\" } $x $w:knows $y  $w.since > $min } return { $y.name } }";
        assert_eq!(g.read(param, json!({"min": 2012})).await.rows.len(), 2);
        let grouped = "query q() { match { $x $w:knows $y } return { $x.name, count($w.since) as n, max($w.since) as last } order { $x.name } }";
        assert_eq!(
            g.rows(grouped, json!({})).await,
            json!([
                {"x.name": "a", "n": 2, "last": 2012},
                {"x.name": "b", "n": 3, "last": 2014},
                {"x.name": "c", "n": 1, "last": 2015}
            ])
        );
        let cmp = "query q() { match { $x $w:knows $y  $w.label = \"first\" } return { $x.name, $y.name } }";
        assert_eq!(
            g.rows(cmp, json!({})).await,
            json!([{"x.name": "a", "y.name": "b"}])
        );
        let other_edge = "query q() { match { $p $r:at $c } return { $p.name, $r.role, $c.name } }";
        assert_eq!(
            g.rows(other_edge, json!({})).await,
            json!([{"p.name": "a", "r.role": "cto", "c.name": "x"}])
        );
    }

    #[tokio::test]
    async fn edge_binding_between_bound_nodes_keeps_parallel_edges() {
        let g = graph().await;
        let q = |s: &str, t: &str, edge: &str| {
            format!(
                r#"query q() {{ match {{ $x: P {{ name: "{s}" }} $y: P {{ name: "{t}" }} $x $w:{edge} $y }} return {{ $w.since }} order {{ $w.since }} }}"#
            )
        };
        assert_eq!(
            column(&g, &q("b", "c", "knows"), "w.since").await,
            [json!(2013), json!(2014)]
        );
        assert!(column(&g, &q("c", "b", "knows"), "w.since")
            .await
            .is_empty());
        assert_eq!(
            column(&g, &q("c", "b", "<knows>"), "w.since").await,
            [json!(2013), json!(2014)]
        );
        assert_eq!(
            column(&g, &q("a", "b", "<knows>"), "w.since").await,
            [json!(2010), json!(2011)]
        );
        assert_eq!(
            column(&g, &q("a", "a", "<knows>"), "w.since").await,
            [json!(2012)]
        );
    }

    #[tokio::test]
    async fn undirected_edge_binding_lists_each_incident_edge_once() {
        let g = graph().await;
        let q = r#"query q() { match { $x: P { name: "a" } $x $w:<knows> $y } return { $y.name, $w.since } order { $w.since } }"#;
        assert_eq!(
            g.rows(q, json!({})).await,
            json!([
                {"y.name": "b", "w.since": 2010},
                {"y.name": "b", "w.since": 2011},
                {"y.name": "a", "w.since": 2012}
            ])
        );
        let all = "query q() { match { $x $w:<knows> $y } return { $x.name } }";
        // Each edge from both of its ends, a self-loop once: 5 * 2 + 1.
        assert_eq!(g.read(all, json!({})).await.rows.len(), 11);
    }

    #[tokio::test]
    async fn edge_binding_inside_not() {
        let g = graph().await;
        let q = "query q() { match { $x: P not { $x $w:knows $_  $w.since > 2012 } } return { $x.name } }";
        assert_eq!(names(&g, q, "x.name").await, ["a", "d", "e"]);
    }

    #[tokio::test]
    async fn string_predicates_are_exact_positional_and_never_match_null() {
        let g = graph().await;
        let q = |cond: &str| {
            format!("query q($s: String?) {{ match {{ $p: P  {cond} }} return {{ $p.name }} }}")
        };
        let run = |cond: &'static str, s: serde_json::Value| {
            let g = &g;
            let text = q(cond);
            async move {
                g.read(&text, json!({ "s": s }))
                    .await
                    .rows
                    .iter()
                    .map(|r| r["p.name"].as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            }
        };
        // `%` and `_` are plain characters.
        assert_eq!(run(r#"$p.note contains "%""#, json!(null)).await, ["a"]);
        assert_eq!(run(r#"$p.note contains "_""#, json!(null)).await, ["b"]);
        assert_eq!(run(r#"$p.note starts_with "a_""#, json!(null)).await, ["b"]);
        // Case-sensitive.
        assert_eq!(
            run(r#"$p.note starts_with "a""#, json!(null)).await,
            ["b", "c"]
        );
        assert_eq!(run(r#"$p.note contains "Ab""#, json!(null)).await, ["d"]);
        // Null never matches: e has no note, and a null needle matches nothing.
        assert_eq!(
            run(r#"$p.note contains """#, json!(null)).await,
            ["a", "b", "c", "d"]
        );
        assert!(run("$p.note contains $s", json!(null)).await.is_empty());
        assert_eq!(
            run("$p.note contains $s", json!("b")).await,
            ["b", "c", "d"]
        );
        // A list tests membership, not substrings.
        assert_eq!(run(r#"$p.tags contains "rust""#, json!(null)).await, ["a"]);
        assert!(run(r#"$p.tags contains "ru""#, json!(null))
            .await
            .is_empty());
        // Operands are positional: a literal haystack on the left.
        assert_eq!(run(r#""xa_bx" contains $p.note"#, json!(null)).await, ["b"]);
        assert_eq!(
            run(r#""abcd" starts_with $p.note"#, json!(null)).await,
            ["c"]
        );
        assert_eq!(
            run("$s contains $p.name", json!("bad")).await,
            ["a", "b", "d"]
        );
    }

    #[tokio::test]
    async fn now_as_a_return_column_is_one_value_for_the_query() {
        let g = graph().await;
        let q = "query q() { match { $p: P } return { $p.name, now() as t } }";
        let times = column(&g, q, "t").await;
        assert_eq!(times.len(), 5);
        assert!(times.iter().all(|t| *t == times[0]), "{times:?}");
        let t = times[0].as_str().unwrap_or_default().to_string();
        let parsed = chrono::DateTime::parse_from_rfc3339(&t).expect("an ISO-8601 time");
        let age = chrono::Utc::now().signed_duration_since(parsed);
        assert!(age.num_seconds().abs() < 60, "{t}");
        let grouped = "query q() { match { $p: P } return { now() as t, count($p) as n } }";
        assert_eq!(column(&g, grouped, "n").await, [json!(5)]);
    }

    #[tokio::test]
    async fn literals_as_return_columns() {
        let g = graph().await;
        let q = r#"query q() { match { $p: P { name: "a" } } return { "person" as kind, 7, 1.5, false, null, $p.name } }"#;
        let r = g.read(q, json!({})).await;
        assert_eq!(r.columns, ["kind", "7", "1.5", "false", "null", "p.name"]);
        assert_eq!(
            g.rows(q, json!({})).await,
            json!([{"kind": "person", "7": 7, "1.5": 1.5, "false": false, "null": null, "p.name": "a"}])
        );
        let grouped = r#"query q() { match { $p: P } return { "all" as g, count($p) as n } }"#;
        assert_eq!(
            g.rows(grouped, json!({})).await,
            json!([{"g": "all", "n": 5}])
        );
    }

    #[tokio::test]
    async fn now_in_filters_bindings_and_mutations() {
        let g = graph().await;
        let past = "query q() { match { $p: P  $p.seen < now() } return { $p.name } }";
        assert_eq!(names(&g, past, "p.name").await, ["a"]);
        let future = "query q() { match { $p: P  now() < $p.seen } return { $p.name } }";
        assert_eq!(names(&g, future, "p.name").await, ["b"]);
        let bind = "query q() { match { $p: P { seen: now() } } return { $p.name } }";
        assert!(names(&g, bind, "p.name").await.is_empty());
        g.mutate(
            r#"query m() { insert P { name: "f", seen: now() } update P set { seen: now() } where name = "c" }"#,
            json!({}),
        )
        .await;
        let recent = r#"query q() { match { $p: P  $p.seen > "2026-01-01T00:00:00Z"  $p.seen <= now() } return { $p.name } }"#;
        assert_eq!(names(&g, recent, "p.name").await, ["c", "f"]);
        // The time is the system's, never the caller's.
        let err = g
            .try_read_at(past, json!({"__now": "2000-01-01T00:00:00Z"}), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unknown parameter"), "{err}");
    }
}
