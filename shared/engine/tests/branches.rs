//! Branches and commits: isolation, cheap creation, history, reads at a commit, and what
//! a second handle (another process) sees.

use crate::common;

use std::sync::Arc;

use common::{TestGraph, SOCIAL_SCHEMA};
use omnigraph_engine::branch::{commit_id, parse_commit_id, validate_branch_name};
use omnigraph_engine::{
    CompiledMutation, CompiledRead, EngineError, Graph, LoadMode, QueryBudget, QueryText, MAIN,
};
use serde_json::{Map, Value};

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const ADD: &str = "query add($name: String) { insert Person { name: $name } }";

async fn names_on(graph: &Arc<Graph>, branch: &str) -> Vec<String> {
    let snap = graph.snapshot_on(branch, None).await.expect("snapshot");
    names_in(&snap).await
}

async fn names_in(snap: &omnigraph_engine::Snapshot) -> Vec<String> {
    let q = CompiledRead::compile(&snap.catalog, QueryText::new(NAMES, None)).expect("compile");
    let r = q
        .run(snap, &Map::new(), &QueryBudget::unlimited())
        .await
        .expect("read");
    r.rows
        .iter()
        .map(|row| row["p.name"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn add_on(graph: &Arc<Graph>, branch: &str, name: &str) -> Result<u64, EngineError> {
    let snap = graph.snapshot_on(branch, None).await?;
    let q = CompiledMutation::compile(&snap.catalog, QueryText::new(ADD, None))?;
    let mut params = Map::new();
    params.insert("name".into(), Value::String(name.into()));
    let r = q.run(&snap, &params, "test").await?;
    Ok(r.version)
}

#[tokio::test]
async fn a_write_on_a_branch_is_invisible_on_main_and_the_other_way_round() {
    let g = TestGraph::social().await;
    let before = names_on(&g.graph, MAIN).await;
    g.graph
        .create_branch("agent/alice", MAIN, "alice")
        .await
        .expect("create");
    assert_eq!(names_on(&g.graph, "agent/alice").await, before);

    add_on(&g.graph, "agent/alice", "Zed")
        .await
        .expect("write on branch");
    add_on(&g.graph, MAIN, "Amy").await.expect("write on main");
    let on_main = names_on(&g.graph, MAIN).await;
    let on_branch = names_on(&g.graph, "agent/alice").await;
    assert!(on_main.contains(&"Amy".into()) && !on_main.contains(&"Zed".into()));
    assert!(on_branch.contains(&"Zed".into()) && !on_branch.contains(&"Amy".into()));

    // Loads too.
    let line = "{\"type\": \"Person\", \"data\": {\"name\": \"Lou\"}}\n";
    omnigraph_engine::load_on(
        &g.graph,
        "agent/alice",
        line.as_bytes(),
        LoadMode::Append,
        "t",
    )
    .await
    .expect("load on branch");
    assert!(names_on(&g.graph, "agent/alice")
        .await
        .contains(&"Lou".into()));
    assert!(!names_on(&g.graph, MAIN).await.contains(&"Lou".into()));

    // Another handle (another process) sees the same.
    let other = Graph::open(g.graph.uri()).await.expect("open");
    assert_eq!(
        names_on(&other, "agent/alice").await,
        names_on(&g.graph, "agent/alice").await
    );
    assert_eq!(names_on(&other, MAIN).await, on_main);
}

#[tokio::test]
async fn creating_a_branch_shares_every_table_version_and_writes_three_small_objects() {
    let g = TestGraph::social().await;
    let main = g.graph.snapshot(None).await.expect("snapshot");
    let r = g
        .graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("create");
    let branch = g.graph.snapshot_on("dev", None).await.expect("snapshot");
    assert_eq!(
        branch.manifest.tables, main.manifest.tables,
        "no table copied"
    );
    assert_eq!(branch.version(), main.version());
    assert_eq!(
        branch.commit_id(),
        main.commit_id(),
        "the branch head is main's commit"
    );
    assert_eq!(r.forked_from, main.commit_id());
    if g.graph.location().is_local() {
        let root = std::path::Path::new(g.graph.uri());
        let count = |dir: &str| walk(&root.join(dir));
        assert_eq!(
            count("_branches"),
            2,
            "one manifest and its latest-version hint"
        );
        assert_eq!(count("_refs"), 1, "one ref");
    }
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test]
async fn branch_errors_missing_duplicate_bad_name_and_main() {
    let g = TestGraph::social().await;
    let err = add_on(&g.graph, "nope", "Zed")
        .await
        .expect_err("missing branch");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
    let err = g
        .graph
        .snapshot_on("nope", None)
        .await
        .err()
        .expect("missing");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
    let err = g
        .graph
        .create_branch("x", "nope", "t")
        .await
        .expect_err("missing source");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");

    g.graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("create");
    for name in ["dev", MAIN] {
        let err = g
            .graph
            .create_branch(name, MAIN, "t")
            .await
            .expect_err("duplicate");
        assert!(matches!(err, EngineError::AlreadyExists(_)), "{err}");
    }
    for bad in ["", "a//b", "../x", "a b", "merge"] {
        let err = g
            .graph
            .create_branch(bad, MAIN, "t")
            .await
            .expect_err("bad name");
        assert!(matches!(err, EngineError::Invalid(_)), "{bad}: {err}");
    }
    let err = g.graph.delete_branch(MAIN).await.expect_err("main");
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    let err = g.graph.delete_branch("nope").await.expect_err("missing");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn commits_list_history_with_parents_and_reads_at_a_commit_see_that_version() {
    let g = TestGraph::social().await;
    let start = g.graph.snapshot(None).await.expect("snapshot").commit_id();
    add_on(&g.graph, MAIN, "Amy").await.expect("write");
    g.graph
        .create_branch("dev", MAIN, "bob")
        .await
        .expect("create");
    add_on(&g.graph, "dev", "Zed").await.expect("write");
    add_on(&g.graph, "dev", "Yan").await.expect("write");

    let main_log = g.graph.commits(MAIN, 100).await.expect("log");
    let dev_log = g.graph.commits("dev", 100).await.expect("log");
    assert_eq!(
        dev_log.len(),
        main_log.len() + 2,
        "two commits on dev, then main's"
    );
    assert_eq!(
        &dev_log[2..],
        &main_log[..],
        "dev's history continues into main's"
    );
    assert_eq!(dev_log[0].parents, vec![dev_log[1].id.clone()]);
    assert_eq!(dev_log[1].parents, vec![main_log[0].id.clone()]);
    assert!(main_log.iter().any(|c| c.id == start));
    assert!(
        main_log.last().expect("first").parents.is_empty(),
        "the first version has no parent"
    );
    assert_eq!(
        g.graph.commits("dev", 1).await.expect("log").len(),
        1,
        "limit"
    );

    // A read at the commit before Yan sees Zed but not Yan.
    let snap = g
        .graph
        .snapshot_at_commit(&dev_log[1].id)
        .await
        .expect("at commit");
    let names = names_in(&snap).await;
    assert!(names.contains(&"Zed".into()) && !names.contains(&"Yan".into()));
    let (commit, manifest) = g.graph.commit(&dev_log[0].id).await.expect("commit");
    assert_eq!(commit, dev_log[0]);
    assert_eq!(manifest.version, commit.manifest_version);

    // Every version in dev's history reads on dev, including those before its fork
    // (versions of main), and those of a branch of dev that predate both forks.
    for c in &dev_log {
        let snap = g
            .graph
            .snapshot_on("dev", Some(c.manifest_version))
            .await
            .unwrap_or_else(|e| panic!("version {} on dev: {e}", c.manifest_version));
        assert_eq!(snap.commit_id(), c.id, "version {}", c.manifest_version);
    }
    g.graph
        .create_branch("dev/sub", "dev", "t")
        .await
        .expect("branch of a branch");
    let oldest = dev_log.last().expect("first commit");
    let snap = g
        .graph
        .snapshot_on("dev/sub", Some(oldest.manifest_version))
        .await
        .expect("main's first version through two forks");
    assert_eq!(snap.commit_id(), oldest.id);
    assert!(names_in(&snap)
        .await
        .iter()
        .all(|n| n != "Amy" && n != "Zed"));
    let err = g
        .graph
        .snapshot_on("dev", Some(999))
        .await
        .err()
        .expect("no such version");
    assert!(matches!(err, EngineError::NotFound(_)), "{err}");

    // Deleting the branch keeps its commits readable by id.
    g.graph.delete_branch("dev").await.expect("delete");
    assert!(g.graph.snapshot_on("dev", None).await.is_err());
    assert!(g.graph.snapshot_at_commit(&dev_log[0].id).await.is_ok());
    for bad in ["nope", "main.999", "abc.1"] {
        assert!(g.graph.commit(bad).await.is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_name_deleted_and_created_again_is_a_new_branch_for_every_handle() {
    let g = TestGraph::social().await;
    let other = Graph::open(g.graph.uri()).await.expect("second handle");
    g.graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("create");
    add_on(&other, "dev", "Old")
        .await
        .expect("write through the other handle");
    g.graph.delete_branch("dev").await.expect("delete");
    g.graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("again");
    add_on(&other, "dev", "New")
        .await
        .expect("write to the new branch");
    let names = names_on(&g.graph, "dev").await;
    assert!(
        names.contains(&"New".into()) && !names.contains(&"Old".into()),
        "{names:?}"
    );
    let listed: Vec<String> = g
        .graph
        .branches()
        .await
        .expect("list")
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(listed, ["dev"]);
}

#[tokio::test]
async fn concurrent_writers_on_one_branch_from_two_handles_lose_nothing_acknowledged() {
    let g = TestGraph::new(SOCIAL_SCHEMA, "").await;
    g.graph
        .create_branch("agent/a", MAIN, "t")
        .await
        .expect("create");
    let handles = [
        g.graph.clone(),
        Graph::open(g.graph.uri()).await.expect("open"),
    ];
    let mut tasks = vec![];
    for (h, graph) in handles.iter().enumerate() {
        for i in 0..6 {
            let graph = graph.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("h{h}-{i}");
                add_on(&graph, "agent/a", &name).await.ok().map(|_| name)
            }));
        }
    }
    let mut acked = vec![];
    for t in tasks {
        if let Some(name) = t.await.expect("task") {
            acked.push(name);
        }
    }
    assert!(!acked.is_empty());
    let names = names_on(&g.graph, "agent/a").await;
    for name in &acked {
        assert!(names.contains(name), "{name} acknowledged but missing");
    }
    assert!(names_on(&g.graph, MAIN).await.is_empty(), "main untouched");
}

#[test]
fn branch_names() {
    for ok in ["dev", "agent/alice", "release-1.2", "a_b/c.d/e"] {
        assert!(validate_branch_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a//b",
        "/a",
        "a/",
        "a/../b",
        "..",
        "a b",
        "a~b",
        "ü",
        &"x".repeat(201),
    ] {
        assert!(validate_branch_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn commit_ids_round_trip_and_bad_ones_are_refused() {
    assert_eq!(parse_commit_id("main.7").unwrap(), ("main".into(), 7));
    assert_eq!(
        parse_commit_id(&commit_id("0a1b2c3d4e5f", 12)).unwrap(),
        ("0a1b2c3d4e5f".into(), 12)
    );
    for bad in [
        "", "main", "main.", "main.0", "x.1", "../x.1", "main.-1", "ABCG.3",
    ] {
        assert!(parse_commit_id(bad).is_err(), "{bad}");
    }
}
