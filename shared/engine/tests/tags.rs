//! Tags (shared/engine/src/tag.rs): created once per name, every refused input, and version
//! cleanup keeping what a tag names until it is deleted; the deadline of compaction and
//! cleanup (shared/engine/src/maintenance.rs, shared/engine/src/cleanup.rs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

use common::*;
use omnigraph_engine::cleanup::{cleanup, cleanup_until, RetentionPolicy};
use omnigraph_engine::maintenance::{compact, compact_until, CompactionPolicy};
use omnigraph_engine::tag::TagTarget;
use omnigraph_engine::{EngineError, Graph, Snapshot};
use serde_json::json;

const COUNT: &str = "query q() { match { $p: Person } return { count($p) as n } }";

/// Every version: nothing young is kept by age, and files go at once.
fn keep_last(n: u64) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: n,
        keep_for: Duration::ZERO,
        grace: Duration::ZERO,
    }
}

async fn add_people(g: &TestGraph, prefix: &str, n: usize) {
    for i in 0..n {
        g.mutate(
            "query add($n: String) { insert Person { name: $n } }",
            json!({"n": format!("{prefix}{i:02}")}),
        )
        .await;
    }
}

/// The rows of a pinned version, exported (the load format) and sorted.
async fn export_of(snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    omnigraph_engine::export(snap, &Default::default(), &mut out)
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

fn expect_reclaimed<T>(r: Result<T, EngineError>, what: &str) {
    match r {
        Err(EngineError::Reclaimed(_)) => {}
        Err(e) => panic!("{what}: expected Reclaimed, got {e}"),
        Ok(_) => panic!("{what}: expected Reclaimed, got a value"),
    }
}

#[tokio::test]
async fn tags_name_commits_once_and_refuse_bad_input() {
    let g = TestGraph::social().await;
    add_people(&g, "t", 2).await;
    let head = g.version().await;
    let graph = &g.graph;

    let by_commit = graph
        .create_tag("release/1.0", TagTarget::Commit("main.2"), "alice")
        .await
        .expect("tag a commit");
    assert_eq!(
        (by_commit.commit.as_str(), by_commit.manifest_version()),
        ("main.2", 2)
    );
    assert_eq!(by_commit.actor, "alice");
    let by_branch = graph
        .create_tag("head", TagTarget::Branch("main"), "alice")
        .await
        .expect("tag a branch head");
    assert_eq!(by_branch.commit, format!("main.{head}"));
    // A new branch's head is the commit it was created from.
    graph
        .create_branch("dev", "main", "t")
        .await
        .expect("branch");
    let dev = graph
        .create_tag("dev-start", TagTarget::Branch("dev"), "t")
        .await
        .expect("tag dev");
    assert_eq!(dev.commit, format!("main.{head}"));

    let names: Vec<String> = graph
        .tags()
        .await
        .expect("tags")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["dev-start", "head", "release/1.0"]);
    assert_eq!(
        graph.tag("release/1.0").await.expect("tag"),
        Some(by_commit.clone())
    );
    assert_eq!(graph.tag("nope").await.expect("tag"), None);

    // A tag reads its commit.
    let at_tag = graph.snapshot_at_tag("release/1.0").await.expect("read");
    let at_version = graph.snapshot(Some(2)).await.expect("read");
    assert_eq!(export_of(&at_tag).await, export_of(&at_version).await);

    // Refusals: a taken name, bad names, malformed, unknown and future commits, unknown
    // branches.
    match graph
        .create_tag("head", TagTarget::Commit("main.1"), "bob")
        .await
    {
        Err(EngineError::AlreadyExists(m)) => assert!(m.contains("tag head"), "{m}"),
        other => panic!("expected AlreadyExists, got {:?}", other.map(|t| t.commit)),
    }
    let long = "n".repeat(201);
    for bad in ["", "a//b", "../x", "a b", "x/./y", long.as_str()] {
        match graph
            .create_tag(bad, TagTarget::Commit("main.1"), "t")
            .await
        {
            Err(EngineError::Invalid(m)) => assert!(m.contains("invalid tag name"), "{m}"),
            other => panic!(
                "{bad:?}: expected Invalid, got {:?}",
                other.map(|t| t.commit)
            ),
        }
        assert!(matches!(graph.tag(bad).await, Err(EngineError::Invalid(_))));
    }
    for bad in ["main", "main.x", "main.0", "ZZ.3", ""] {
        match graph.create_tag("t", TagTarget::Commit(bad), "t").await {
            Err(EngineError::Invalid(m)) => assert!(m.contains("not a commit id"), "{m}"),
            other => panic!(
                "{bad:?}: expected Invalid, got {:?}",
                other.map(|t| t.commit)
            ),
        }
    }
    for unknown in ["main.999", "abcdef012345.3"] {
        match graph.create_tag("t", TagTarget::Commit(unknown), "t").await {
            Err(EngineError::NotFound(_)) => {}
            other => panic!(
                "{unknown}: expected NotFound, got {:?}",
                other.map(|t| t.commit)
            ),
        }
    }
    assert!(matches!(
        graph.create_tag("t", TagTarget::Branch("nope"), "t").await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        graph
            .create_tag("t", TagTarget::Branch("bad name"), "t")
            .await,
        Err(EngineError::Invalid(_))
    ));
    assert!(matches!(
        graph.delete_tag("nope").await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        graph.snapshot_at_tag("nope").await,
        Err(EngineError::NotFound(_))
    ));

    // Deleted, the name is free again.
    let deleted = graph.delete_tag("head").await.expect("delete");
    assert_eq!(deleted.commit, format!("main.{head}"));
    assert_eq!(graph.tag("head").await.expect("tag"), None);
    graph
        .create_tag("head", TagTarget::Commit("main.1"), "t")
        .await
        .expect("the name is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_creations_of_one_tag_exactly_one_wins() {
    let g = TestGraph::social().await;
    add_people(&g, "r", 2).await;
    for round in 0..5 {
        let name = format!("race-{round}");
        // Two handles: two workers.
        let a = Graph::open(g.graph.uri()).await.expect("open");
        let b = Graph::open(g.graph.uri()).await.expect("open");
        let (na, nb) = (name.clone(), name.clone());
        let ta =
            tokio::spawn(async move { a.create_tag(&na, TagTarget::Commit("main.2"), "a").await });
        let tb =
            tokio::spawn(async move { b.create_tag(&nb, TagTarget::Commit("main.3"), "b").await });
        let results = [ta.await.expect("join"), tb.await.expect("join")];
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(EngineError::AlreadyExists(_)))),
            "round {round}: {results:?}"
        );
        let stored = g.graph.tag(&name).await.expect("tag").expect("stored");
        assert_eq!(&stored, won[0], "the stored tag is the winner's");
    }
}

#[tokio::test]
async fn cleanup_keeps_a_tagged_version_until_the_tag_is_deleted() {
    let g = TestGraph::social().await;
    add_people(&g, "a", 3).await;
    let tagged = g.version().await;
    let commit = format!("main.{tagged}");
    let tagged_rows = export_sorted(&g.graph).await;
    g.graph
        .create_tag("keep", TagTarget::Commit(&commit), "t")
        .await
        .expect("tag");
    // Many versions later, compacted: the tagged version's files are needed by it alone.
    add_people(&g, "b", 6).await;
    g.mutate(
        "query d() { delete Person where name = \"a00\" }",
        json!({}),
    )
    .await;
    compact(&g.graph, "main", &CompactionPolicy { min_fragments: 2 })
        .await
        .expect("compact");
    let head = g.version().await;

    let report = cleanup(&g.graph, &keep_last(2)).await.expect("cleanup");
    assert!(report.graph_versions_deleted > 5, "{report:?}");
    assert!(report.files_deleted > 0, "{report:?}");
    assert_eq!(report.oldest_kept_version, head - 1, "{report:?}");
    // From a fresh handle too (nothing cached): by the tag and by the commit id. The
    // version number on main is history that cleanup deleted: a 410.
    let fresh = Graph::open(g.graph.uri()).await.expect("open");
    let at_tag = fresh.snapshot_at_tag("keep").await.expect("read at tag");
    assert_eq!(export_of(&at_tag).await, tagged_rows);
    assert_eq!(
        at_tag.row_count(&omnigraph_engine::TableKey::node("Person")),
        4 + 3
    );
    let at_commit = fresh
        .snapshot_at_commit(&commit)
        .await
        .expect("read at commit");
    assert_eq!(export_of(&at_commit).await, tagged_rows);
    let (c, _) = fresh.commit(&commit).await.expect("the commit");
    assert_eq!(c.id, commit);
    expect_reclaimed(fresh.snapshot(Some(tagged)).await, "the version number");
    expect_reclaimed(fresh.snapshot(Some(tagged + 1)).await, "untagged version");
    assert!(fresh.snapshot(Some(head)).await.is_ok());
    // A second tag of the commit, now that its chain's manifest is gone.
    fresh
        .create_tag("keep-too", TagTarget::Commit(&commit), "t")
        .await
        .expect("tag a tagged commit again");
    fresh.delete_tag("keep-too").await.expect("delete");
    // Another run deletes nothing the tag needs.
    let again = cleanup(&fresh, &keep_last(2)).await.expect("cleanup");
    assert_eq!(again.graph_versions_deleted, 0, "{again:?}");
    assert_eq!(
        export_of(&fresh.snapshot_at_tag("keep").await.expect("read")).await,
        tagged_rows
    );

    // Deleted, the next cleanup deletes the version's files; it cannot be tagged again.
    fresh.delete_tag("keep").await.expect("delete tag");
    let report = cleanup(&fresh, &keep_last(2)).await.expect("cleanup");
    assert!(report.files_deleted > 0, "{report:?}");
    expect_reclaimed(
        fresh.snapshot_at_commit(&commit).await,
        "after the tag's delete",
    );
    expect_reclaimed(
        fresh
            .create_tag("again", TagTarget::Commit(&commit), "t")
            .await,
        "tag a reclaimed commit",
    );
    assert_eq!(fresh.tag("again").await.expect("tag"), None);
    let fresh = Graph::open(g.graph.uri()).await.expect("open");
    assert_eq!(
        export_sorted(&fresh).await,
        export_sorted(&g.graph).await,
        "the head reads as before"
    );
}

/// Tags keep commits of deleted branches too (their chains are not cleaned up; their
/// files are shared with main's chain).
#[tokio::test]
async fn a_tag_keeps_a_deleted_branchs_commit_readable_after_cleanup() {
    let g = TestGraph::social().await;
    g.graph
        .create_branch("exp", "main", "t")
        .await
        .expect("branch");
    // Writes on the branch: through a load on it.
    omnigraph_engine::load_on(
        &g.graph,
        "exp",
        "{\"type\": \"Person\", \"data\": {\"name\": \"only-on-exp\"}}\n".as_bytes(),
        omnigraph_engine::LoadMode::Append,
        "t",
    )
    .await
    .expect("load on exp");
    let head = g.graph.snapshot_on("exp", None).await.expect("exp head");
    let rows = export_of(&head).await;
    assert!(rows.iter().any(|l| l.contains("only-on-exp")));
    g.graph
        .create_tag("experiment", TagTarget::Commit(&head.commit_id()), "t")
        .await
        .expect("tag");
    g.graph.delete_branch("exp").await.expect("delete branch");
    add_people(&g, "x", 3).await;
    compact(&g.graph, "main", &CompactionPolicy { min_fragments: 2 })
        .await
        .expect("compact");
    let report = cleanup(&g.graph, &keep_last(1)).await.expect("cleanup");
    assert!(report.files_deleted > 0, "{report:?}");
    let fresh = Graph::open(g.graph.uri()).await.expect("open");
    assert_eq!(
        export_of(&fresh.snapshot_at_tag("experiment").await.expect("read")).await,
        rows
    );
}

#[tokio::test]
async fn past_their_deadline_compaction_and_cleanup_stop_and_change_nothing() {
    let g = TestGraph::social().await;
    add_people(&g, "d", 10).await;
    let version = g.version().await;
    let rows = export_sorted(&g.graph).await;
    let past = Some(Instant::now());
    let policy = CompactionPolicy { min_fragments: 2 };

    let report = compact_until(&g.graph, "main", &policy, past)
        .await
        .expect("compact");
    assert!(
        report.deadline_reached && report.version.is_none(),
        "{report:?}"
    );
    assert!(report.tables.is_empty() && !report.gave_way, "{report:?}");
    assert_eq!(g.version().await, version, "nothing published");
    let report = cleanup_until(&g.graph, &keep_last(1), past)
        .await
        .expect("cleanup");
    assert!(report.deadline_reached, "{report:?}");
    assert_eq!(
        (report.graph_versions_deleted, report.files_deleted),
        (0, 0),
        "{report:?}"
    );
    assert!(g.graph.snapshot(Some(2)).await.is_ok());

    // With time enough, both finish.
    let later = Some(Instant::now() + Duration::from_secs(600));
    let report = compact_until(&g.graph, "main", &policy, later)
        .await
        .expect("compact");
    assert!(
        !report.deadline_reached && report.version.is_some(),
        "{report:?}"
    );
    let report = cleanup_until(&g.graph, &keep_last(1), later)
        .await
        .expect("cleanup");
    assert!(
        !report.deadline_reached && report.files_deleted > 0,
        "{report:?}"
    );
    assert_eq!(export_sorted(&g.graph).await, rows);
    assert_eq!(
        g.rows(COUNT, json!({})).await,
        json!([{"n": 4 + 10}]),
        "every row"
    );
}

#[tokio::test]
async fn a_purge_deletes_tags_and_the_maintenance_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("g");
    let uri = root.to_string_lossy().into_owned();
    let graph: Arc<Graph> = Graph::init(&uri, SOCIAL_SCHEMA, "t").await.expect("init");
    graph
        .create_tag("v1", TagTarget::Commit("main.1"), "t")
        .await
        .expect("tag");
    omnigraph_engine::lease::acquire(graph.location(), "w", Duration::from_secs(60))
        .await
        .expect("lease");
    omnigraph_engine::lease::write_last_run(graph.location(), &json!({"x": 1}))
        .await
        .expect("record");
    omnigraph_engine::write_tombstone(&uri, &omnigraph_engine::Tombstone::now("g", "t"))
        .await
        .expect("tombstone");
    omnigraph_engine::purge(&uri, Some(chrono::Duration::zero()))
        .await
        .expect("purge");
    assert!(!root.exists(), "everything the graph wrote is gone");
    Graph::init(&uri, SOCIAL_SCHEMA, "t")
        .await
        .expect("a new graph at the same place");
}
