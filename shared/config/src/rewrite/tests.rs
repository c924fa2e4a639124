use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use super::*;
use crate::{hash_config_file, GraphEntry, GraphId, InsertGraphError, ServerSection};

fn id(s: &str) -> GraphId {
    GraphId::parse(s).unwrap()
}

fn config_with(graphs: &[(&str, &str)]) -> OmnigraphConfig {
    let map: BTreeMap<GraphId, GraphEntry> = graphs
        .iter()
        .map(|(g, uri)| (id(g), GraphEntry::new(*uri)))
        .collect();
    OmnigraphConfig::multi(ServerSection::default(), map)
}

/// A temp dir holding an omnigraph.yaml with graph `alpha`; returns (dir, path, hash).
fn fixture() -> (tempfile::TempDir, PathBuf, ConfigHash) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnigraph.yaml");
    std::fs::write(&path, "graphs:\n  alpha:\n    uri: /data/alpha.omni\n").unwrap();
    let hash = hash_config_file(&path).unwrap();
    (dir, path, hash)
}

#[test]
fn rewrite_atomic_writes_the_new_config_and_returns_its_hash() {
    let (_dir, path, baseline) = fixture();
    let new_config = config_with(&[("alpha", "/data/alpha.omni"), ("beta", "/data/beta.omni")]);
    let new_hash = rewrite_atomic(&path, &new_config, baseline).unwrap();
    assert_eq!(new_hash, hash_config_file(&path).unwrap());
    assert_eq!(OmnigraphConfig::load(&path).unwrap(), new_config);
}

#[test]
fn rewrite_atomic_refuses_when_hash_drifts() {
    let (_dir, path, baseline) = fixture();
    // An operator edits the file by hand after the baseline was taken.
    let hand_edit = "graphs:\n  alpha:\n    uri: /data/alpha-moved.omni\n";
    std::fs::write(&path, hand_edit).unwrap();
    let edited_hash = hash_config_file(&path).unwrap();

    let err = rewrite_atomic(&path, &config_with(&[("beta", "/b")]), baseline).unwrap_err();
    match &err {
        RewriteAtomicError::Drift { expected, actual } => {
            assert_eq!(*expected, baseline);
            assert_eq!(*actual, edited_hash);
        }
        other => panic!("expected Drift, got {other:?}"),
    }
    assert!(err.to_string().contains("hand edit"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        hand_edit,
        "never clobbered"
    );
    assert!(!tmp_path_for(&path).unwrap().exists());
}

#[test]
fn rewrite_atomic_baseline_updates_between_rewrites() {
    let (_dir, path, baseline) = fixture();
    let first = rewrite_atomic(&path, &config_with(&[("a", "/a")]), baseline).unwrap();
    let second = rewrite_atomic(&path, &config_with(&[("a", "/a"), ("b", "/b")]), first).unwrap();
    assert_ne!(first, second);
    // The stale baseline is now drift.
    assert!(matches!(
        rewrite_atomic(&path, &config_with(&[("c", "/c")]), first),
        Err(RewriteAtomicError::Drift { .. })
    ));
}

#[test]
fn rewrite_atomic_leaves_no_tmp_file_and_a_stable_lock_file() {
    let (_dir, path, baseline) = fixture();
    let lock_path = lock_path_for(&path).unwrap();
    assert_eq!(lock_path.file_name().unwrap(), "omnigraph.yaml.lock");
    let first = rewrite_atomic(&path, &config_with(&[("a", "/a")]), baseline).unwrap();
    let lock_inode = std::fs::metadata(&lock_path).unwrap().ino();
    let config_inode = std::fs::metadata(&path).unwrap().ino();
    rewrite_atomic(&path, &config_with(&[("b", "/b")]), first).unwrap();

    assert!(
        !tmp_path_for(&path).unwrap().exists(),
        "tmp file renamed away"
    );
    assert_eq!(
        std::fs::metadata(&lock_path).unwrap().ino(),
        lock_inode,
        "the lock file is never replaced"
    );
    assert_ne!(
        std::fs::metadata(&path).unwrap().ino(),
        config_inode,
        "the config file is replaced by rename"
    );
}

#[test]
fn rewrite_atomic_waits_for_the_lock_on_the_sibling_file() {
    let (_dir, path, baseline) = fixture();
    let lock_path = lock_path_for(&path).unwrap();
    let held = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    FileExt::lock_exclusive(&held).unwrap();

    let (done_tx, done_rx) = mpsc::channel();
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        let result = rewrite_atomic(&writer_path, &config_with(&[("b", "/b")]), baseline);
        done_tx.send(()).unwrap();
        result
    });
    // While another holder has `<file>.lock`, the rewrite must not proceed.
    assert!(done_rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(OmnigraphConfig::load(&path)
        .unwrap()
        .graphs
        .unwrap()
        .contains_key("alpha"));

    FileExt::unlock(&held).unwrap();
    drop(held);
    writer.join().unwrap().unwrap();
    assert!(OmnigraphConfig::load(&path)
        .unwrap()
        .graphs
        .unwrap()
        .contains_key("b"));
}

#[test]
fn rewrite_atomic_racing_threads_with_same_baseline_exactly_one_wins() {
    let (_dir, path, baseline) = fixture();
    const WRITERS: usize = 8;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let path = path.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let graph = format!("g{i}");
                let uri = format!("/data/g{i}.omni");
                let config = config_with(&[(graph.as_str(), uri.as_str())]);
                barrier.wait();
                rewrite_atomic(&path, &config, baseline).map(|hash| (i, hash))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one writer wins: {results:?}");
    let drifts = results
        .iter()
        .filter(|r| matches!(r, Err(RewriteAtomicError::Drift { .. })))
        .count();
    assert_eq!(drifts, WRITERS - 1, "every loser sees Drift: {results:?}");
    let (winner, hash) = winners[0];
    assert_eq!(*hash, hash_config_file(&path).unwrap());
    let on_disk = OmnigraphConfig::load(&path).unwrap();
    assert!(on_disk
        .graphs
        .unwrap()
        .contains_key(format!("g{winner}").as_str()));
}

const CHILD_ENV: &str = "OMNIGRAPH_CONFIG_TEST_REWRITE_CHILD";

/// Runs as a child process of the test below (the same test binary): waits for the go
/// file, rewrites, and records its outcome in a result file.
#[test]
fn rewrite_atomic_racing_processes_with_same_baseline_exactly_one_wins() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let parts: Vec<&str> = spec.split('|').collect();
        let (path, expected_hex, go, result, index) =
            (parts[0], parts[1], parts[2], parts[3], parts[4]);
        let mut expected = [0u8; 32];
        hex::decode_to_slice(expected_hex, &mut expected).unwrap();
        while !Path::new(go).exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let uri = format!("/data/p{index}.omni");
        let graph = format!("p{index}");
        let outcome = match rewrite_atomic(path, &config_with(&[(&graph, &uri)]), expected) {
            Ok(_) => "ok".to_owned(),
            Err(RewriteAtomicError::Drift { .. }) => "drift".to_owned(),
            Err(other) => format!("error: {other}"),
        };
        std::fs::write(result, outcome).unwrap();
        return;
    }

    let (dir, path, baseline) = fixture();
    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    const PROCESSES: usize = 4;
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            let result = dir.path().join(format!("result-{i}"));
            let spec = format!(
                "{}|{}|{}|{}|{i}",
                path.display(),
                hash_to_hex(&baseline),
                go.display(),
                result.display()
            );
            let child = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "rewrite::tests::rewrite_atomic_racing_processes_with_same_baseline_exactly_one_wins",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, spec)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            (child, result)
        })
        .collect();
    std::fs::write(&go, "").unwrap();
    let outcomes: Vec<String> = children
        .into_iter()
        .map(|(mut child, result)| {
            assert!(child.wait().unwrap().success());
            std::fs::read_to_string(result).unwrap()
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "ok").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "drift").count(),
        PROCESSES - 1,
        "{outcomes:?}"
    );
}

#[test]
fn rewrite_atomic_with_applies_update_to_the_reread_file() {
    let (_dir, path, baseline) = fixture();
    let new_hash = rewrite_atomic_with(&path, baseline, |config| {
        assert!(config.graphs.as_ref().unwrap().contains_key("alpha"));
        config.insert_graph(id("beta"), GraphEntry::new("/data/beta.omni"))
    })
    .unwrap();
    assert_eq!(new_hash, hash_config_file(&path).unwrap());
    let on_disk = OmnigraphConfig::load(&path).unwrap();
    let graphs = on_disk.graphs.unwrap();
    assert_eq!(
        graphs.keys().map(GraphId::as_str).collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
}

#[test]
fn rewrite_atomic_with_rechecks_duplicate_uri_under_the_lock() {
    let (_dir, path, baseline) = fixture();
    let before = std::fs::read(&path).unwrap();
    let err = rewrite_atomic_with(&path, baseline, |config| {
        config.insert_graph(id("beta"), GraphEntry::new("file:///data/alpha.omni/"))
    })
    .unwrap_err();
    assert!(matches!(
        err,
        RewriteWithError::Update(InsertGraphError::DuplicateUri { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
    assert!(!tmp_path_for(&path).unwrap().exists());
}

#[test]
fn rewrite_atomic_with_reports_drift_before_running_update() {
    let (_dir, path, baseline) = fixture();
    std::fs::write(&path, "graphs: {}\n").unwrap();
    let err = rewrite_atomic_with(&path, baseline, |_config| -> Result<(), InsertGraphError> {
        panic!("update must not run on a drifted file")
    })
    .unwrap_err();
    assert!(matches!(
        err,
        RewriteWithError::Rewrite(RewriteAtomicError::Drift { .. })
    ));
}

#[test]
fn rewrite_atomic_refuses_an_invalid_new_config() {
    let (_dir, path, baseline) = fixture();
    let mut invalid = config_with(&[("a", "/a")]);
    invalid.graph = Some(GraphEntry::new("/b"));
    let err = rewrite_atomic(&path, &invalid, baseline).unwrap_err();
    assert!(matches!(err, RewriteAtomicError::Invalid(_)), "{err:?}");
    assert_eq!(hash_config_file(&path).unwrap(), baseline);
}

#[test]
fn rewrite_atomic_reports_io_error_for_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml");
    let err = rewrite_atomic(&path, &config_with(&[("a", "/a")]), [0; 32]).unwrap_err();
    assert!(matches!(err, RewriteAtomicError::Io(_)), "{err:?}");
    assert!(err.to_string().contains("absent.yaml"), "{err}");
}

#[test]
fn rewrite_atomic_keeps_the_file_mode() {
    let (_dir, path, baseline) = fixture();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    rewrite_atomic(&path, &config_with(&[("a", "/a")]), baseline).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}
