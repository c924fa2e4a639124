//! Reads after writes: random mutations interleaved with random queries, every answer compared
//! with the naive evaluator on a mirror of the graph. The per-version query data is patched
//! from the previous version after each write, so this pins that patching is never stale.

use crate::common;

use common::random_graph::*;
use common::TestGraph;
use omnigraph_engine::query::cache::table_data_cache;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Op {
    InsertPerson { i: usize, age: Option<i32> },
    DeletePerson { i: usize },
    UpdateAge { i: usize, age: Option<i32> },
    InsertKnows { a: usize, b: usize },
    DeleteKnowsFrom { a: usize },
    InsertWorks { a: usize, c: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let age = proptest::option::weighted(0.8, 0i32..4);
    prop_oneof![
        (0usize..8, age.clone()).prop_map(|(i, age)| Op::InsertPerson { i, age }),
        (0usize..8).prop_map(|i| Op::DeletePerson { i }),
        (0usize..8, age).prop_map(|(i, age)| Op::UpdateAge { i, age }),
        (0usize..8, 0usize..8).prop_map(|(a, b)| Op::InsertKnows { a, b }),
        (0usize..8).prop_map(|a| Op::DeleteKnowsFrom { a }),
        (0usize..8, 0usize..3).prop_map(|(a, c)| Op::InsertWorks { a, c }),
    ]
}

fn present(spec: &GraphSpec, i: usize) -> bool {
    spec.present.get(i).copied().unwrap_or(false)
}

/// Apply `op` to the mirror and return the mutation that does the same to the graph, or None
/// when the op does not apply to the current state (it would be refused).
fn apply(spec: &mut GraphSpec, op: &Op) -> Option<(&'static str, Value)> {
    match *op {
        Op::InsertPerson { i, age } if !present(spec, i) => {
            if spec.ages.len() <= i {
                spec.ages.resize(i + 1, None);
                spec.present.resize(i + 1, false);
            }
            spec.ages[i] = age;
            spec.present[i] = true;
            Some((
                "query q($n: String, $a: I32?) { insert Person { name: $n, age: $a } }",
                json!({"n": person(i), "a": age}),
            ))
        }
        Op::DeletePerson { i } if present(spec, i) => {
            spec.present[i] = false;
            spec.knows.retain(|(a, b)| *a != i && *b != i);
            spec.works.retain(|(a, _)| *a != i);
            Some((
                "query q($n: String) { delete Person where name = $n }",
                json!({"n": person(i)}),
            ))
        }
        Op::UpdateAge { i, age } if present(spec, i) => {
            spec.ages[i] = age;
            Some((
                "query q($n: String, $a: I32?) { update Person set { age: $a } where name = $n }",
                json!({"n": person(i), "a": age}),
            ))
        }
        Op::InsertKnows { a, b } if present(spec, a) && present(spec, b) => {
            spec.knows.push((a, b));
            Some((
                "query q($a: String, $b: String) { insert Knows { from: $a, to: $b } }",
                json!({"a": person(a), "b": person(b)}),
            ))
        }
        Op::DeleteKnowsFrom { a } => {
            spec.knows.retain(|(x, _)| *x != a);
            Some((
                "query q($a: String) { delete Knows where from = $a }",
                json!({"a": person(a)}),
            ))
        }
        Op::InsertWorks { a, c } if present(spec, a) && c < spec.companies => {
            spec.works.push((a, c));
            Some((
                "query q($a: String, $c: String) { insert WorksAt { from: $a, to: $c } }",
                json!({"a": person(a), "c": company(c)}),
            ))
        }
        _ => None,
    }
}

#[test]
fn reads_after_random_writes_match_the_naive_evaluator() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let steps = proptest::collection::vec((op(), query_spec(), query_spec()), 1..8);
    runner
        .run(&(graph_spec(), steps), |(mut spec, steps)| {
            rt.block_on(async {
                let g = TestGraph::new(SCHEMA, &spec.jsonl()).await;
                for (op, q1, q2) in &steps {
                    if let Some((text, params)) = apply(&mut spec, op) {
                        g.try_mutate(text, params)
                            .await
                            .map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
                    }
                    for q in [q1, q2] {
                        check(&g, &spec, q)
                            .await
                            .map_err(|e| TestCaseError::fail(format!("after {op:?}:\n{e}")))?;
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    let counters = table_data_cache().counters();
    eprintln!("table data: {counters:?}");
    assert!(counters.patched > 0, "{counters:?}");
}

/// A table that takes writes all day gets a new version with every write, and reads cache
/// each: the cache keeps a few versions of the table, not every one (a worker's memory grew
/// by 2 GiB, and each insert slowed down, after a few thousand inserts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_a_few_versions_of_a_table_that_takes_writes() {
    use omnigraph_engine::query::cache::VERSIONS_PER_TABLE;
    let g = TestGraph::social().await;
    let uri = g.graph.location().uri.clone();
    let add = "query add($n: String) { insert Person { name: $n, age: 20 } }";
    let get = "query get($n: String) { match { $p: Person { name: $n } } return { $p.age } }";
    for i in 0..40 {
        g.mutate(add, serde_json::json!({"n": format!("p{i}")}))
            .await;
        let rows = g.rows(get, serde_json::json!({"n": format!("p{i}")})).await;
        assert_eq!(rows, serde_json::json!([{"p.age": 20}]), "after insert {i}");
    }
    let cached = table_data_cache().entries_under(&uri);
    // The reads touch the Person table only: its last few versions are all that is cached.
    assert!(
        (1..=VERSIONS_PER_TABLE).contains(&cached),
        "{cached} cached versions of the graph's tables after 40 writes with reads between"
    );
    // An older version read after its eviction is built again, right.
    let early = g.version().await - 30;
    let at_early = g
        .try_read_at(get, serde_json::json!({"n": "p5"}), Some(early))
        .await
        .expect("read at an older version");
    assert_eq!(at_early.rows.len(), 1, "{:?}", at_early.rows);
    assert_eq!(at_early.rows[0]["p.age"], serde_json::json!(20));
    let absent = g
        .try_read_at(get, serde_json::json!({"n": "p20"}), Some(early))
        .await
        .expect("read at an older version");
    assert!(
        absent.rows.is_empty(),
        "p20 was inserted after version {early}"
    );
}
