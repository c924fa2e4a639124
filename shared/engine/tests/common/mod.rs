//! Helpers shared by the engine's integration tests: small graphs in temp dirs, and running
//! query text against them.
#![allow(dead_code)]

pub mod random_graph;

use std::sync::Arc;

use omnigraph_engine::{
    EngineError, Graph, LoadMode, MutationReport, QueryBudget, QueryResult, QueryText, ReadAt, MAIN,
};
use serde_json::{json, Map, Value};

/// The social schema of the end-to-end fixtures, plus a few properties for filters.
pub const SOCIAL_SCHEMA: &str = r#"
node Person {
    name: String @key
    age: I32?
    email: String? @unique
    tags: [String]?
    role: enum(admin, member)?
    joined: Date?
    @range(age, 0..150)
}
node Company {
    name: String @key
    code: String?
    @check(code, "^[A-Z]{3}$")
}
edge Knows: Person -> Person { since: Date? }
edge WorksAt: Person -> Company @card(0..1)
"#;

/// The small social graph (as in tests/fixtures/social.jsonl): Alice->Bob, Alice->Charlie, Bob->Diana.
pub const SOCIAL_DATA: &str = r#"{"type": "Person", "data": {"name": "Alice", "age": 30, "email": "alice@example.com", "tags": ["ops", "rust"], "role": "admin", "joined": "2020-01-15"}}
{"type": "Person", "data": {"name": "Bob", "age": 25, "email": "bob@example.com", "role": "member"}}
{"type": "Person", "data": {"name": "Charlie", "age": 35}}
{"type": "Person", "data": {"name": "Diana", "age": 17, "role": "member"}}
{"type": "Company", "data": {"name": "Acme", "code": "ACM"}}
{"type": "Company", "data": {"name": "Globex"}}
{"edge": "Knows", "from": "Alice", "to": "Bob", "data": {"since": "2020-01-01"}}
{"edge": "Knows", "from": "Alice", "to": "Charlie"}
{"edge": "Knows", "from": "Bob", "to": "Diana"}
{"edge": "WorksAt", "from": "Alice", "to": "Acme"}
{"edge": "WorksAt", "from": "Bob", "to": "Acme"}
{"edge": "WorksAt", "from": "Charlie", "to": "Globex"}
"#;

/// Where a test graph lives: `name` inside the test's temp dir, or, when
/// `OMNIGRAPH_TEST_STORAGE` names an object-store prefix (`tests/s3/run.sh` sets it to an
/// `s3://` bucket of a server it started), under that prefix in a folder named after the
/// temp dir, so that tests running at once never share a graph.
pub fn graph_uri(dir: &tempfile::TempDir, name: &str) -> String {
    match std::env::var("OMNIGRAPH_TEST_STORAGE") {
        Ok(root) if !root.trim().is_empty() => {
            let unique = dir
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}/{unique}/{name}", root.trim().trim_end_matches('/'))
        }
        _ => dir.path().join(name).to_string_lossy().into_owned(),
    }
}

pub struct TestGraph {
    pub dir: tempfile::TempDir,
    pub graph: Arc<Graph>,
}

impl TestGraph {
    pub async fn new(schema: &str, data: &str) -> TestGraph {
        let dir = tempfile::tempdir().expect("tempdir");
        let uri = graph_uri(&dir, "g.omni");
        let graph = Graph::init(&uri, schema, "test").await.expect("init graph");
        if !data.trim().is_empty() {
            omnigraph_engine::load(&graph, data.as_bytes(), LoadMode::Overwrite, "test")
                .await
                .expect("load data");
        }
        TestGraph { dir, graph }
    }

    pub async fn social() -> TestGraph {
        TestGraph::new(SOCIAL_SCHEMA, SOCIAL_DATA).await
    }

    /// The refused lines (number, reason) of a load that must be refused line by line.
    pub async fn load_errors(
        &self,
        input: impl std::io::BufRead + Send,
        mode: LoadMode,
    ) -> Vec<(u64, String)> {
        match omnigraph_engine::load(&self.graph, input, mode, "test").await {
            Err(EngineError::Load(lines)) => {
                lines.into_iter().map(|l| (l.line, l.message)).collect()
            }
            other => panic!("expected line errors, got {other:?}"),
        }
    }

    pub async fn load(&self, data: &str, mode: LoadMode) {
        omnigraph_engine::load(&self.graph, data.as_bytes(), mode, "test")
            .await
            .expect("load data");
    }

    /// Run a read (at `version`, or the latest) and return its result.
    pub async fn try_read_at(
        &self,
        text: &str,
        params: Value,
        version: Option<u64>,
    ) -> Result<QueryResult, EngineError> {
        let at = ReadAt::Branch {
            branch: MAIN,
            version,
        };
        let text = QueryText::new(text, None);
        let budget = QueryBudget::unlimited();
        let answer =
            omnigraph_engine::read(&self.graph, at, text, &as_map(params), &budget).await?;
        Ok(answer.result)
    }

    pub async fn read(&self, text: &str, params: Value) -> QueryResult {
        self.try_read_at(text, params, None)
            .await
            .unwrap_or_else(|e| panic!("query failed: {e}\n{text}"))
    }

    /// The rows as one JSON array, for exact comparisons.
    pub async fn rows(&self, text: &str, params: Value) -> Value {
        Value::Array(
            self.read(text, params)
                .await
                .rows
                .into_iter()
                .map(Value::Object)
                .collect(),
        )
    }

    pub async fn try_mutate(
        &self,
        text: &str,
        params: Value,
    ) -> Result<MutationReport, EngineError> {
        let text = QueryText::new(text, None);
        let answer =
            omnigraph_engine::change(&self.graph, MAIN, text, &as_map(params), "test").await?;
        Ok(answer.report)
    }

    pub async fn mutate(&self, text: &str, params: Value) -> MutationReport {
        self.try_mutate(text, params)
            .await
            .unwrap_or_else(|e| panic!("mutation failed: {e}\n{text}"))
    }

    pub async fn version(&self) -> u64 {
        self.graph.snapshot(None).await.expect("snapshot").version()
    }

    /// Names of the Lance indexes of `table` at the head, sorted.
    pub async fn index_names(&self, table: omnigraph_engine::TableKey) -> Vec<String> {
        use lance::index::DatasetIndexExt;
        let snap = self.graph.snapshot(None).await.expect("snapshot");
        let ds = snap.table(&table).await.expect("table");
        let mut names: Vec<String> = ds
            .load_indices()
            .await
            .expect("indices")
            .iter()
            .map(|i| i.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Names of all persons, in key order.
    pub async fn person_names(&self) -> Vec<String> {
        let r = self
            .read(
                "query q() { match { $p: Person } return { $p.name } }",
                json!({}),
            )
            .await;
        r.rows
            .iter()
            .map(|row| row["p.name"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// The graph's head exported (the load format), lines sorted, for whole-graph comparisons.
pub async fn export_sorted(graph: &Arc<Graph>) -> Vec<String> {
    let snap = graph.snapshot(None).await.expect("snapshot");
    let mut out = Vec::new();
    omnigraph_engine::export(&snap, &Default::default(), &mut out)
        .await
        .expect("export");
    let mut lines: Vec<String> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

pub fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("params must be an object, got {other}"),
    }
}
