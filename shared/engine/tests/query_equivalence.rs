//! Randomised equivalence: random small graphs and random queries, the engine's answer
//! compared with the naive evaluator of `common::random_graph`.

use crate::common;

use common::random_graph::*;
use common::TestGraph;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[test]
fn random_queries_match_the_naive_evaluator() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = (graph_spec(), proptest::collection::vec(query_spec(), 8));
    runner
        .run(&strategy, |(spec, queries)| {
            rt.block_on(async {
                let g = TestGraph::new(SCHEMA, &spec.jsonl()).await;
                for q in &queries {
                    check(&g, &spec, q).await.map_err(TestCaseError::fail)?;
                }
                Ok(())
            })
        })
        .unwrap();
}
