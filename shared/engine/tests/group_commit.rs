//! Group commit (shared/engine/src/mutate/group.rs): mutations that arrive together are
//! published together, each still all-or-nothing, and a writer that loses the manifest race
//! to another handle plans again instead of failing.

use std::sync::Arc;

use crate::common::*;
use omnigraph_engine::{CompiledMutation, EngineError, Graph, MutationReport, QueryText, MAIN};
use serde_json::json;

const ADD: &str =
    "query add($name: String, $email: String?) { insert Person { name: $name, email: $email } }";

async fn add(
    graph: Arc<Graph>,
    name: String,
    email: Option<String>,
) -> Result<MutationReport, EngineError> {
    let params = as_map(json!({ "name": name, "email": email }));
    let text = QueryText::new(ADD, None);
    Ok(
        omnigraph_engine::change(&graph, MAIN, text, &params, "writer")
            .await?
            .report,
    )
}

/// Runs every insert at once, each on its own task, and returns their outcomes in order.
async fn add_all(
    graph: &Arc<Graph>,
    rows: Vec<(String, Option<String>)>,
) -> Vec<Result<MutationReport, EngineError>> {
    let tasks: Vec<_> = rows
        .into_iter()
        .map(|(name, email)| tokio::spawn(add(graph.clone(), name, email)))
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mutations_publish_together_and_every_one_is_visible() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let n = 48;
    let rows = (0..n).map(|i| (format!("p{i}"), None)).collect();
    let outcomes = add_all(&g.graph, rows).await;
    let mut versions = vec![];
    for r in &outcomes {
        let r = r.as_ref().expect("every insert is published");
        assert_eq!((r.nodes_inserted, r.affected_nodes), (1, 1));
        versions.push(r.version);
    }
    let after = g.version().await;
    // Fewer versions than mutations: some were published together.
    assert!(
        after - before < n,
        "{n} mutations made {} versions",
        after - before
    );
    versions.sort();
    assert_eq!(*versions.last().unwrap(), after);
    let names = g.person_names().await;
    for i in 0..n {
        assert!(names.contains(&format!("p{i}")), "p{i} missing");
    }
    assert_eq!(names.len() as u64, 4 + n);
    // Each mutation's reported version already holds its row.
    for (i, v) in versions.iter().enumerate().take(4) {
        let r = g
            .try_read_at(
                "query q() { match { $p: Person } return { $p.name } }",
                json!({}),
                Some(*v),
            )
            .await
            .expect("read at the reported version");
        assert!(
            r.rows.len() > 4,
            "version {v} of mutation {i} has no new row"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_that_fails_its_checks_is_refused_alone() {
    let g = TestGraph::social().await;
    // Bob's email is taken: that insert breaks @unique; the others go on.
    let mut rows: Vec<(String, Option<String>)> =
        (0..12).map(|i| (format!("q{i}"), None)).collect();
    rows.insert(6, ("Mallory".into(), Some("bob@example.com".into())));
    let outcomes = add_all(&g.graph, rows).await;
    for (i, r) in outcomes.iter().enumerate() {
        if i == 6 {
            match r {
                Err(EngineError::Constraint(m)) => assert!(m.contains("email"), "{m}"),
                other => panic!("expected a constraint violation, got {other:?}"),
            }
        } else {
            assert!(r.is_ok(), "insert {i}: {r:?}");
        }
    }
    let names = g.person_names().await;
    assert!(!names.contains(&"Mallory".to_string()));
    assert_eq!(names.len(), 4 + 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_inserts_of_one_new_key_in_one_group_publish_exactly_one() {
    let g = TestGraph::social().await;
    for round in 0..4 {
        let name = format!("twin{round}");
        let outcomes = add_all(&g.graph, vec![(name.clone(), None), (name.clone(), None)]).await;
        let ok = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{outcomes:?}");
        for r in outcomes.iter().filter(|r| r.is_err()) {
            assert!(
                matches!(r, Err(EngineError::Constraint(m)) if m.contains(&name)),
                "{r:?}"
            );
        }
        let names = g.person_names().await;
        assert_eq!(names.iter().filter(|n| **n == name).count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_two_handles_plan_again_instead_of_conflicting() {
    // Two handles of one graph stand for two processes: they share nothing but storage, so
    // only the manifest compare-and-swap orders their groups.
    let g = TestGraph::social().await;
    let other = Graph::open(g.graph.uri()).await.expect("second handle");
    let mut tasks = vec![];
    for i in 0..24 {
        let handle = if i % 2 == 0 { &g.graph } else { &other };
        tasks.push(tokio::spawn(add(handle.clone(), format!("h{i}"), None)));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.expect("task");
        assert!(r.is_ok(), "insert {i} was refused: {r:?}");
    }
    let names = g.person_names().await;
    for i in 0..24 {
        assert_eq!(names.iter().filter(|n| **n == format!("h{i}")).count(), 1);
    }
    assert_eq!(names.len(), 4 + 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_compiled_before_a_schema_apply_of_another_process_is_refused_not_applied() {
    // Compiled while Person has `age`; another process renames it to `years` before the
    // mutation is planned. Applying the old statements to the new tables would write a
    // column that no longer exists (or the wrong one); the mutation is refused instead.
    let g = TestGraph::social().await;
    let compiled_on = g.graph.snapshot(None).await.expect("snapshot");
    let insert = CompiledMutation::compile(
        &compiled_on.catalog,
        QueryText::new(
            "query q() { insert Person { name: \"Late\", age: 41 } }",
            None,
        ),
    )
    .expect("compile");
    let other = Graph::open(g.graph.uri()).await.expect("second handle");
    let renamed = SOCIAL_SCHEMA.replace("age: I32?", "years: I32? @rename_from(\"age\")");
    let renamed = renamed.replace("@range(age,", "@range(years,");
    other
        .apply_schema(
            omnigraph_engine::MAIN,
            &renamed,
            omnigraph_engine::ApplyOptions {
                allow_data_loss: false,
                dry_run: false,
            },
            "admin",
        )
        .await
        .expect("apply");
    let r = insert.run(&compiled_on, &Default::default(), "late").await;
    match r {
        Err(EngineError::Conflict { table_key, .. }) => assert_eq!(table_key, "schema"),
        other => panic!("expected a schema conflict, got {other:?}"),
    }
    assert!(!g.person_names().await.contains(&"Late".to_string()));
    // Compiled again under the new schema, it applies.
    let now = g.graph.snapshot(None).await.expect("snapshot");
    let insert = CompiledMutation::compile(
        &now.catalog,
        QueryText::new(
            "query q() { insert Person { name: \"Late\", years: 41 } }",
            None,
        ),
    )
    .expect("compile");
    insert
        .run(&now, &Default::default(), "late")
        .await
        .expect("insert under the new schema");
    assert!(g.person_names().await.contains(&"Late".to_string()));
}
