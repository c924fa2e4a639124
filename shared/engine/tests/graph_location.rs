//! One uri, one location; a graph owns its location: created only where nothing is
//! stored, purged of only what it wrote; and a handle of a graph that was deleted (and
//! perhaps created again at the same uri) never reads or publishes through it again.

use crate::common;

use std::path::Path;

use omnigraph_engine::location::GraphLocation;
use omnigraph_engine::{
    load, purge, write_tombstone, EngineError, Graph, LoadMode, Snapshot, StorageError, Tombstone,
};

const SCHEMA: &str = "node Person { name: String @key }\n";

fn person(name: &str) -> String {
    format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"{name}\"}}}}\n")
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn person_count(snapshot: &Snapshot) -> u64 {
    snapshot.row_count(&omnigraph_engine::TableKey::node("Person"))
}

#[tokio::test]
async fn percent_encoding_and_dot_segments_never_split_a_graph_across_two_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("r");
    std::fs::create_dir_all(&root).expect("mkdir");
    let r = root.to_string_lossy();
    for uri in [
        format!("file://{r}/%2e%2e/g.omni"),
        format!("{r}/%2e%2e/g.omni"),
        format!("{r}/a%20b.omni"),
        format!("{r}/x?.omni"),
        format!("{r}/x#y.omni"),
        "s3://b/graphs/%2e%2e/other/x.omni".to_owned(),
        "s3://b/graphs/../other/x.omni".to_owned(),
        "s3://b/graphs/./x.omni".to_owned(),
        "s3://b/graphs//x.omni".to_owned(),
    ] {
        let err = GraphLocation::parse(&uri).err();
        assert!(
            matches!(err, Some(StorageError::Invalid(_))),
            "{uri}: {err:?}"
        );
        let err = Graph::init(&uri, SCHEMA, "test").await.err();
        assert!(
            matches!(err, Some(EngineError::Invalid(_))),
            "{uri}: {err:?}"
        );
    }
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "files written"
    );

    // Dot segments of a local path are resolved once, for the engine and Lance alike.
    let dotted = format!("file://{r}/sub/../g.omni");
    let loc = GraphLocation::parse(&dotted).expect("parse");
    assert_eq!(loc.uri, format!("{r}/g.omni"));
    let g = Graph::init(&dotted, SCHEMA, "test").await.expect("init");
    load(&g, person("Ada").as_bytes(), LoadMode::Append, "test")
        .await
        .expect("load");
    let files = files_under(dir.path());
    assert!(
        files.iter().all(|f| f.starts_with(&format!("{r}/g.omni/"))),
        "{files:#?}"
    );
    let reopened = Graph::open(&format!("{r}/g.omni")).await.expect("open");
    assert_eq!(
        person_count(&reopened.snapshot(None).await.expect("read")),
        1
    );
}

#[tokio::test]
async fn init_refuses_a_location_that_is_not_empty_and_leaves_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("home");
    std::fs::create_dir_all(g.join("nodes")).expect("mkdir");
    std::fs::write(g.join("notes.txt"), "mine").expect("write");
    std::fs::write(g.join("nodes").join("photo.jpg"), "mine too").expect("write");
    let before = files_under(&g);
    let uri = g.to_string_lossy().into_owned();

    let err = Graph::init(&uri, SCHEMA, "test")
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(files_under(&g), before);

    // An existing empty folder, and a missing one, are fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    Graph::init(&empty.to_string_lossy(), SCHEMA, "test")
        .await
        .expect("init in an empty folder");
    Graph::init(&common::graph_uri(&dir, "new.omni"), SCHEMA, "test")
        .await
        .expect("init in a missing folder");
}

#[tokio::test]
async fn a_purge_keeps_every_file_the_graph_did_not_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("g.omni");
    let uri = g.to_string_lossy().into_owned();
    let graph = Graph::init(&uri, SCHEMA, "test").await.expect("init");
    load(&graph, person("Ada").as_bytes(), LoadMode::Append, "test")
        .await
        .expect("load");
    graph
        .create_branch("agent/x", "main", "test")
        .await
        .expect("branch");
    let foreign = [
        "README.txt",
        "nodes/notes.txt",
        "nodes/Person.lance/data.bin",
        "nodes/Person.ABCDEF123456.lance/x.bin",
        "edges/keep/me.bin",
        "_manifest/keep.txt",
        "_manifest/1.json",
        "_branches/notes/00000000000000000001.json",
        "_refs/branches/notes.txt",
        "_incarnation/mine",
    ];
    for f in foreign {
        let path = g.join(f);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "not the graph's").expect("write");
    }

    write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    purge(&uri, None).await.expect("purge");
    let mut expected: Vec<String> = foreign
        .iter()
        .map(|f| g.join(f).to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert_eq!(files_under(&g), expected, "left after the purge");
}

#[tokio::test]
async fn a_handle_of_a_graph_deleted_purged_and_created_again_neither_reads_nor_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = common::graph_uri(&dir, "g.omni");
    let old = Graph::init(&uri, SCHEMA, "test").await.expect("init");
    for name in ["Old1", "Old2", "Old3"] {
        load(&old, person(name).as_bytes(), LoadMode::Append, "test")
            .await
            .expect("load");
    }
    let stale_reader = Graph::open(&uri).await.expect("open");
    assert_eq!(
        person_count(&stale_reader.snapshot(None).await.expect("read")),
        3
    );

    write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    purge(&uri, None).await.expect("purge");
    let new = Graph::init(&uri, SCHEMA, "test").await.expect("re-init");
    assert_ne!(new.incarnation(), old.incarnation());
    load(&new, person("New1").as_bytes(), LoadMode::Append, "test")
        .await
        .expect("load into the new graph");

    let err = load(&old, person("Stale").as_bytes(), LoadMode::Append, "test")
        .await
        .err()
        .expect("a stale handle must not publish");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
    assert!(err.to_string().contains("created again"), "{err}");
    assert!(old.is_stale());
    let err = old.snapshot(None).await.err().expect("stale: no reads");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");

    // A reader checks at most once a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = stale_reader.snapshot(None).await.err().expect("stale read");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
    assert!(stale_reader.is_stale());

    let fresh = Graph::open(&uri).await.expect("open the new graph");
    let head = fresh.snapshot(None).await.expect("read");
    assert_eq!(head.version(), 2, "nothing published into the new graph");
    assert_eq!(person_count(&head), 1);
}

#[tokio::test]
async fn a_deleted_graph_refuses_the_handles_opened_before_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = common::graph_uri(&dir, "g.omni");
    let graph = Graph::init(&uri, SCHEMA, "test").await.expect("init");
    write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    let err = load(&graph, person("Ada").as_bytes(), LoadMode::Append, "test")
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
    let err = graph
        .create_branch("b", "main", "test")
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
}

/// A graph created before incarnations existed: manifests without one, no marker.
#[tokio::test]
async fn a_graph_created_before_incarnations_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("old.omni");
    let uri = g.to_string_lossy().into_owned();
    let graph = Graph::init(&uri, SCHEMA, "test").await.expect("init");
    load(&graph, person("Ada").as_bytes(), LoadMode::Append, "test")
        .await
        .expect("load");
    drop(graph);
    std::fs::remove_dir_all(g.join("_incarnation")).expect("remove marker");
    for entry in std::fs::read_dir(g.join("_manifest"))
        .expect("manifests")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            let mut m: serde_json::Value = serde_json::from_str(&text).expect("json");
            m.as_object_mut().expect("object").remove("incarnation");
            std::fs::write(&path, m.to_string()).expect("write");
        }
    }

    let graph = Graph::open(&uri).await.expect("open");
    assert_eq!(graph.incarnation(), None);
    load(&graph, person("Bob").as_bytes(), LoadMode::Append, "test")
        .await
        .expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(person_count(&graph.snapshot(None).await.expect("read")), 2);
    graph
        .create_branch("b", "main", "test")
        .await
        .expect("branch");

    write_tombstone(&uri, &Tombstone::now("old", "alice"))
        .await
        .expect("tombstone");
    let err = load(&graph, person("Cy").as_bytes(), LoadMode::Append, "test")
        .await
        .err()
        .expect("refused after the delete");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
    purge(&uri, None).await.expect("purge");
    assert_eq!(files_under(&g), Vec::<String>::new());
}
