//! Deleted graphs: the tombstone is honoured by open and init, written once, and a purge
//! removes exactly the graph's own objects.

use crate::common;

use std::path::Path;

use omnigraph_engine::{purge, read_tombstone, write_tombstone, EngineError, Graph, Tombstone};

const SCHEMA: &str = "node Person { name: String @key }\n";

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
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

#[tokio::test]
async fn a_tombstoned_graph_is_refused_by_open_and_init_and_the_first_tombstone_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = common::graph_uri(&dir, "g");
    Graph::init(&uri, SCHEMA, "test").await.expect("init");
    assert!(read_tombstone(&uri).await.expect("read").is_none());

    let first = write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    let again = write_tombstone(&uri, &Tombstone::now("g", "bob"))
        .await
        .expect("again");
    assert_eq!(again, first, "a retried delete keeps the first tombstone");

    let err = Graph::open(&uri).await.err().expect("open refused");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
    assert!(err.to_string().contains("alice"), "{err}");
    let err = Graph::init(&uri, SCHEMA, "test")
        .await
        .err()
        .expect("init refused");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
}

#[tokio::test]
async fn purge_needs_a_tombstone_honours_the_grace_and_removes_only_the_graphs_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = dir.path().join("g");
    let uri = g.to_string_lossy().into_owned();
    let sibling = dir.path().join("g2").to_string_lossy().into_owned();
    let nested = g.join("inner.omni").to_string_lossy().into_owned();
    for u in [&uri, &sibling, &nested] {
        Graph::init(u, SCHEMA, "test").await.expect("init");
    }
    std::fs::write(g.join("notes.txt"), "operator's file").expect("foreign file");
    let untouched_before = [
        files_under(Path::new(&sibling)),
        files_under(Path::new(&nested)),
    ];

    let err = purge(&uri, None).await.err().expect("not deleted");
    assert!(err.to_string().contains("not deleted"), "{err}");

    write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    let err = purge(&uri, Some(chrono::Duration::hours(1)))
        .await
        .err()
        .expect("grace");
    assert!(err.to_string().contains("grace"), "{err}");

    let report = purge(&uri, Some(chrono::Duration::zero()))
        .await
        .expect("purge");
    assert!(report.objects_deleted > 3, "{report:?}");
    for owned in ["_manifest", "nodes", "edges", "_tombstone.json"] {
        assert!(!g.join(owned).exists(), "{owned} left behind");
    }
    assert!(
        g.join("notes.txt").is_file(),
        "a file the graph does not own is kept"
    );
    let untouched_after = [
        files_under(Path::new(&sibling)),
        files_under(Path::new(&nested)),
    ];
    assert_eq!(untouched_after, untouched_before);
    Graph::open(&nested)
        .await
        .expect("the nested graph still opens");
    // The location still holds the operator's file and the nested graph: not empty, so no
    // graph is created over them; once they are gone it can hold a new graph again.
    let err = Graph::init(&uri, SCHEMA, "test")
        .await
        .err()
        .expect("not empty");
    assert!(err.to_string().contains("not empty"), "{err}");
    std::fs::remove_file(g.join("notes.txt")).expect("remove the file");
    std::fs::remove_dir_all(&nested).expect("remove the nested graph");
    Graph::init(&uri, SCHEMA, "test")
        .await
        .expect("re-init after purge");
}

#[tokio::test]
async fn a_process_that_opened_the_graph_before_the_delete_cannot_write_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = common::graph_uri(&dir, "g");
    let graph = Graph::init(&uri, SCHEMA, "test").await.expect("init");
    write_tombstone(&uri, &Tombstone::now("g", "alice"))
        .await
        .expect("tombstone");
    let data = "{\"type\": \"Person\", \"data\": {\"name\": \"Ada\"}}\n";
    let err = omnigraph_engine::load(
        &graph,
        data.as_bytes(),
        omnigraph_engine::LoadMode::Merge,
        "test",
    )
    .await
    .err()
    .expect("write refused");
    assert!(matches!(err, EngineError::Deleted(_)), "{err}");
}
