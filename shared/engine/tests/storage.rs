//! Storage invariants the engine relies on, pinned against the Lance version in use.

use crate::common;

use std::io::Cursor;
use std::sync::Arc;

use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use omnigraph_engine::location::GraphLocation;
use omnigraph_engine::manifest::{ManifestStore, MANIFEST_DIR};
use omnigraph_engine::staged_table::StagedTable;
use omnigraph_engine::{load, Graph, LoadMode, StorageError, TableKey};

const SCHEMA: &str = "node Person { name: String @key\n age: I32? }\n";

async fn graph() -> (tempfile::TempDir, Arc<Graph>) {
    let dir = tempfile::tempdir().unwrap();
    let uri = common::graph_uri(&dir, "g.omni");
    let g = Graph::init(&uri, SCHEMA, "test").await.unwrap();
    (dir, g)
}

fn people(names: &[&str]) -> Cursor<String> {
    Cursor::new(
        names
            .iter()
            .map(|n| format!("{{\"type\":\"Person\",\"data\":{{\"name\":\"{n}\"}}}}\n"))
            .collect(),
    )
}

#[tokio::test]
async fn detached_commits_never_move_the_lance_head() {
    let (_dir, g) = graph().await;
    load(&g, people(&["a", "b"]), LoadMode::Append, "test")
        .await
        .unwrap();
    let snap = g.snapshot(None).await.unwrap();
    let entry = snap.entry(&TableKey::node("Person")).unwrap().clone();
    assert_eq!(entry.row_count, 2);
    // The table's main history still ends at the empty version init created.
    let head = lance::Dataset::open(&g.location().child_uri(&entry.path))
        .await
        .unwrap();
    assert_eq!(head.version().version, 1);
    assert_eq!(head.count_rows(None).await.unwrap(), 0);
    assert_ne!(entry.version, 1, "the manifest names a detached version");
}

#[tokio::test]
async fn committed_but_unpublished_rows_are_invisible_to_readers_and_the_next_writer() {
    let (_dir, g) = graph().await;
    load(&g, people(&["a"]), LoadMode::Append, "test")
        .await
        .unwrap();
    // A writer that committed its table version and then "crashed" before publishing.
    let snap = g.snapshot(None).await.unwrap();
    let mut staged = StagedTable::new(snap.table(&TableKey::node("Person")).await.unwrap());
    let batch = {
        use arrow::array::{Int32Array, StringArray};
        let schema = snap
            .table(&TableKey::node("Person"))
            .await
            .unwrap()
            .schema()
            .into();
        let schema: arrow::datatypes::SchemaRef = Arc::new(schema);
        arrow::record_batch::RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["ghost"])),
                Arc::new(Int32Array::from(vec![Some(1)])),
            ],
        )
        .unwrap()
    };
    staged.write_batch(batch).await.unwrap();
    let (orphan, rows) = staged.commit().await.unwrap();
    let orphan_version = orphan.version().version;
    assert_eq!(rows, 2);
    // Readers see the published version only.
    let now = g.snapshot(None).await.unwrap();
    assert_eq!(now.version(), snap.version());
    assert_eq!(now.row_count(&TableKey::node("Person")), 1);
    // The next writer builds on the published version, not on the orphan.
    load(&g, people(&["b"]), LoadMode::Append, "test")
        .await
        .unwrap();
    let after = g.snapshot(None).await.unwrap();
    let entry = after.entry(&TableKey::node("Person")).unwrap();
    assert_eq!(entry.row_count, 2);
    assert_ne!(entry.version, orphan_version);
    let mut out = Vec::new();
    omnigraph_engine::export(&after, &Default::default(), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("ghost"), "{text}");
}

#[tokio::test]
async fn a_writer_that_lost_the_race_gets_a_conflict_naming_the_table() {
    let (_dir, g) = graph().await;
    let other = Graph::open(g.uri()).await.unwrap();
    let base = g.snapshot(None).await.unwrap();
    // Another process publishes first.
    load(&other, people(&["x"]), LoadMode::Append, "other")
        .await
        .unwrap();
    // This writer staged against the older version.
    let mut staged = StagedTable::new(base.table(&TableKey::node("Person")).await.unwrap());
    staged.set_overwrite();
    let mut change = omnigraph_engine::Change::new();
    change.staged.insert(TableKey::node("Person"), staged);
    let err = g.publish(&base, change, "me").await.unwrap_err();
    match err {
        omnigraph_engine::EngineError::Conflict {
            table_key,
            expected,
            actual,
        } => {
            assert_eq!(table_key, "node:Person");
            assert_eq!((expected, actual), (1, 2));
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert_eq!(
        g.snapshot(None)
            .await
            .unwrap()
            .row_count(&TableKey::node("Person")),
        1
    );
}

#[tokio::test]
async fn a_change_to_untouched_tables_is_republished_on_top() {
    let (_dir, g) = graph_two_types().await;
    let base = g.snapshot(None).await.unwrap();
    load(
        &g,
        Cursor::new("{\"type\":\"Person\",\"data\":{\"name\":\"p\"}}\n".to_string()),
        LoadMode::Append,
        "a",
    )
    .await
    .unwrap();
    let mut staged = StagedTable::new(base.table(&TableKey::node("City")).await.unwrap());
    staged.set_overwrite();
    let mut change = omnigraph_engine::Change::new();
    change.staged.insert(TableKey::node("City"), staged);
    let m = g.publish(&base, change, "b").await.unwrap();
    assert_eq!(m.version, 3);
    assert_eq!(
        m.tables["node:Person"].row_count, 1,
        "the other writer's rows are kept"
    );
}

async fn graph_two_types() -> (tempfile::TempDir, Arc<Graph>) {
    let dir = tempfile::tempdir().unwrap();
    let uri = common::graph_uri(&dir, "g.omni");
    let g = Graph::init(
        &uri,
        "node Person { name: String @key }\nnode City { name: String @key }\n",
        "t",
    )
    .await
    .unwrap();
    (dir, g)
}

/// The manifest compare-and-swap rests on create-if-absent (`If-None-Match: *` on S3).
/// Racing writers, each with its own store client as separate processes would have,
/// create the same version object: exactly one wins in every round, and what is stored
/// is the winner's body. Runs on the local file system and, under tests/s3/run.sh, on
/// the S3-compatible server.
#[tokio::test]
async fn create_if_absent_lets_exactly_one_of_racing_writers_create_an_object() {
    use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
    use omnigraph_engine::location::GraphLocation;

    let dir = tempfile::tempdir().unwrap();
    let uri = common::graph_uri(&dir, "race");
    for round in 0..20 {
        let key = format!("_manifest/{round:020}.json");
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let (uri, key) = (uri.clone(), key.clone());
                tokio::spawn(async move {
                    let loc = GraphLocation::parse(&uri).unwrap();
                    let opts = PutOptions {
                        mode: PutMode::Create,
                        ..Default::default()
                    };
                    let body = PutPayload::from(format!("writer {w}"));
                    match loc.store.put_opts(&loc.path(&key), body, opts).await {
                        Ok(_) => Some(w),
                        Err(object_store::Error::AlreadyExists { .. })
                        | Err(object_store::Error::Precondition { .. }) => None,
                        Err(e) => panic!("round {round} writer {w}: {e}"),
                    }
                })
            })
            .collect();
        let mut winners = vec![];
        for writer in writers {
            if let Some(w) = writer.await.unwrap() {
                winners.push(w);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let loc = GraphLocation::parse(&uri).unwrap();
        let stored = loc.store.get(&loc.path(&key)).await.unwrap().bytes().await;
        assert_eq!(
            stored.unwrap().as_ref(),
            format!("writer {}", winners[0]).as_bytes(),
            "round {round}"
        );
    }
}

/// A store that deletes `target` just before the first read of it, as version cleanup
/// deleting the oldest manifest between a reader's listing and its read of that manifest.
#[derive(Debug)]
struct DeletedBeforeRead {
    inner: Arc<dyn ObjectStore>,
    target: ObjectPath,
    done: std::sync::atomic::AtomicBool,
}

impl std::fmt::Display for DeletedBeforeRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeletedBeforeRead({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for DeletedBeforeRead {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        use std::sync::atomic::Ordering;
        if *location == self.target && !self.done.swap(true, Ordering::SeqCst) {
            self.inner.delete(location).await?;
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn a_version_cleanup_deleted_while_it_is_read_is_reclaimed_not_missing() {
    // Five or more versions of main; cleanup has deleted the two oldest and is about to
    // delete the third. A read of the second lists the chain (oldest: the third), and the
    // third is gone before it is read: the
    // answer is still "reclaimed" (410 at the HTTP edge; the commit walk of
    // `Graph::commits` stops there) and not "no such version" (404; the walk failed).
    let (_dir, g) = graph().await;
    for name in ["a", "b", "c", "d"] {
        load(&g, people(&[name]), LoadMode::Merge, "test")
            .await
            .unwrap();
    }
    let loc = GraphLocation::parse(g.uri()).unwrap();
    let plain = ManifestStore::new(loc.clone());
    let versions = plain.list_versions().await.unwrap();
    assert!(versions.len() >= 5, "{versions:?}");
    let version_path = |v: u64| loc.path(&format!("{MANIFEST_DIR}/{v:020}.json"));
    for v in &versions[..2] {
        loc.store.delete(&version_path(*v)).await.unwrap();
    }
    let racing = loc.with_store(Arc::new(DeletedBeforeRead {
        inner: loc.store.clone(),
        target: version_path(versions[2]),
        done: Default::default(),
    }));
    let r = ManifestStore::new(racing).read(versions[1]).await;
    assert!(matches!(r, Err(StorageError::Reclaimed(_))), "{r:?}");
    assert_eq!(plain.list_versions().await.unwrap(), versions[3..].to_vec());
    // A version that never existed is still missing.
    let r = plain.read(versions[versions.len() - 1] + 100).await;
    assert!(matches!(r, Err(StorageError::NotFound(_))), "{r:?}");
}
