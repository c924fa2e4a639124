//! Compaction (shared/engine/src/maintenance.rs): the same rows in fewer files, indexes back
//! to full coverage, one new graph version; and a user's write racing it is never refused.

use std::io::{BufReader, Read};
use std::sync::mpsc;

use crate::common;

use common::*;
use omnigraph_engine::maintenance::{compact, CompactionPolicy};
use omnigraph_engine::{Graph, LoadMode, TableKey};
use serde_json::json;

async fn fragments(graph: &std::sync::Arc<Graph>, table: &TableKey) -> usize {
    let snap = graph.snapshot(None).await.expect("snapshot");
    snap.table(table)
        .await
        .expect("table")
        .get_fragments()
        .len()
}

/// The social graph after `n` single-row inserts and one delete: many small fragments.
async fn fragmented(n: usize) -> TestGraph {
    let g = TestGraph::social().await;
    for i in 0..n {
        g.mutate(
            "query add($n: String) { insert Person { name: $n, age: 20 } }",
            json!({"n": format!("p{i:03}")}),
        )
        .await;
    }
    g.mutate(
        "query d() { delete Person where name = \"p000\" }",
        json!({}),
    )
    .await;
    g
}

#[tokio::test]
async fn compaction_keeps_every_row_in_fewer_files_and_reindexes() {
    let g = fragmented(12).await;
    let person = TableKey::node("Person");
    let before_rows = export_sorted(&g.graph).await;
    let before_version = g.version().await;
    assert!(fragments(&g.graph, &person).await > 10);

    let report = compact(&g.graph, "main", &CompactionPolicy::default())
        .await
        .expect("compact");
    assert_eq!(report.version, Some(before_version + 1), "{report:?}");
    let compacted: Vec<&str> = report.tables.iter().map(|t| t.table_key.as_str()).collect();
    assert!(compacted.contains(&"node:Person"), "{report:?}");
    assert_eq!(fragments(&g.graph, &person).await, 1);
    assert_eq!(export_sorted(&g.graph).await, before_rows, "the same rows");

    // The key index covers the whole table again.
    use lance::index::DatasetIndexExt;
    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let ds = snap.table(&person).await.expect("table");
    let fragment_ids: Vec<u32> = ds.get_fragments().iter().map(|f| f.id() as u32).collect();
    let indices = ds.load_indices().await.expect("indices");
    assert!(!indices.is_empty());
    for index in indices.iter() {
        let covered = index.fragment_bitmap.as_ref().expect("bitmap");
        assert!(
            fragment_ids.iter().all(|id| covered.contains(*id)),
            "{} covers every fragment",
            index.name
        );
    }
    // Reads and writes go on as before.
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person { name: \"p007\" } } return { $p.age } }",
            json!({})
        )
        .await,
        json!([{"p.age": 20}])
    );
    g.mutate("query a() { insert Person { name: \"after\" } }", json!({}))
        .await;

    // Nothing left to do: no new version.
    let again = compact(&g.graph, "main", &CompactionPolicy::default())
        .await
        .expect("compact");
    assert!(
        again.tables.is_empty() && again.version.is_none(),
        "{again:?}"
    );
}

/// A table loaded in bulk and then written to one row at a time: compaction merges the
/// single-row fragments and leaves the loaded one's files alone (they are shared by every
/// retained version, so a compaction costs the writes' rows, not the table's, on disk).
#[tokio::test]
async fn compaction_rewrites_the_small_fragments_and_keeps_the_big_ones_files() {
    let g = TestGraph::social().await;
    let person = TableKey::node("Person");
    let bulk: String = (0..5000)
        .map(|i| {
            format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"bulk{i}\", \"age\": 40}}}}\n")
        })
        .collect();
    g.load(&bulk, LoadMode::Append).await;
    for i in 0..9 {
        g.mutate(
            "query add($n: String) { insert Person { name: $n, age: 20 } }",
            json!({"n": format!("w{i}")}),
        )
        .await;
    }
    let files = |ds: &lance::Dataset| -> Vec<(u64, Vec<String>)> {
        ds.fragments()
            .iter()
            .map(|f| (f.id, f.files.iter().map(|d| d.path.clone()).collect()))
            .collect()
    };
    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let before = files(&snap.table(&person).await.expect("table"));
    assert_eq!(before.len(), 11, "social, bulk load, 9 writes: {before:?}");
    let bulk_fragment = before[1].clone();
    let rows_before = export_sorted(&g.graph).await;
    // Cached before the compaction: the key probes of later inserts patch from it.
    let name_of = |name: &str| {
        format!("query q() {{ match {{ $p: Person {{ name: \"{name}\" }} }} return {{ $p.age }} }}")
    };
    assert_eq!(
        g.rows(&name_of("w3"), json!({})).await,
        json!([{"p.age": 20}])
    );

    let report = compact(&g.graph, "main", &CompactionPolicy::default())
        .await
        .expect("compact");
    let table = report
        .tables
        .iter()
        .find(|t| t.table_key == "node:Person")
        .unwrap_or_else(|| panic!("Person compacted: {report:?}"));
    assert_eq!(table.rows, 5013);
    assert_eq!(
        table.rows_rewritten, 13,
        "the social rows and the writes: {report:?}"
    );
    assert_eq!((table.fragments_before, table.fragments_after), (11, 2));

    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let ds = snap.table(&person).await.expect("table");
    let after = files(&ds);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.contains(&bulk_fragment),
        "the loaded fragment kept its files"
    );
    assert_eq!(export_sorted(&g.graph).await, rows_before, "the same rows");
    use lance::index::DatasetIndexExt;
    for index in ds.load_indices().await.expect("indices").iter() {
        let covered = index.fragment_bitmap.as_ref().expect("bitmap");
        assert!(
            after.iter().all(|(id, _)| covered.contains(*id as u32)),
            "{} covers every fragment",
            index.name
        );
    }
    // A key that moved to the new fragment is still taken; a new one is not.
    let add = "query add($n: String) { insert Person { name: $n, age: 21 } }";
    let taken = g.try_mutate(add, json!({"n": "w3"})).await;
    assert!(taken.is_err(), "w3 exists: {taken:?}");
    g.mutate(add, json!({"n": "w9"})).await;
    assert_eq!(
        g.rows(&name_of("w3"), json!({})).await,
        json!([{"p.age": 20}])
    );
    assert_eq!(
        g.rows(&name_of("w9"), json!({})).await,
        json!([{"p.age": 21}])
    );
    assert_eq!(
        g.rows(&name_of("bulk4999"), json!({})).await,
        json!([{"p.age": 40}])
    );
}

/// A reader that says when it is first read and then waits for the go-ahead.
struct Gated {
    started: Option<mpsc::Sender<()>>,
    go: mpsc::Receiver<()>,
    data: std::io::Cursor<Vec<u8>>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(started) = self.started.take() {
            let _ = started.send(());
            let _ = self.go.recv();
        }
        self.data.read(buf)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_planned_before_a_compaction_and_published_after_is_not_refused() {
    let g = fragmented(10).await;
    let uri = g.graph.uri().to_string();
    // A second handle on the same graph: another worker, with its own write lock.
    let other = Graph::open(&uri).await.expect("open");
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let input = Gated {
        started: Some(started_tx),
        go: go_rx,
        data: std::io::Cursor::new(
            b"{\"type\": \"Person\", \"data\": {\"name\": \"racer\", \"age\": 1}}\n".to_vec(),
        ),
    };
    let writer = tokio::spawn(async move {
        omnigraph_engine::load(&other, BufReader::new(input), LoadMode::Append, "user").await
    });
    // The write has its snapshot; now the compaction publishes first.
    tokio::task::spawn_blocking(move || started.recv())
        .await
        .expect("join")
        .expect("the write started");
    let report = compact(&g.graph, "main", &CompactionPolicy::default())
        .await
        .expect("compact");
    assert!(report.version.is_some(), "{report:?}");
    go.send(()).expect("go");
    let loaded = writer
        .await
        .expect("join")
        .expect("the user's write is not refused");
    assert_eq!(loaded.version, report.version.unwrap() + 1);
    let names = g.person_names().await;
    assert!(names.contains(&"racer".to_string()) && names.contains(&"p009".to_string()));
    assert!(!names.contains(&"p000".to_string()));
}

/// Files under the table directories (what cleanup looks at).
async fn table_files(graph: &std::sync::Arc<Graph>) -> usize {
    use futures::TryStreamExt;
    let loc = graph.location();
    let mut n = 0;
    for root in ["nodes", "edges"] {
        let listed: Vec<_> = loc
            .store
            .list(Some(&loc.path(root)))
            .try_collect()
            .await
            .expect("list");
        n += listed.len();
    }
    n
}

#[tokio::test]
async fn cleanup_deletes_old_versions_and_their_files_but_nothing_still_needed() {
    use object_store::ObjectStoreExt;
    use omnigraph_engine::cleanup::{cleanup, RetentionPolicy};
    use omnigraph_engine::EngineError;
    use std::time::Duration;

    let g = fragmented(20).await;
    // A branch forked from an old version keeps that version's tables.
    let fork_version = g.version().await;
    g.graph
        .create_branch("old", "main", "t")
        .await
        .expect("branch");
    for i in 0..5 {
        g.mutate(
            "query add($n: String) { insert Person { name: $n } }",
            json!({"n": format!("late{i}")}),
        )
        .await;
    }
    compact(&g.graph, "main", &CompactionPolicy::default())
        .await
        .expect("compact");
    let head = g.version().await;
    let rows = export_sorted(&g.graph).await;
    let branch_rows = {
        let snap = g.graph.snapshot_on("old", None).await.expect("branch");
        let mut out = Vec::new();
        omnigraph_engine::export(&snap, &Default::default(), &mut out)
            .await
            .expect("export");
        out
    };
    // A file of a write that never published.
    let loc = g.graph.location();
    let snap = g.graph.snapshot(None).await.expect("snapshot");
    let person_dir = snap
        .entry(&TableKey::node("Person"))
        .expect("entry")
        .path
        .clone();
    let stray = loc.path(&format!("{person_dir}/data/never-published.lance"));
    loc.store
        .put(&stray, object_store::PutPayload::from_static(b"x"))
        .await
        .expect("put");
    let files_before = table_files(&g.graph).await;

    // Within the grace period nothing young is touched.
    let young = RetentionPolicy {
        keep_last: 3,
        keep_for: Duration::ZERO,
        grace: Duration::from_secs(3600),
    };
    let report = cleanup(&g.graph, &young).await.expect("cleanup");
    assert_eq!(report.files_deleted, 0, "{report:?}");
    // Nor graph versions younger than the grace, whatever `keep_for` says: a process that
    // confirmed the head within it probes forward from there (manifest.rs).
    assert_eq!(report.graph_versions_deleted, 0, "{report:?}");
    assert!(loc.store.head(&stray).await.is_ok());

    let policy = RetentionPolicy {
        keep_last: 3,
        keep_for: Duration::ZERO,
        grace: Duration::ZERO,
    };
    let report = cleanup(&g.graph, &policy).await.expect("cleanup");
    // Graph versions go by age (`keep_for`, at least the grace) and count (`keep_last`).
    assert!(report.graph_versions_deleted > 10, "{report:?}");
    assert_eq!(report.oldest_kept_version, fork_version, "{report:?}");
    assert!(report.files_deleted > 10, "{report:?}");
    assert!(table_files(&g.graph).await < files_before);
    assert!(
        loc.store.head(&stray).await.is_err(),
        "the stray file is gone"
    );

    // The head, the kept versions and the branch read as before, from a fresh handle too.
    assert_eq!(export_sorted(&g.graph).await, rows);
    let fresh = Graph::open(g.graph.uri()).await.expect("open");
    assert_eq!(export_sorted(&fresh).await, rows);
    let snap = fresh.snapshot_on("old", None).await.expect("branch");
    let mut out = Vec::new();
    omnigraph_engine::export(&snap, &Default::default(), &mut out)
        .await
        .expect("export the branch");
    assert_eq!(out, branch_rows);
    assert!(fresh.snapshot(Some(head - 2)).await.is_ok());
    assert!(
        fresh.snapshot(Some(fork_version)).await.is_ok(),
        "the fork point"
    );
    // A deleted version is reclaimed, not missing.
    match fresh.snapshot(Some(2)).await {
        Err(EngineError::Reclaimed(m)) => assert!(m.contains("cleanup"), "{m}"),
        other => panic!("expected Reclaimed, got {:?}", other.map(|s| s.version())),
    }
    // History ends at the oldest kept commit; writes go on.
    let commits = fresh.commits("main", 1000).await.expect("commits");
    assert!(commits.len() <= 4, "{}", commits.len());
    g.mutate(
        "query a() { insert Person { name: \"after-cleanup\" } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn a_process_idle_while_cleanup_deleted_the_versions_above_its_head_finds_the_newest() {
    use omnigraph_engine::cleanup::{cleanup, RetentionPolicy};
    use std::time::Duration;
    let g = TestGraph::social().await;
    // Another process: it sees the head now, then stays idle.
    let idle = Graph::open(g.graph.uri()).await.expect("open");
    let seen = idle.snapshot(None).await.expect("snapshot").version();
    for i in 0..8 {
        g.mutate(
            "query add($n: String) { insert Person { name: $n } }",
            json!({"n": format!("late{i}")}),
        )
        .await;
    }
    let head = g.version().await;
    // Within the grace nothing above `seen` goes: the idle process still finds the head.
    let within_grace = RetentionPolicy {
        keep_last: 2,
        keep_for: Duration::ZERO,
        grace: Duration::from_secs(3600),
    };
    let report = cleanup(&g.graph, &within_grace).await.expect("cleanup");
    assert_eq!(report.graph_versions_deleted, 0, "{report:?}");
    assert_eq!(idle.snapshot(None).await.expect("snapshot").version(), head);
    // Past the grace (here: none) the versions right above the idle process's last head
    // are deleted; once its confirmation of that head is old, it lists instead of probing.
    let past_grace = RetentionPolicy {
        keep_last: 2,
        keep_for: Duration::ZERO,
        grace: Duration::ZERO,
    };
    let idle = Graph::open(g.graph.uri()).await.expect("open again");
    assert_eq!(idle.snapshot(None).await.expect("snapshot").version(), head);
    for i in 0..8 {
        g.mutate(
            "query add($n: String) { insert Person { name: $n } }",
            json!({"n": format!("later{i}")}),
        )
        .await;
    }
    let head = g.version().await;
    let report = cleanup(&g.graph, &past_grace).await.expect("cleanup");
    assert!(report.graph_versions_deleted >= 8, "{report:?}");
    assert!(seen < head);
    idle.manifests().distrust_seen_head();
    assert_eq!(idle.snapshot(None).await.expect("snapshot").version(), head);
    // Its write lands on top of the head, not in a deleted slot below it.
    let writer = TestGraph {
        dir: tempfile::tempdir().expect("tempdir"),
        graph: idle,
    };
    let r = writer
        .mutate(
            "query add($n: String) { insert Person { name: $n } }",
            json!({"n": "from-the-idle-one"}),
        )
        .await;
    assert_eq!(r.version, head + 1);
    let names = g.person_names().await;
    assert!(names.contains(&"from-the-idle-one".to_string()));
    assert!(names.contains(&"later7".to_string()));
}
