//! CSV and Parquet load files (shared/engine/src/load/formats.rs): one file per type, all
//! of a load's files one change, cells converted by the schema's types, and a refused row
//! named by its file and line with nothing loaded.

use std::sync::Arc;

use crate::common::*;
use arrow::array::{ArrayRef, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use omnigraph_engine::{load_files_on, EngineError, LoadMode, TableFile, TableFormat, TableSource};
use serde_json::json;

fn csv(type_name: &str, label: &str, text: &str) -> TableFile {
    TableFile {
        type_name: type_name.into(),
        label: label.into(),
        format: TableFormat::Csv,
        source: TableSource::Reader(Box::new(std::io::Cursor::new(
            text.to_string().into_bytes(),
        ))),
    }
}

async fn load(g: &TestGraph, files: Vec<TableFile>) -> Result<u64, EngineError> {
    let r = load_files_on(
        &g.graph,
        omnigraph_engine::MAIN,
        files,
        LoadMode::Append,
        "t",
    )
    .await?;
    Ok(r.tables.iter().map(|t| t.rows_loaded).sum())
}

const PEOPLE: &str = "name,age,tags,joined,role\n\
Zed,41,\"[\"\"ops\"\",\"\"go\"\"]\",2021-03-04,admin\n\
Yan,,,,\n\
\"Xu, Jr.\",7,[],2019-12-31,member\n";

const KNOWS: &str = "from,to,since\nZed,Yan,2022-01-01\nYan,Alice,\n";

#[tokio::test]
async fn csv_files_of_nodes_and_edges_load_as_one_change_with_typed_cells() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let n = load(
        &g,
        vec![
            csv("Knows", "knows.csv", KNOWS),
            csv("Person", "people.csv", PEOPLE),
        ],
    )
    .await
    .expect("load");
    assert_eq!(n, 5);
    assert_eq!(g.version().await, before + 1, "one change");
    let rows = g
        .rows(
            "query q() { match { $p: Person } return { $p.name, $p.age, $p.tags, $p.joined, $p.role } order { $p.name asc } }",
            json!({}),
        )
        .await;
    let zed = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["p.name"] == "Zed")
        .cloned()
        .expect("Zed");
    assert_eq!(zed["p.age"], 41);
    assert_eq!(zed["p.tags"], json!(["ops", "go"]));
    assert_eq!(zed["p.joined"], "2021-03-04");
    assert_eq!(zed["p.role"], "admin");
    assert!(g.person_names().await.contains(&"Xu, Jr.".to_string()));
    let knows = g
        .rows(
            "query q() { match { $a: Person { name: \"Yan\" } $a knows $b } return { $b.name } }",
            json!({}),
        )
        .await;
    assert_eq!(knows, json!([{ "b.name": "Alice" }]));
}

#[tokio::test]
async fn a_bad_cell_or_row_loads_nothing_and_names_its_file_line_and_column() {
    let g = TestGraph::social().await;
    let before = (g.version().await, g.person_names().await);
    let bad = "name,age\nOk,1\nBad,3000000000\nAlso,x\n";
    let e = load(&g, vec![csv("Person", "people.csv", bad)])
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, EngineError::Load(_)), "{e}");
    assert!(
        text.contains("line 3: people.csv: column `age`: 3000000000 does not fit in I32"),
        "{text}"
    );
    assert!(
        text.contains("line 4: people.csv: column `age`: `x` is not an integer"),
        "{text}"
    );
    // An endpoint missing from both the graph and the files: found at the end, still named
    // by its file and line.
    let e = load(
        &g,
        vec![
            csv("Person", "people.csv", "name\nNew\n"),
            csv("Knows", "knows.csv", "from,to\nNew,Nobody\n"),
        ],
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("line 2: knows.csv:"), "{e}");
    // A column the type does not have, an edge file without endpoints, an unknown type.
    for (ty, text) in [
        ("Person", "name,height\nA,2\n"),
        ("Knows", "since\n2020-01-01\n"),
        ("Nope", "a\n1\n"),
    ] {
        let e = load(&g, vec![csv(ty, "f.csv", text)]).await.unwrap_err();
        assert!(matches!(e, EngineError::Invalid(_)), "{ty}: {e}");
    }
    assert_eq!(
        (g.version().await, g.person_names().await),
        before,
        "nothing was loaded"
    );
}

/// The Person rows of tests/fixtures/people.parquet.
fn parquet_people() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("age", DataType::Int32, true),
    ]));
    let names: ArrayRef = Arc::new(StringArray::from(vec!["Pia", "Quinn", "Rae"]));
    let ages: ArrayRef = Arc::new(Int32Array::from(vec![Some(33), None, Some(51)]));
    RecordBatch::try_new(schema, vec![names, ages]).expect("batch")
}

fn fixture_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/people.parquet")
}

#[tokio::test]
async fn a_parquet_file_loads_with_its_column_types() {
    // The committed fixture (also sent over HTTP by the end-to-end tests) is these rows:
    // OMNIGRAPH_UPDATE_FIXTURES=1 writes it again.
    let path = fixture_path();
    if std::env::var("OMNIGRAPH_UPDATE_FIXTURES").is_ok() {
        let file = std::fs::File::create(&path).expect("create fixture");
        let batch = parquet_people();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
    let g = TestGraph::social().await;
    let file = TableFile {
        type_name: "Person".into(),
        label: "people.parquet".into(),
        format: TableFormat::Parquet,
        source: TableSource::File(std::fs::File::open(&path).expect("fixture")),
    };
    assert_eq!(load(&g, vec![file]).await.expect("load"), 3);
    let rows = g
        .rows(
            "query q() { match { $p: Person } return { $p.name, $p.age } order { $p.name asc } }",
            json!({}),
        )
        .await;
    let rows = rows.as_array().expect("rows");
    assert!(
        rows.contains(&json!({ "p.name": "Pia", "p.age": 33 })),
        "{rows:?}"
    );
    assert!(
        rows.contains(&json!({ "p.name": "Quinn", "p.age": null })),
        "{rows:?}"
    );
    // Not Parquet at all.
    let mut junk = tempfile::tempfile().expect("tempfile");
    std::io::Write::write_all(&mut junk, b"name,age\n").expect("write");
    let file = TableFile {
        type_name: "Person".into(),
        label: "junk.parquet".into(),
        format: TableFormat::Parquet,
        source: TableSource::File(junk),
    };
    let e = load(&g, vec![file]).await.unwrap_err();
    assert!(
        e.to_string().contains("junk.parquet: not a Parquet file"),
        "{e}"
    );
}
