//! Reading JSONL (shared/engine/src/load/mod.rs): lines are read in chunks and parsed ahead
//! of the loader, which still takes them in order: refusals name their lines across chunks,
//! an input that fails part-way ends the file with the lines before it taken, edges may
//! name nodes of a later chunk, and a refused load publishes nothing.

use crate::common;

use common::*;
use omnigraph_engine::LoadMode;
use serde_json::json;

const SCHEMA: &str = r#"
node Person { uid: String @key  age: I32? }
edge Knows: Person -> Person
"#;

fn person(i: usize) -> String {
    format!(
        "{{\"type\":\"Person\",\"data\":{{\"uid\":\"p{i}\",\"age\":{}}}}}\n",
        i % 90
    )
}

async fn person_count(g: &TestGraph) -> u64 {
    let rows = g
        .rows(
            "query q() { match { $p: Person } return { count($p) as n } }",
            json!({}),
        )
        .await;
    rows[0]["n"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn refusals_in_later_chunks_name_their_lines_in_order_and_nothing_is_published() {
    let g = TestGraph::new(SCHEMA, "").await;
    let before = g.version().await;
    let mut text = String::new();
    for i in 1..=10_000 {
        match i {
            5_000 => {
                text.push_str("{\"type\":\"Person\",\"data\":{\"uid\":\"bad\",\"age\":\"old\"}}\n")
            }
            9_001 => text.push_str("not json\n"),
            // Blank lines count as lines.
            7_000 => text.push('\n'),
            _ => text.push_str(&person(i)),
        }
    }
    let errors = g.load_errors(text.as_bytes(), LoadMode::Append).await;
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        [5_000, 9_001],
        "{errors:?}"
    );
    assert!(errors[0].1.contains("expected I32"), "{errors:?}");
    assert!(errors[1].1.contains("invalid JSON"), "{errors:?}");
    assert_eq!(g.version().await, before);
    assert_eq!(person_count(&g).await, 0);
}

#[tokio::test]
async fn an_input_that_fails_part_way_ends_the_file_after_the_lines_before_it() {
    let g = TestGraph::new(SCHEMA, "").await;
    let before = g.version().await;
    let mut bytes = Vec::new();
    for i in 1..6_000 {
        if i == 100 {
            bytes.extend_from_slice(b"{\"type\":\"Robot\",\"data\":{}}\n");
        } else {
            bytes.extend_from_slice(person(i).as_bytes());
        }
    }
    // Line 6000 is not UTF-8: reading it fails.
    bytes.extend_from_slice(b"{\"type\":\"Person\",\"data\":{\"uid\":\"\xff\xfe\"}}\n");
    bytes.extend_from_slice(person(6_001).as_bytes());
    let errors = g.load_errors(bytes.as_slice(), LoadMode::Append).await;
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        [100, 6_000],
        "{errors:?}"
    );
    assert!(errors[0].1.contains("unknown node type"), "{errors:?}");
    assert!(errors[1].1.contains("unreadable line"), "{errors:?}");
    assert_eq!(g.version().await, before);
    assert_eq!(person_count(&g).await, 0);
}

#[tokio::test]
async fn edges_may_name_nodes_that_come_chunks_later() {
    let g = TestGraph::new(SCHEMA, "").await;
    let mut text = String::new();
    for i in 0..9_000 {
        text.push_str(&format!(
            "{{\"edge\":\"Knows\",\"from\":\"p{i}\",\"to\":\"p{}\"}}\n",
            (i + 1) % 9_000
        ));
    }
    for i in 0..9_000 {
        text.push_str(&person(i));
    }
    g.load(&text, LoadMode::Overwrite).await;
    assert_eq!(person_count(&g).await, 9_000);
    let rows = g
        .rows(
            "query q() { match { $a: Person { uid: \"p8999\" } $a knows $b } return { $b.uid } }",
            json!({}),
        )
        .await;
    assert_eq!(rows, json!([{"b.uid": "p0"}]));
    // A dangling endpoint is still refused, with its line.
    let errors = g
        .load_errors(
            "{\"edge\":\"Knows\",\"from\":\"p1\",\"to\":\"nobody\"}\n".as_bytes(),
            LoadMode::Append,
        )
        .await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 1);
    assert!(errors[0].1.contains("does not exist"), "{errors:?}");
}
