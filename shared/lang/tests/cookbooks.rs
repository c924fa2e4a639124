//! Omnigraph's published cookbooks, as they are (tests/fixtures/industry-intel and
//! tests/fixtures/second-brain, copies of the MIT-licensed ModernRelay/omnigraph-cookbooks;
//! tests/fixtures/COOKBOOKS-LICENSE): every schema validates and every query of their
//! queries folders type-checks, reads and mutations alike. The end-to-end test
//! (tests/tests/cookbooks.rs) loads their seeds and runs the reads.

use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures")
}

/// (file name, source) of each `.gq` file of a cookbook, in name order.
fn query_files(cookbook: &str) -> Vec<(String, String)> {
    let dir = fixtures().join(cookbook).join("queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "gq"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("read query file"))
        })
        .collect()
}

/// Checks one cookbook (a fixture name, or a folder); returns (reads, mutations) checked.
fn check_cookbook(cookbook: &str) -> (usize, usize) {
    let schema = std::fs::read_to_string(fixtures().join(cookbook).join("schema.pg"))
        .unwrap_or_else(|e| panic!("{cookbook}/schema.pg: {e}"));
    let catalog = omnigraph_lang::parse_schema_named(&schema, "schema.pg")
        .unwrap_or_else(|e| panic!("{cookbook} schema: {e}"));
    let (mut reads, mut mutations) = (0, 0);
    for (name, source) in query_files(cookbook) {
        let queries = omnigraph_lang::query::compile_all(&catalog, &source, &name)
            .unwrap_or_else(|e| panic!("{cookbook}/queries/{e}"));
        for q in queries {
            match q.body {
                omnigraph_lang::QueryBody::Read(_) => reads += 1,
                omnigraph_lang::QueryBody::Mutation(_) => mutations += 1,
            }
        }
    }
    (reads, mutations)
}

#[test]
fn industry_intel_schema_and_every_query_check() {
    let (reads, mutations) = check_cookbook("industry-intel");
    assert!(
        reads >= 10 && mutations >= 10,
        "{reads} reads, {mutations} mutations"
    );
    let schema = std::fs::read_to_string(fixtures().join("industry-intel/schema.pg")).unwrap();
    let catalog = omnigraph_lang::parse_schema(&schema).unwrap();
    // Chunk has no @key: it has the system id, and PartOfArtifact's @unique(src) is on it.
    let chunk = catalog.node("Chunk").unwrap();
    assert!(chunk.system_id && chunk.key == "id");
    let part_of = catalog.edge("PartOfArtifact").unwrap();
    assert_eq!(part_of.unique, vec![vec!["from".to_string()]]);
}

#[test]
fn second_brain_schema_and_every_query_check() {
    let (reads, mutations) = check_cookbook("second-brain");
    assert!(
        reads >= 10 && mutations >= 10,
        "{reads} reads, {mutations} mutations"
    );
}

#[test]
#[ignore = "by hand: OMNIGRAPH_COOKBOOK_DIRS names cookbooks outside the repository"]
fn cookbooks_from_the_environment() {
    let dirs = std::env::var_os("OMNIGRAPH_COOKBOOK_DIRS")
        .expect("OMNIGRAPH_COOKBOOK_DIRS: colon-separated cookbook folders");
    for dir in std::env::split_paths(&dirs) {
        let (reads, mutations) = check_cookbook(dir.to_str().expect("utf-8 path"));
        eprintln!(
            "{}: {reads} reads, {mutations} mutations check",
            dir.display()
        );
    }
}
