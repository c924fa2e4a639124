//! Mutations: each statement, read-your-writes, cascades, atomicity, and every constraint.

use crate::common;

use common::*;
use omnigraph_engine::{
    CompiledMutation, CompiledRead, EngineError, MutationReport, QueryBudget, QueryText, ReadAt,
    MAIN,
};
use serde_json::json;

const FRIENDS: &str = "query q($name: String) { match { $p: Person { name: $name } $p knows $f } return { $f.name } }";

fn constraint(r: Result<MutationReport, EngineError>) -> String {
    match r {
        Err(EngineError::Constraint(m)) => m,
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[tokio::test]
async fn insert_node_is_visible_and_counted() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let q =
        "query add_person($name: String, $age: I32) { insert Person { name: $name, age: $age } }";
    let report = g.mutate(q, json!({"name": "Eve", "age": 41})).await;
    assert_eq!(report.version, before + 1);
    assert_eq!(
        (
            report.nodes_inserted,
            report.affected_nodes,
            report.affected_edges
        ),
        (1, 1, 0)
    );
    let rows = g
        .rows(
            r#"query q() { match { $p: Person { name: "Eve" } } return { $p.age } }"#,
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"p.age": 41}]));
}

#[tokio::test]
async fn insert_edge_by_endpoint_keys() {
    let g = TestGraph::social().await;
    let q = r#"query befriend($a: String, $b: String) { insert Knows { from: $a, to: $b, since: "2024-02-29" } }"#;
    let report = g.mutate(q, json!({"a": "Diana", "b": "Alice"})).await;
    assert_eq!(report.edges_inserted, 1);
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Diana"})).await,
        json!([{"f.name": "Alice"}])
    );
}

#[tokio::test]
async fn update_sets_properties_of_matching_nodes() {
    let g = TestGraph::social().await;
    let report = g
        .mutate(
            "query birthday($name: String) { update Person set { age: 31 } where name = $name }",
            json!({"name": "Alice"}),
        )
        .await;
    assert_eq!(report.nodes_updated, 1);
    let q = r#"query q() { match { $p: Person { name: "Alice" } } return { $p.age, $p.email, $p.tags } }"#;
    // Other properties survive the rewrite of the row.
    assert_eq!(
        g.rows(q, json!({})).await,
        json!([{"p.age": 31, "p.email": "alice@example.com", "p.tags": ["ops", "rust"]}])
    );
    // Edges of the updated node still resolve.
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Alice"})).await,
        json!([{"f.name": "Bob"}, {"f.name": "Charlie"}])
    );
}

#[tokio::test]
async fn update_with_a_range_predicate_touches_every_match() {
    let g = TestGraph::social().await;
    let report = g
        .mutate(
            r#"query q() { update Person set { role: "member" } where age >= 30 }"#,
            json!({}),
        )
        .await;
    assert_eq!(report.nodes_updated, 2);
    let q = r#"query q() { match { $p: Person { role: "member" } } return { $p.name } }"#;
    let names: Vec<_> = g
        .read(q, json!({}))
        .await
        .rows
        .iter()
        .map(|r| r["p.name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("Alice"),
            json!("Bob"),
            json!("Charlie"),
            json!("Diana")
        ]
    );
}

#[tokio::test]
async fn updating_the_key_is_refused() {
    let g = TestGraph::social().await;
    let r = g
        .try_mutate(
            r#"query q() { update Person set { name: "Al" } where name = "Alice" }"#,
            json!({}),
        )
        .await;
    assert!(
        matches!(&r, Err(EngineError::Lang(e)) if e.code.as_deref() == Some("T13")),
        "{r:?}"
    );
}

#[tokio::test]
async fn delete_node_cascades_to_its_edges_in_both_directions() {
    let g = TestGraph::social().await;
    let report = g
        .mutate(
            "query forget($name: String) { delete Person where name = $name }",
            json!({"name": "Bob"}),
        )
        .await;
    assert_eq!((report.nodes_deleted, report.edges_deleted), (1, 3));
    assert_eq!(g.person_names().await, ["Alice", "Charlie", "Diana"]);
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Alice"})).await,
        json!([{"f.name": "Charlie"}])
    );
    let acme =
        "query q() { match { $c: Company { name: \"Acme\" } $p worksAt $c } return { $p.name } }";
    assert_eq!(g.rows(acme, json!({})).await, json!([{"p.name": "Alice"}]));
    // Bob's key is free again.
    g.mutate(r#"query q() { insert Person { name: "Bob" } }"#, json!({}))
        .await;
    assert_eq!(g.rows(FRIENDS, json!({"name": "Bob"})).await, json!([]));
}

#[tokio::test]
async fn delete_edges_by_endpoint() {
    let g = TestGraph::social().await;
    let report = g
        .mutate(
            r#"query q() { delete Knows where from = "Alice" }"#,
            json!({}),
        )
        .await;
    assert_eq!((report.edges_deleted, report.nodes_deleted), (2, 0));
    assert_eq!(g.rows(FRIENDS, json!({"name": "Alice"})).await, json!([]));
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Bob"})).await,
        json!([{"f.name": "Diana"}])
    );
    let report = g
        .mutate(
            r#"query q() { delete Knows where to = "Diana" }"#,
            json!({}),
        )
        .await;
    assert_eq!(report.edges_deleted, 1);
}

#[tokio::test]
async fn later_statements_see_earlier_writes() {
    let g = TestGraph::social().await;
    let q = r#"query q() {
        insert Person { name: "Eve", age: 20 }
        insert Knows { from: "Eve", to: "Alice" }
        update Person set { age: 21 } where name = "Eve"
        insert WorksAt { from: "Eve", to: "Globex" }
    }"#;
    let report = g.mutate(q, json!({})).await;
    assert_eq!(
        (
            report.nodes_inserted,
            report.nodes_updated,
            report.edges_inserted
        ),
        (1, 1, 2)
    );
    let rows = g.rows(r#"query q() { match { $p: Person { name: "Eve" } $p knows $f $p worksAt $c } return { $p.age, $f.name, $c.name } }"#, json!({})).await;
    assert_eq!(
        rows,
        json!([{"p.age": 21, "f.name": "Alice", "c.name": "Globex"}])
    );
}

#[tokio::test]
async fn rename_and_link_publishes_one_version() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let q = "query rename_and_link($old: String, $new: String, $co: String) {
        insert Person { name: $new }
        insert WorksAt { from: $new, to: $co }
        delete Person where name = $old
    }";
    let report = g
        .mutate(q, json!({"old": "Charlie", "new": "Chuck", "co": "Globex"}))
        .await;
    assert_eq!(report.version, before + 1);
    assert_eq!(
        (
            report.nodes_inserted,
            report.nodes_deleted,
            report.edges_inserted,
            report.edges_deleted
        ),
        (1, 1, 1, 2)
    );
    let rows = g.rows("query q() { match { $c: Company { name: \"Globex\" } $p worksAt $c } return { $p.name } }", json!({})).await;
    assert_eq!(rows, json!([{"p.name": "Chuck"}]));
}

#[tokio::test]
async fn a_failing_last_statement_leaves_no_trace() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let q = r#"query q() {
        insert Person { name: "Eve" }
        insert Knows { from: "Eve", to: "Alice" }
        insert Knows { from: "Eve", to: "Nobody" }
    }"#;
    let message = constraint(g.try_mutate(q, json!({})).await);
    assert!(
        message.contains("Nobody") && message.contains("does not exist"),
        "{message}"
    );
    assert_eq!(g.version().await, before);
    assert_eq!(g.person_names().await, ["Alice", "Bob", "Charlie", "Diana"]);
    // Not even the next writer sees the rows of the failed change.
    g.mutate(r#"query q() { insert Person { name: "Eve" } }"#, json!({}))
        .await;
    assert_eq!(g.rows(FRIENDS, json!({"name": "Eve"})).await, json!([]));
}

#[tokio::test]
async fn insert_then_delete_in_one_mutation_cancels_out() {
    let g = TestGraph::social().await;
    let q = r#"query q() { insert Person { name: "Eve" } insert Knows { from: "Eve", to: "Bob" } delete Person where name = "Eve" }"#;
    let report = g.mutate(q, json!({})).await;
    assert_eq!(
        (
            report.nodes_inserted,
            report.nodes_deleted,
            report.edges_inserted,
            report.edges_deleted
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(g.person_names().await, ["Alice", "Bob", "Charlie", "Diana"]);
}

#[tokio::test]
async fn duplicate_key_is_refused() {
    let g = TestGraph::social().await;
    let m = constraint(
        g.try_mutate(
            r#"query q() { insert Person { name: "Alice" } }"#,
            json!({}),
        )
        .await,
    );
    assert!(m.contains("Alice") && m.contains("already exists"), "{m}");
    let twice = r#"query q() { insert Person { name: "Eve" } insert Person { name: "Eve" } }"#;
    constraint(g.try_mutate(twice, json!({})).await);
}

#[tokio::test]
async fn unique_property_is_refused_against_stored_and_written_rows() {
    let g = TestGraph::social().await;
    let stored = r#"query q() { insert Person { name: "Eve", email: "bob@example.com" } }"#;
    assert!(constraint(g.try_mutate(stored, json!({})).await).contains("@unique(email)"));
    let written = r#"query q() { insert Person { name: "Eve", email: "e@x" } insert Person { name: "Fay", email: "e@x" } }"#;
    constraint(g.try_mutate(written, json!({})).await);
    let update =
        r#"query q() { update Person set { email: "alice@example.com" } where name = "Bob" }"#;
    constraint(g.try_mutate(update, json!({})).await);
    // Updating a row to its own value is fine.
    g.mutate(
        r#"query q() { update Person set { email: "bob@example.com" } where name = "Bob" }"#,
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn range_and_check_are_refused() {
    let g = TestGraph::social().await;
    let m = constraint(
        g.try_mutate(
            "query q($a: I32) { insert Person { name: \"Eve\", age: $a } }",
            json!({"a": 200}),
        )
        .await,
    );
    assert!(m.contains("@range"), "{m}");
    let m = constraint(
        g.try_mutate(
            "query q($a: I32) { update Person set { age: $a } where name = \"Bob\" }",
            json!({"a": -1}),
        )
        .await,
    );
    assert!(m.contains("@range"), "{m}");
    let m = constraint(
        g.try_mutate(
            r#"query q() { insert Company { name: "Initech", code: "ini" } }"#,
            json!({}),
        )
        .await,
    );
    assert!(m.contains("@check"), "{m}");
}

#[tokio::test]
async fn required_property_and_enum_are_refused() {
    let schema = "node Tag { name: String @key weight: I32 kind: enum(a, b)? }";
    let g = TestGraph::new(schema, "").await;
    // A nullable parameter for a required property is refused before anything runs.
    let r = g
        .try_mutate(
            "query q($w: I32?) { insert Tag { name: \"t\", weight: $w } }",
            json!({}),
        )
        .await;
    assert!(
        matches!(&r, Err(EngineError::Lang(e)) if e.code.as_deref() == Some("T7")),
        "{r:?}"
    );
    let m = constraint(
        g.try_mutate(
            "query q($k: String) { insert Tag { name: \"t\", weight: 1, kind: $k } }",
            json!({"k": "c"}),
        )
        .await,
    );
    assert!(m.contains("enum"), "{m}");
    g.mutate(
        "query q($k: String) { insert Tag { name: \"t\", weight: 1, kind: $k } }",
        json!({"k": "b"}),
    )
    .await;
}

#[tokio::test]
async fn missing_endpoint_is_refused() {
    let g = TestGraph::social().await;
    let m = constraint(
        g.try_mutate(
            r#"query q() { insert WorksAt { from: "Diana", to: "Initech" } }"#,
            json!({}),
        )
        .await,
    );
    assert!(m.contains("Company `Initech` does not exist"), "{m}");
    // An endpoint deleted earlier in the same mutation is gone too.
    let q = r#"query q() { delete Company where name = "Globex" insert WorksAt { from: "Diana", to: "Globex" } }"#;
    constraint(g.try_mutate(q, json!({})).await);
}

#[tokio::test]
async fn card_maximum_is_refused() {
    let g = TestGraph::social().await;
    let m = constraint(
        g.try_mutate(
            r#"query q() { insert WorksAt { from: "Alice", to: "Globex" } }"#,
            json!({}),
        )
        .await,
    );
    assert!(m.contains("@card"), "{m}");
    // Moving a job is delete + insert in one mutation.
    let q = r#"query q() { delete WorksAt where from = "Alice" insert WorksAt { from: "Alice", to: "Globex" } }"#;
    g.mutate(q, json!({})).await;
    let two = r#"query q() { insert WorksAt { from: "Diana", to: "Acme" } insert WorksAt { from: "Diana", to: "Globex" } }"#;
    constraint(g.try_mutate(two, json!({})).await);
}

#[tokio::test]
async fn keys_with_quotes_are_found_by_pushdown() {
    let g = TestGraph::social().await;
    let q = "query q($n: String) { insert Person { name: $n } }";
    for name in ["O'Brien", "back\\slash", "semi;colon", "\"quoted\""] {
        g.mutate(q, json!({"n": name})).await;
        let again = g.try_mutate(q, json!({"n": name})).await;
        assert!(
            matches!(again, Err(EngineError::Constraint(_))),
            "{name}: {again:?}"
        );
        let link = "query q($n: String) { insert Knows { from: $n, to: \"Alice\" } }";
        g.mutate(link, json!({"n": name})).await;
        assert_eq!(
            g.rows(FRIENDS, json!({"name": name})).await,
            json!([{"f.name": "Alice"}])
        );
    }
}

#[tokio::test]
async fn integer_keys_are_found_by_pushdown() {
    let schema = "node Item { id: I32 @key } edge Next: Item -> Item";
    let g = TestGraph::new(schema, "{\"type\": \"Item\", \"data\": {\"id\": 5}}\n").await;
    let dup = constraint(
        g.try_mutate("query q() { insert Item { id: 5 } }", json!({}))
            .await,
    );
    assert!(dup.contains("already exists"), "{dup}");
    g.mutate(
        "query q() { insert Item { id: 6 } insert Next { from: 5, to: 6 } }",
        json!({}),
    )
    .await;
    let r = g
        .rows(
            "query q() { match { $a: Item { id: 5 } $a next $b } return { $b } }",
            json!({}),
        )
        .await;
    assert_eq!(r, json!([{"b": 6}]));
}

#[tokio::test]
async fn a_mutation_that_matches_nothing_publishes_nothing() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let report = g
        .mutate(
            r#"query q() { delete Person where name = "Nobody" }"#,
            json!({}),
        )
        .await;
    assert_eq!((report.version, report.affected_nodes), (before, 0));
}

#[tokio::test]
async fn concurrent_mutations_in_one_process_all_land() {
    let g = TestGraph::social().await;
    let mut tasks = vec![];
    for i in 0..8 {
        let graph = g.graph.clone();
        tasks.push(tokio::spawn(async move {
            let q = "query q($n: String) { insert Person { name: $n } insert Knows { from: $n, to: \"Alice\" } }";
            let params = as_map(json!({"n": format!("P{i}")}));
            omnigraph_engine::change(&graph, MAIN, QueryText::new(q, None), &params, "test").await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(g.person_names().await.len(), 12);
    let q = r#"query q() { match { $a: Person { name: "Alice" } $p knows $a } return { count($p) as n } }"#;
    assert_eq!(g.rows(q, json!({})).await, json!([{"n": 8}]));
}

#[tokio::test]
async fn reads_refuse_mutations_and_mutations_refuse_reads() {
    let g = TestGraph::social().await;
    let snap = g.graph.snapshot(None).await.unwrap();
    // Refused when compiled, with the other kind's entry named.
    let read = QueryText::new(
        "query q() { match { $p: Person } return { $p.name } }",
        None,
    );
    let r = CompiledMutation::compile(&snap.catalog, read);
    assert!(
        matches!(&r, Err(EngineError::Invalid(m)) if m.contains("is a read; run it as a query"))
    );
    let write = QueryText::new("query q() { insert Person { name: \"X\" } }", None);
    let r = CompiledRead::compile(&snap.catalog, write);
    assert!(
        matches!(&r, Err(EngineError::Invalid(m)) if m.contains("is a mutation; run it as a mutation"))
    );
    // Through the entries: nothing is written, the graph stays at its version.
    let r = omnigraph_engine::change(&g.graph, MAIN, read, &Default::default(), "test").await;
    assert!(matches!(r, Err(EngineError::Invalid(_))));
    let at = ReadAt::Branch {
        branch: MAIN,
        version: None,
    };
    let r = omnigraph_engine::read(
        &g.graph,
        at,
        write,
        &Default::default(),
        &QueryBudget::unlimited(),
    )
    .await;
    assert!(matches!(r, Err(EngineError::Invalid(_))));
    assert_eq!(
        g.graph.snapshot(None).await.unwrap().manifest.version,
        snap.manifest.version
    );
    assert_eq!(g.person_names().await.len(), 4);
}

#[tokio::test]
async fn key_checks_agree_with_a_warm_query_cache() {
    let g = TestGraph::social().await;
    // A read builds this version's node ids; the mutations below check keys against them.
    assert_eq!(g.person_names().await.len(), 4);
    let dup = g
        .try_mutate(r#"query q() { insert Person { name: "Bob" } }"#, json!({}))
        .await;
    assert!(matches!(dup, Err(EngineError::Constraint(_))), "{dup:?}");
    let dangling = g
        .try_mutate(
            r#"query q() { insert Knows { from: "Bob", to: "Zed" } }"#,
            json!({}),
        )
        .await;
    assert!(
        matches!(dangling, Err(EngineError::Constraint(_))),
        "{dangling:?}"
    );
    // Deleted earlier in the same mutation: the key is free, and no longer an endpoint.
    let q =
        r#"query q() { delete Person where name = "Bob" insert Person { name: "Bob", age: 9 } }"#;
    g.mutate(q, json!({})).await;
    assert_eq!(g.person_names().await.len(), 4);
    let gone = r#"query q() { delete Person where name = "Diana" insert Knows { from: "Alice", to: "Diana" } }"#;
    assert!(matches!(
        g.try_mutate(gone, json!({})).await,
        Err(EngineError::Constraint(_))
    ));
    g.mutate(
        r#"query q() { insert Knows { from: "Bob", to: "Alice" } }"#,
        json!({}),
    )
    .await;
    // Still no read since the first one: keys are checked against it plus the delta since.
    for name in ["Bob", "Diana", "Alice"] {
        let dup = g
            .try_mutate(
                "query q($n: String) { insert Person { name: $n } }",
                json!({"n": name}),
            )
            .await;
        assert!(
            matches!(dup, Err(EngineError::Constraint(_))),
            "{name}: {dup:?}"
        );
    }
    g.mutate(
        r#"query q() { delete Person where name = "Charlie" }"#,
        json!({}),
    )
    .await;
    g.mutate(r#"query q() { insert Person { name: "Charlie" } insert Knows { from: "Charlie", to: "Bob" } }"#, json!({})).await;
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Bob"})).await,
        json!([{"f.name": "Alice"}])
    );
    assert_eq!(
        g.rows(FRIENDS, json!({"name": "Charlie"})).await,
        json!([{"f.name": "Bob"}])
    );
}
