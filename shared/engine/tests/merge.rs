//! Merging branches: each outcome, each conflict kind, atomicity, merge commits, and
//! concurrent merges into main from two handles (two processes' worth of state).

use crate::common;

use std::sync::Arc;

use common::{TestGraph, SOCIAL_SCHEMA};
use omnigraph_engine::{
    ApplyOptions, CompiledMutation, CompiledRead, ConflictKind, EngineError, Graph, MergeOutcome,
    QueryBudget, QueryText, MAIN,
};
use serde_json::{json, Map, Value};

async fn run(graph: &Arc<Graph>, branch: &str, text: &str, params: Value) {
    try_run(graph, branch, text, params)
        .await
        .unwrap_or_else(|e| panic!("{text} on {branch}: {e}"));
}

async fn try_run(
    graph: &Arc<Graph>,
    branch: &str,
    text: &str,
    params: Value,
) -> Result<(), EngineError> {
    let snap = graph.snapshot_on(branch, None).await?;
    let q = CompiledMutation::compile(&snap.catalog, QueryText::new(text, None))?;
    let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    q.run(&snap, &params, "test").await?;
    Ok(())
}

/// `name:age` of every person on a branch, sorted.
async fn people(graph: &Arc<Graph>, branch: &str) -> Vec<String> {
    let snap = graph.snapshot_on(branch, None).await.expect("snapshot");
    let text =
        "query q() { match { $p: Person } return { $p.name, $p.age } order { $p.name asc } }";
    let q = CompiledRead::compile(&snap.catalog, QueryText::new(text, None)).expect("compile");
    let r = q
        .run(&snap, &Map::new(), &QueryBudget::unlimited())
        .await
        .expect("read");
    r.rows
        .iter()
        .map(|row| format!("{}:{}", row["p.name"].as_str().unwrap_or(""), row["p.age"]))
        .collect()
}

async fn edges(graph: &Arc<Graph>, branch: &str, edge: &str) -> Vec<String> {
    let snap = graph.snapshot_on(branch, None).await.expect("snapshot");
    let text = format!(
        "query q() {{ match {{ $a: Person $a {edge} $b }} return {{ $a.name, $b.name }} order {{ $a.name asc, $b.name asc }} }}"
    );
    let q = CompiledRead::compile(&snap.catalog, QueryText::new(&text, None)).expect("compile");
    let r = q
        .run(&snap, &Map::new(), &QueryBudget::unlimited())
        .await
        .expect("read");
    r.rows
        .iter()
        .map(|row| {
            format!(
                "{}->{}",
                row["a.name"].as_str().unwrap_or(""),
                row["b.name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

const ADD: &str = "query add($name: String) { insert Person { name: $name } }";
const ADD_AGED: &str =
    "query add($name: String, $age: I32) { insert Person { name: $name, age: $age } }";
const SET_AGE: &str =
    "query age($name: String, $age: I32) { update Person set { age: $age } where name = $name }";
const DEL: &str = "query del($name: String) { delete Person where name = $name }";

#[tokio::test]
async fn up_to_date_fast_forward_and_three_way_merges() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");

    // Nothing on dev yet: up to date, nothing written.
    let before = graph.snapshot(None).await.expect("snap").version();
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::UpToDate);
    assert_eq!(graph.snapshot(None).await.expect("snap").version(), before);

    // Only dev moved: fast-forward, main names dev's table versions.
    run(graph, "dev", ADD, json!({ "name": "Zed" })).await;
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::FastForward);
    assert_eq!(r.tables_changed, ["node:Person"]);
    assert_eq!(people(graph, MAIN).await, people(graph, "dev").await);
    let main = graph.snapshot(None).await.expect("snap");
    let dev = graph.snapshot_on("dev", None).await.expect("snap");
    assert_eq!(
        main.manifest.tables["node:Person"].version,
        dev.manifest.tables["node:Person"].version
    );
    // The merge commit has two parents: main's previous head, then dev's head.
    let (commit, _) = graph.commit(&r.commit_id).await.expect("commit");
    assert_eq!(commit.parents.len(), 2, "{commit:?}");
    assert_eq!(commit.parents[1], dev.commit_id());
    // Merging again: up to date.
    let again = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(again.outcome, MergeOutcome::UpToDate);

    // Both moved, different rows and tables: three-way, everything kept.
    run(graph, "dev", SET_AGE, json!({ "name": "Bob", "age": 26 })).await;
    run(
        graph,
        "dev",
        "query e() { insert Knows { from: \"Zed\", to: \"Alice\" } }",
        json!({}),
    )
    .await;
    run(graph, MAIN, SET_AGE, json!({ "name": "Alice", "age": 31 })).await;
    run(graph, MAIN, ADD, json!({ "name": "Amy" })).await;
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::Merged, "{r:?}");
    assert_eq!(
        r.base_commit,
        dev.commit_id(),
        "the last merge is the new base"
    );
    assert_eq!(r.tables_changed, ["edge:Knows", "node:Person"]);
    assert_eq!(
        r.rows_merged, 2,
        "Bob's old row deleted and its new one written"
    );
    let merged = people(graph, MAIN).await;
    for want in ["Alice:31", "Bob:26", "Amy:null", "Zed:null", "Charlie:35"] {
        assert!(
            merged.contains(&want.to_string()),
            "{want} missing from {merged:?}"
        );
    }
    assert!(edges(graph, MAIN, "knows")
        .await
        .contains(&"Zed->Alice".to_string()));
    // dev is untouched by a merge into main.
    assert!(!people(graph, "dev").await.contains(&"Amy:null".to_string()));
    // And main merged back into dev: dev gets main's side.
    let back = graph.merge(MAIN, "dev", "t").await.expect("merge back");
    assert_eq!(back.outcome, MergeOutcome::FastForward, "{back:?}");
    assert_eq!(people(graph, "dev").await, merged);

    // A second handle (another process) reads the same merged main.
    let other = Graph::open(graph.uri()).await.expect("open");
    assert_eq!(people(&other, MAIN).await, merged);
}

#[tokio::test]
async fn identical_changes_on_both_sides_are_not_conflicts() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    for b in ["dev", MAIN] {
        run(graph, b, SET_AGE, json!({ "name": "Bob", "age": 40 })).await;
        run(graph, b, ADD_AGED, json!({ "name": "Same", "age": 5 })).await;
    }
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::Merged);
    assert_eq!(r.rows_merged, 0);
    assert!(people(graph, MAIN).await.contains(&"Bob:40".to_string()));
}

async fn expect_conflict(
    graph: &Arc<Graph>,
    source: &str,
    kind: ConflictKind,
    key: &str,
) -> Vec<omnigraph_engine::MergeConflict> {
    let before = graph.snapshot(None).await.expect("snap");
    let people_before = people(graph, MAIN).await;
    let err = graph.merge(source, MAIN, "t").await.expect_err("conflict");
    let EngineError::MergeConflicts(conflicts) = err else {
        panic!("expected merge conflicts, got {err}");
    };
    assert!(
        conflicts
            .iter()
            .any(|c| c.kind == kind && c.key.as_deref() == Some(key)),
        "no {kind:?} on {key} in {conflicts:?}"
    );
    // Atomic: main did not move at all.
    let after = graph.snapshot(None).await.expect("snap");
    assert_eq!(after.version(), before.version());
    assert_eq!(after.manifest.tables, before.manifest.tables);
    assert_eq!(people(graph, MAIN).await, people_before);
    conflicts
}

#[tokio::test]
async fn divergent_insert_update_and_delete_vs_update_are_conflicts() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    run(graph, "dev", ADD_AGED, json!({ "name": "Nia", "age": 1 })).await;
    run(graph, MAIN, ADD_AGED, json!({ "name": "Nia", "age": 2 })).await;
    run(graph, "dev", SET_AGE, json!({ "name": "Bob", "age": 50 })).await;
    run(graph, MAIN, SET_AGE, json!({ "name": "Bob", "age": 60 })).await;
    run(graph, "dev", DEL, json!({ "name": "Diana" })).await;
    run(graph, MAIN, SET_AGE, json!({ "name": "Diana", "age": 18 })).await;
    let conflicts = expect_conflict(graph, "dev", ConflictKind::DivergentInsert, "Nia").await;
    for (kind, key) in [
        (ConflictKind::DivergentUpdate, "Bob"),
        (ConflictKind::DeleteVsUpdate, "Diana"),
    ] {
        assert!(
            conflicts
                .iter()
                .any(|c| c.kind == kind && c.key.as_deref() == Some(key)),
            "no {kind:?} on {key} in {conflicts:?}"
        );
    }
    assert!(conflicts
        .iter()
        .all(|c| c.table_key == "node:Person" || c.table_key.starts_with("edge:")));
}

#[tokio::test]
async fn an_edge_to_a_node_deleted_on_the_other_side_is_an_orphan_edge() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    run(
        graph,
        "dev",
        "query e() { insert Knows { from: \"Charlie\", to: \"Diana\" } }",
        json!({}),
    )
    .await;
    run(graph, MAIN, DEL, json!({ "name": "Diana" })).await;
    expect_conflict(graph, "dev", ConflictKind::OrphanEdge, "Charlie->Diana").await;
}

#[tokio::test]
async fn the_same_unique_value_on_two_new_rows_is_a_unique_violation() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    let q =
        "query add($name: String, $email: String) { insert Person { name: $name, email: $email } }";
    run(
        graph,
        "dev",
        q,
        json!({ "name": "Ann", "email": "x@example.com" }),
    )
    .await;
    run(
        graph,
        MAIN,
        q,
        json!({ "name": "Ben", "email": "x@example.com" }),
    )
    .await;
    let conflicts = expect_conflict(graph, "dev", ConflictKind::UniqueViolation, "Ann").await;
    assert!(
        conflicts[0].message.contains("x@example.com"),
        "{conflicts:?}"
    );
}

#[tokio::test]
async fn two_employers_added_on_two_sides_break_the_cardinality() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    // Diana has no employer; WorksAt is @card(0..1).
    run(
        graph,
        "dev",
        "query e() { insert WorksAt { from: \"Diana\", to: \"Acme\" } }",
        json!({}),
    )
    .await;
    run(
        graph,
        MAIN,
        "query e() { insert WorksAt { from: \"Diana\", to: \"Globex\" } }",
        json!({}),
    )
    .await;
    expect_conflict(graph, "dev", ConflictKind::CardinalityViolation, "Diana").await;
}

const NO_OPTS: ApplyOptions = ApplyOptions {
    allow_data_loss: false,
    dry_run: false,
};

#[tokio::test]
async fn a_row_that_breaks_a_rule_the_target_tightened_is_a_value_constraint_violation() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    // Valid on dev (0..150), not on main once main tightens the range to 0..100.
    run(graph, "dev", ADD_AGED, json!({"name": "Zed", "age": 120})).await;
    let tightened = SOCIAL_SCHEMA.replace("@range(age, 0..150)", "@range(age, 0..100)");
    graph
        .apply_schema(MAIN, &tightened, NO_OPTS, "admin")
        .await
        .expect("tighten on main");
    let conflicts =
        expect_conflict(graph, "dev", ConflictKind::ValueConstraintViolation, "Zed").await;
    assert!(conflicts[0].message.contains("@range"), "{conflicts:?}");
    // Once the row fits, the same merge goes through, under main's schema.
    run(graph, "dev", SET_AGE, json!({"name": "Zed", "age": 90})).await;
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::Merged);
    assert!(people(graph, MAIN).await.contains(&"Zed:90".to_string()));
    let head = graph.snapshot(None).await.expect("snap");
    assert_eq!(head.manifest.schema_source, tightened);
}

#[tokio::test]
async fn a_branch_that_migrated_its_schema_fast_forwards_main_to_it() {
    let g = TestGraph::social().await;
    let graph = &g.graph;
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    let renamed = SOCIAL_SCHEMA
        .replace("    age: I32?\n", "    years: I32? @rename_from(\"age\")\n")
        .replace("@range(age, 0..150)", "@range(years, 0..150)");
    graph
        .apply_schema("dev", &renamed, NO_OPTS, "t")
        .await
        .expect("migrate dev");
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::FastForward);
    let head = graph.snapshot(None).await.expect("snap");
    assert_eq!(head.manifest.schema_source, renamed);
    let q = CompiledRead::compile(
        &head.catalog,
        QueryText::new(
            "query q() { match { $p: Person { name: \"Alice\" } } return { $p.years } }",
            None,
        ),
    )
    .expect("compile against the merged schema");
    let rows = q
        .run(&head, &Map::new(), &QueryBudget::unlimited())
        .await
        .expect("read");
    assert_eq!(rows.rows[0]["p.years"], json!(30));

    // A three-way merge of a branch that changed its schema is refused, naming why.
    graph
        .create_branch("dev2", MAIN, "t")
        .await
        .expect("create");
    let grown = renamed.replace("joined: Date?", "joined: Date?\n    nickname: String?");
    graph
        .apply_schema("dev2", &grown, NO_OPTS, "t")
        .await
        .expect("migrate dev2");
    run(graph, MAIN, ADD, json!({"name": "Mo"})).await;
    let err = graph.merge("dev2", MAIN, "t").await.expect_err("refused");
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("schema"), "{err}");
}

#[tokio::test]
async fn merging_a_branch_into_itself_or_a_missing_one_is_refused() {
    let g = TestGraph::social().await;
    let err = g.graph.merge(MAIN, MAIN, "t").await.expect_err("itself");
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    let err = g.graph.merge("nope", MAIN, "t").await.expect_err("missing");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
    g.graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("create");
    let err = g
        .graph
        .merge("dev", "nope", "t")
        .await
        .expect_err("missing target");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn concurrent_merges_into_main_from_two_handles_one_wins_the_other_retries_cleanly() {
    let g = TestGraph::social().await;
    let a = g.graph.clone();
    a.create_branch("a", MAIN, "t").await.expect("create");
    a.create_branch("b", MAIN, "t").await.expect("create");
    // Main moves too, so that both merges are three-way and take a while.
    run(&a, MAIN, ADD, json!({ "name": "Main1" })).await;
    run(&a, "a", ADD, json!({ "name": "FromA" })).await;
    run(&a, "b", ADD, json!({ "name": "FromB" })).await;
    let b = Graph::open(a.uri()).await.expect("second handle");
    let (ra, rb) = tokio::join!(a.merge("a", MAIN, "t"), b.merge("b", MAIN, "t"));
    let mut outcomes = vec![];
    for (graph, source, r) in [(&a, "a", ra), (&b, "b", rb)] {
        match r {
            Ok(r) => outcomes.push(r.outcome),
            Err(EngineError::Conflict { .. }) | Err(EngineError::VersionTaken(_)) => {
                // The loser merges again on top of the winner.
                let r = graph.merge(source, MAIN, "t").await.expect("retry");
                assert_eq!(r.outcome, MergeOutcome::Merged);
                outcomes.push(r.outcome);
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(outcomes.len(), 2);
    let merged = people(&a, MAIN).await;
    for want in ["FromA:null", "FromB:null", "Main1:null"] {
        assert!(
            merged.contains(&want.to_string()),
            "{want} missing from {merged:?}"
        );
    }
    let log = a.commits(MAIN, 5).await.expect("log");
    assert_eq!(log[0].parents.len(), 2);
    assert_eq!(
        log[1].parents.len(),
        2,
        "two merge commits in a row: {log:?}"
    );
}

#[tokio::test]
async fn a_three_way_merge_over_many_fragments_applies_each_side_once() {
    // Five loads: five fragments of Person. Each side touches other fragments.
    let g = TestGraph::new(common::SOCIAL_SCHEMA, "").await;
    let graph = &g.graph;
    for f in 0..5 {
        let data: String = (0..20)
            .map(|i| {
                format!(
                    "{{\"type\": \"Person\", \"data\": {{\"name\": \"p{}\", \"age\": 1}}}}\n",
                    f * 20 + i
                )
            })
            .collect();
        g.load(&data, omnigraph_engine::LoadMode::Append).await;
    }
    graph.create_branch("dev", MAIN, "t").await.expect("create");
    run(graph, "dev", SET_AGE, json!({ "name": "p3", "age": 30 })).await;
    run(graph, "dev", DEL, json!({ "name": "p45" })).await;
    run(graph, MAIN, SET_AGE, json!({ "name": "p85", "age": 85 })).await;
    run(graph, MAIN, ADD_AGED, json!({ "name": "q", "age": 9 })).await;
    let r = graph.merge("dev", MAIN, "t").await.expect("merge");
    assert_eq!(r.outcome, MergeOutcome::Merged);
    assert_eq!(
        r.rows_merged, 3,
        "p3 deleted and written again, p45 deleted: {r:?}"
    );
    let merged = people(graph, MAIN).await;
    assert_eq!(merged.len(), 100, "{merged:?}");
    for want in ["p3:30", "p85:85", "q:9", "p0:1", "p99:1"] {
        assert!(merged.contains(&want.to_string()), "{want} missing");
    }
    assert!(!merged.iter().any(|p| p.starts_with("p45:")));
}
