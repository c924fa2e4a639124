use std::collections::BTreeSet;

use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, OpenApiBuilder, PathsBuilder};

use super::*;

fn op(id: &str) -> utoipa::openapi::path::Operation {
    OperationBuilder::new()
        .operation_id(Some(id))
        .security(SecurityRequirement::new::<_, _, &str>(BEARER_SCHEME, []))
        .build()
}

fn sample() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .paths(
            PathsBuilder::new()
                .path("/healthz", PathItem::new(HttpMethod::Get, op("healthz")))
                .path("/read", PathItem::new(HttpMethod::Post, op("read")))
                .path("/schema", PathItem::new(HttpMethod::Get, op("schema_get"))),
        )
        .build();
    doc.components = None;
    doc
}

#[test]
fn security_schemes_are_added_even_without_components() {
    let mut doc = sample();
    assert!(doc.components.is_none());
    add_security_schemes(&mut doc);
    let schemes = &doc.components.as_ref().unwrap().security_schemes;
    assert!(schemes.contains_key(BEARER_SCHEME));
    assert!(schemes.contains_key(INTERNAL_SCHEME));
}

#[test]
fn strip_security_leaves_no_scheme_and_no_requirement() {
    let mut doc = sample();
    add_security_schemes(&mut doc);
    strip_security(&mut doc);
    assert!(doc.components.as_ref().unwrap().security_schemes.is_empty());
    for item in doc.paths.paths.values() {
        for op in operations(item) {
            assert!(op.security.is_none());
        }
    }
}

#[test]
fn alias_copies_the_operation_under_its_own_id() {
    let mut doc = sample();
    add_alias(&mut doc, "POST", "/read", "/query", "query");
    let alias = doc.paths.paths["/query"].post.as_ref().unwrap();
    assert_eq!(alias.operation_id.as_deref(), Some("query"));
    assert_eq!(alias.summary.as_deref(), Some("Alias of POST /read"));
    let canonical = doc.paths.paths["/read"].post.as_ref().unwrap();
    assert_eq!(canonical.operation_id.as_deref(), Some("read"));
    // An undocumented canonical path adds nothing.
    add_alias(&mut doc, "POST", "/nope", "/nope2", "nope2");
    assert!(!doc.paths.paths.contains_key("/nope2"));
}

#[test]
fn nesting_moves_graph_paths_only() {
    let mut doc = sample();
    let graph_paths: BTreeSet<String> = ["/read".to_owned(), "/schema".to_owned()].into();
    nest_graph_paths(&mut doc, &graph_paths);
    let endpoints = documented_endpoints(&doc);
    let want: BTreeSet<(String, String)> = [
        ("GET", "/healthz"),
        ("POST", "/graphs/{graph_id}/read"),
        ("GET", "/graphs/{graph_id}/schema"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(endpoints, want);
    let read = doc.paths.paths["/graphs/{graph_id}/read"]
        .post
        .as_ref()
        .unwrap();
    assert_eq!(read.operation_id.as_deref(), Some("cluster_read"));
    let params = read.parameters.as_ref().unwrap();
    assert_eq!(params[0].name, "graph_id");
    let health = doc.paths.paths["/healthz"].get.as_ref().unwrap();
    assert_eq!(health.operation_id.as_deref(), Some("healthz"));
}

#[test]
fn update_switch_treats_empty_as_unset() {
    assert!(!update_requested(None));
    assert!(!update_requested(Some(String::new())));
    assert!(!update_requested(Some("  ".to_owned())));
    assert!(update_requested(Some("1".to_owned())));
}

#[test]
fn committed_copy_is_checked_and_rewritten() {
    let dir = std::env::temp_dir().join(format!("og-openapi-{}", std::process::id()));
    let file = dir.join("doc.json");
    let doc = sample();
    // Missing file: drift.
    assert!(matches!(
        check_or_update(&doc, &file, false),
        Err(CommittedDocError::Drift { .. })
    ));
    check_or_update(&doc, &file, true).unwrap();
    check_or_update(&doc, &file, false).unwrap();
    // A hand edit is drift.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("schema_get", "schema")).unwrap();
    let err = check_or_update(&doc, &file, false).unwrap_err();
    assert!(
        err.to_string().contains("OMNIGRAPH_UPDATE_OPENAPI=1"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn operation_id_problems_name_duplicates_and_missing_ids() {
    let mut doc = sample();
    assert!(operation_id_problems(&doc).is_empty());
    add_alias(&mut doc, "POST", "/read", "/query", "read");
    doc.paths
        .paths
        .get_mut("/schema")
        .unwrap()
        .get
        .as_mut()
        .unwrap()
        .operation_id = None;
    let problems = operation_id_problems(&doc);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p == "duplicate read"),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("GET /schema")),
        "{problems:?}"
    );
}
