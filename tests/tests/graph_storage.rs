//! Where a graph's storage is and what belongs to it, with real processes: one uri names
//! one location (no percent-encoding, no dot segments around the storage roots), a graph
//! is created only on an empty location, a purge removes only what the graph wrote, and a
//! worker that missed a delete, purge and re-create on the same uri never publishes into
//! the new graph.

use std::path::Path;
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::json;

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";
const ADD: &str = "query add($n: String) { insert Person { name: $n } }";

fn add(dp: &DataPlane, path: &str, name: &str) -> (u16, serde_json::Value) {
    dp.post(
        path,
        &json!({ "query_source": ADD, "params": { "n": name } }),
        None,
    )
}

fn names(dp: &DataPlane, path: &str) -> Vec<String> {
    let (s, b) = dp.post(path, &json!({ "query_source": NAMES }), None);
    assert_eq!(s, 200, "{b}");
    person_names(&b)
}

#[test]
fn post_graphs_refuses_percent_encoding_and_dot_segments_and_writes_nothing() {
    let yaml = "server:\n  storage_roots: [\"{graphs}/graphs\", \"{root}/local\"]\ngraphs: {}\n";
    let cp = ControlPlane::start(yaml, ControlPlaneOptions::open());
    let graphs = graphs_root(&cp.root);
    let local = cp.path("local");
    let before = cp.yaml();
    for uri in [
        // Inside a root as text; Lance would decode it to {graphs}/other/x.omni.
        format!("{graphs}/graphs/%2e%2e/other/x.omni"),
        format!("{graphs}/graphs/%2E%2E/other/x.omni"),
        format!("{graphs}/graphs/%252e%252e/other/x.omni"),
        format!("file://{local}/%2e%2e/g.omni"),
        format!("{local}/a%20b.omni"),
        format!("{local}/./x.omni"),
        format!("{local}//x.omni"),
        format!("{local}/x?.omni"),
        format!("{local}/x#y.omni"),
    ] {
        let (status, body) = cp.create_graph("beta", &uri, None);
        assert_envelope(status, &body, 400, "bad_request");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("not allowed") || message.contains("segment"),
            "{uri}: {body}"
        );
    }
    assert_eq!(cp.yaml(), before);
    for place in [
        format!("{graphs}/other"),
        format!("{graphs}/graphs"),
        local.clone(),
        cp.path("other"),
    ] {
        assert!(!stored_at(&place), "something was written under {place}");
    }
    // The same locations spelt plainly are fine.
    let (status, body) = cp.create_graph("beta", &format!("{graphs}/graphs/x.omni"), None);
    assert_eq!(status, 201, "{body}");
    let (status, body) = cp.create_graph("gamma", &format!("file://{local}/g.omni"), None);
    assert_eq!(status, 201, "{body}");
    assert!(has_manifest(&format!("{local}/g.omni")));
}

#[test]
fn post_graphs_refuses_a_location_that_is_not_empty_and_leaves_it_untouched() {
    let cp = open_alpha();
    let dir = cp.path("home");
    std::fs::create_dir_all(Path::new(&dir).join("nodes")).expect("mkdir");
    std::fs::write(Path::new(&dir).join("notes.txt"), "mine").expect("write");
    std::fs::write(Path::new(&dir).join("nodes/photo.jpg"), "mine too").expect("write");
    let before = file_listing(Path::new(&dir));

    let (status, body) = cp.create_graph("beta", &dir, None);
    assert_envelope(status, &body, 400, "bad_request");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not empty"),
        "{body}"
    );
    assert_eq!(file_listing(Path::new(&dir)), before, "files touched");
    assert!(!has_manifest(&dir));
    assert_eq!(cp.graph_ids(None), ["alpha"]);

    // An empty folder that exists is fine.
    let empty = cp.path("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let (status, body) = cp.create_graph("beta", &empty, None);
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_purge_deletes_only_what_the_graph_wrote() {
    let cp = open_alpha();
    let w = DataPlane::with_control_plane(&cp.url, "w1");
    let dir = cp.path("data/g.omni");
    let (status, body) = cp.create_graph("g", &dir, None);
    assert_eq!(status, 201, "{body}");
    let (status, body) = add(&w, "/graphs/g/change", "Ada");
    assert_eq!(status, 200, "{body}");
    // Files the graph never wrote, in its root and inside the folders it writes.
    let root = Path::new(&dir);
    let foreign = [
        "README.txt",
        "nodes/notes.txt",
        "nodes/Person.lance/data.bin",
        "edges/keep/me.bin",
        "_manifest/keep.txt",
        "_branches/notes/x.json",
        "_refs/notes.txt",
    ];
    for f in foreign {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "not the graph's").expect("write");
    }

    let (status, body) = cp.delete("/graphs/g?purge=true", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["purged"], true, "{body}");
    for f in foreign {
        assert!(root.join(f).is_file(), "{f} was deleted by the purge");
    }
    assert!(
        !has_manifest_json(&root.join("_manifest")),
        "manifests left"
    );
    assert!(!root.join("_tombstone.json").exists());
    let tables: Vec<_> = std::fs::read_dir(root.join("nodes"))
        .expect("nodes")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lance") && n != "Person.lance")
        .collect();
    assert!(tables.is_empty(), "tables left: {tables:?}");
}

fn has_manifest_json(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
    })
}

#[test]
fn a_worker_that_missed_a_delete_purge_and_recreate_never_publishes_into_the_new_graph() {
    let cp = open_alpha();
    let w1 = DataPlane::with_control_plane(&cp.url, "w1");
    let uri = cp.graph_uri("g.omni");
    let (status, body) = cp.create_graph("g", &uri, None);
    assert_eq!(status, 201, "{body}");

    // w2 serves the same storage from its own omnigraph.yaml: it never hears of the
    // registry's changes (a worker that missed every generation).
    let config_dir = tempfile::tempdir().expect("tempdir");
    let config = config_dir.path().join("omnigraph.yaml");
    std::fs::write(&config, format!("graphs:\n  g:\n    uri: {uri}\n")).expect("yaml");
    let w2 = DataPlane::with_config(&config, &["--unauthenticated"], &[]);
    for name in ["Old1", "Old2", "Old3"] {
        let (status, body) = add(&w2, "/graphs/g/change", name);
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(names(&w2, "/graphs/g/read"), ["Old1", "Old2", "Old3"]);

    let (status, body) = cp.delete("/graphs/g?purge=true", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["purged"], true, "{body}");
    let (status, body) = cp.create_graph("g", &uri, None);
    assert_eq!(status, 201, "{body}");
    let (status, body) = add(&w1, "/graphs/g/change", "New1");
    assert_eq!(status, 200, "{body}");
    let versions = published_manifests(&uri);
    assert_eq!(versions, 2, "the new graph: init and one change");

    // The stale handle's write is refused, and nothing is published into the new graph.
    let (status, body) = add(&w2, "/graphs/g/change", "Stale");
    envelope(status, &body, 404, "not_found");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("deleted or deleted and created again"),
        "{body}"
    );
    assert_eq!(
        published_manifests(&uri),
        versions,
        "a version was published"
    );
    assert_eq!(names(&w1, "/graphs/g/read"), ["New1"]);

    // w2 dropped the stale handle: it now serves the graph its configuration names, the
    // new one, and never the old rows.
    assert!(eventually(Duration::from_secs(10), || names(
        &w2,
        "/graphs/g/read"
    ) == ["New1"]));
    let (status, body) = add(&w2, "/graphs/g/change", "New2");
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&w1, "/graphs/g/read"), ["New1", "New2"]);
}

/// The control plane links no Lance (shared/storage/src/create.rs): a graph it creates is
/// its first manifest and incarnation marker, with every table pending, until the first
/// worker opens it and creates the tables empty. The control plane describes it before
/// that, and two workers that open it at once both serve it.
#[test]
fn a_created_graph_gets_its_tables_from_the_first_worker_that_opens_it() {
    let cp = open_alpha();
    let dir = cp.path("data/g.omni");
    let (status, body) = cp.create_graph("g", &dir, None);
    assert_eq!(status, 201, "{body}");
    let root = Path::new(&dir);
    assert!(has_manifest_json(&root.join("_manifest")), "no manifest");
    assert!(
        !root.join("nodes").exists(),
        "the control plane wrote table files"
    );
    let first = std::fs::read_dir(root.join("_manifest"))
        .expect("_manifest")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .expect("first manifest");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.path()).expect("read")).expect("json");
    let person = &manifest["tables"]["node:Person"];
    assert_eq!(person["pending"], true, "{manifest}");
    assert_eq!(person["version"], 1, "{manifest}");
    let (status, body) = cp.get("/graphs/g", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["manifest_version"], 1, "{body}");
    assert_eq!(body["tables"][0]["row_count"], 0, "{body}");

    // Two workers start together; each opens the graph when the registry reaches it.
    let (w1, w2) = std::thread::scope(|s| {
        let a = s.spawn(|| DataPlane::with_control_plane(&cp.url, "w1"));
        let b = s.spawn(|| DataPlane::with_control_plane(&cp.url, "w2"));
        (a.join().expect("w1"), b.join().expect("w2"))
    });
    for w in [&w1, &w2] {
        assert!(
            eventually(Duration::from_secs(5), || w
                .get("/graphs/g/snapshot", None)
                .0
                == 200),
            "not served:\n{}",
            w.log()
        );
        assert!(names(w, "/graphs/g/read").is_empty());
    }
    let person_dir = root
        .join(person["path"].as_str().expect("path"))
        .join("_versions");
    assert!(
        std::fs::read_dir(&person_dir).is_ok_and(|mut e| e.next().is_some()),
        "no Person table at {}",
        person_dir.display()
    );
    let (status, body) = add(&w1, "/graphs/g/change", "Ada");
    assert_eq!(status, 200, "{body}");
    let (status, body) = add(&w2, "/graphs/g/change", "Bo");
    assert_eq!(status, 200, "{body}");
    for w in [&w1, &w2] {
        assert_eq!(names(w, "/graphs/g/read"), ["Ada", "Bo"]);
    }
}

/// A graph the control plane creates has its first manifest only; the first processes to
/// open it create its tables (shared/engine/src/graph.rs, `make_pending_tables`). When
/// several open it at once, one creates each table and the others find it: every table
/// holds exactly the version the manifest names, and every process answers.
#[test]
fn processes_that_open_a_new_graph_at_once_find_each_table_at_version_one() {
    let cp = ControlPlane::start("graphs: {}\n", ControlPlaneOptions::open());
    for round in 0..4 {
        let id = format!("fresh{round}");
        let uri = cp.graph_uri(&format!("{id}.omni"));
        let (status, body) = cp.create_graph(&id, &uri, None);
        assert_eq!(status, 201, "{body}");
        assert!(
            table_versions(&uri).is_empty(),
            "the control plane writes no table"
        );
        let children: Vec<_> = (0..6)
            .map(|_| {
                data_plane()
                    .args(["query", "--store", &uri, "-e", NAMES, "--json"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn query")
            })
            .collect();
        for child in children {
            let out: Run = child.wait_with_output().expect("wait for query").into();
            assert_eq!(out.status, 0, "{}", out.stderr);
            let rows: serde_json::Value =
                serde_json::from_str(&out.stdout).expect("query --json prints JSON");
            assert_eq!(rows["rows"], json!([]), "{}", out.stdout);
        }
        let versions = table_versions(&uri);
        assert!(!versions.is_empty(), "the tables were created");
        for (table, count) in &versions {
            assert_eq!(
                *count, 1,
                "{uri}: {table} has {count} versions: {versions:?}"
            );
        }
    }
}
