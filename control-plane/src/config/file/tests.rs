use super::*;

const TWO_GRAPHS: &str =
    "graphs:\n  alpha:\n    uri: /data/alpha.omni\n  beta:\n    uri: /data/beta.omni\n";

fn id(s: &str) -> GraphId {
    GraphId::parse(s).expect("valid test id")
}

fn fixture(text: &str) -> (tempfile::TempDir, ConfigFile) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("omnigraph.yaml");
    std::fs::write(&path, text).expect("write config");
    let (file, _) = ConfigFile::load(&path).expect("load config");
    (dir, file)
}

#[test]
fn add_graph_writes_the_entry_and_moves_the_baseline() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    let first = file
        .add_graph(id("gamma"), GraphEntry::new("/data/gamma.omni"))
        .expect("first add");
    assert_eq!(file.baseline(), first);
    assert_eq!(hash_config_file(file.path()).unwrap(), first);
    // A second add against the moved baseline is not mistaken for drift.
    file.add_graph(id("delta"), GraphEntry::new("/data/delta.omni"))
        .expect("second add");
    let config = OmnigraphConfig::load(file.path()).unwrap();
    let ids: Vec<String> = config
        .entries()
        .iter()
        .map(|(i, _)| i.to_string())
        .collect();
    assert_eq!(ids, ["alpha", "beta", "delta", "gamma"]);
    assert_eq!(file.drift(), None);
}

#[test]
fn add_graph_rechecks_duplicate_id_against_the_file_under_the_lock() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    let before = std::fs::read(file.path()).unwrap();
    let err = file
        .add_graph(id("alpha"), GraphEntry::new("/data/other.omni"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RewriteWithError::Update(InsertGraphError::DuplicateId(_))
        ),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(file.path()).unwrap(),
        before,
        "file untouched"
    );
}

#[test]
fn add_graph_rechecks_duplicate_normalized_uri_under_the_lock() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    let err = file
        .add_graph(id("gamma"), GraphEntry::new("file:///data/./beta.omni/"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RewriteWithError::Update(InsertGraphError::DuplicateUri { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn add_graph_refuses_a_hand_edited_file_and_records_drift() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    let edited = format!("{TWO_GRAPHS}# an operator was here\n");
    std::fs::write(file.path(), &edited).unwrap();
    let err = file
        .add_graph(id("gamma"), GraphEntry::new("/data/gamma.omni"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RewriteWithError::Rewrite(RewriteAtomicError::Drift { .. })
        ),
        "{err:?}"
    );
    assert_eq!(std::fs::read_to_string(file.path()).unwrap(), edited);
    assert!(file.drift().is_some());
}

#[test]
fn check_drift_reports_a_hand_edit_and_clears_when_it_is_reverted() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    assert_eq!(file.check_drift(), None);
    std::fs::write(file.path(), format!("{TWO_GRAPHS}\n")).unwrap();
    let drift = file.check_drift().expect("drift detected");
    assert!(drift.on_disk.is_some());
    assert!(
        drift.message.contains("changed by hand"),
        "{}",
        drift.message
    );
    std::fs::write(file.path(), TWO_GRAPHS).unwrap();
    assert_eq!(file.check_drift(), None);
    assert_eq!(file.drift(), None);
}

#[test]
fn check_drift_reports_a_deleted_file() {
    let (_dir, file) = fixture(TWO_GRAPHS);
    std::fs::remove_file(file.path()).unwrap();
    let drift = file.check_drift().expect("drift detected");
    assert_eq!(drift.on_disk, None);
    assert!(
        drift.message.contains("cannot be read"),
        "{}",
        drift.message
    );
}
