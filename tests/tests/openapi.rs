//! `GET /openapi.json` of real data-plane workers (README.md, "OpenAPI"): the
//! multi-mode document nests every graph route under `/graphs/{graph_id}` with
//! `cluster_` operation ids, single mode serves the committed flat document, and the
//! security schemes follow the auth mode. (The control plane's document is checked in
//! control_plane_registry.rs; both documents' route coverage and drift are unit tests
//! of the two binaries.)

use std::collections::BTreeSet;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const TOKENS: &str = r#"{"admin":"admin-token-0123456789"}"#;
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn committed() -> Value {
    let path = workspace_file("openapi/data-plane.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("committed document")).expect("JSON")
}

/// `(path, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.clone(), m.to_owned(), op.clone()));
            }
        }
    }
    out
}

/// Paths of the flat document whose operations act on one graph (tag `graph`).
fn graph_paths(flat: &Value) -> BTreeSet<String> {
    graph_operations(flat).into_iter().map(|(p, _)| p).collect()
}

/// `(path, method)` of every graph route of a flat document (tags other than health and
/// internal).
fn graph_operations(flat: &Value) -> Vec<(String, String)> {
    operations(flat)
        .into_iter()
        .filter(|(_, _, op)| {
            let tags = op["tags"].to_string();
            !tags.contains("\"health\"") && !tags.contains("\"internal\"")
        })
        .map(|(p, m, _)| (p, m))
        .collect()
}

/// A worker in multi mode serving `alpha` and `beta`; `env` decides the auth mode.
fn multi_worker(env: &[(&str, &str)]) -> (TempGraph, TempGraph, DataPlane) {
    let a = TempGraph::new("social.pg");
    let b = TempGraph::new("social.pg");
    let config = a.dir.path().join("omnigraph.yaml");
    let yaml = format!(
        "graphs:\n  alpha:\n    uri: {}\n  beta:\n    uri: {}\n",
        a.store, b.store
    );
    std::fs::write(&config, yaml).expect("config");
    let dp = DataPlane::with_config(&config, &[], env);
    (a, b, dp)
}

fn single_worker(env: &[(&str, &str)]) -> (TempGraph, DataPlane) {
    let g = TempGraph::new("social.pg");
    let config = g.dir.path().join("omnigraph.yaml");
    std::fs::write(&config, format!("graph:\n  uri: {}\n", g.store)).expect("config");
    let dp = DataPlane::with_config(&config, &[], env);
    (g, dp)
}

fn served_doc(dp: &DataPlane) -> Value {
    let (status, doc) = dp.get("/openapi.json", None);
    assert_eq!(status, 200, "{doc}");
    doc
}

fn multi_doc() -> (TempGraph, TempGraph, DataPlane, Value) {
    let (a, b, dp) = multi_worker(&[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)]);
    let doc = served_doc(&dp);
    (a, b, dp, doc)
}

#[test]
fn multi_mode_openapi_lists_cluster_paths() {
    let (_a, _b, dp, doc) = multi_doc();
    let flat = graph_paths(&committed());
    assert!(
        flat.contains("/read") && flat.contains("/query"),
        "{flat:?}"
    );
    for path in &flat {
        let nested = format!("/graphs/{{graph_id}}{path}");
        let item = &doc["paths"][&nested];
        assert!(item.is_object(), "{nested} missing");
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let param = &op["parameters"][0];
                assert_eq!(param["name"], "graph_id", "{nested}");
                assert_eq!(param["in"], "path");
                assert_eq!(param["required"], true);
            }
        }
    }
    // Every documented nested route is served: a request to it is never route-not-found.
    for (path, method, _) in operations(&doc) {
        let Some(rest) = path.strip_prefix("/graphs/{graph_id}") else {
            continue;
        };
        let url = format!("{}/graphs/alpha{rest}", dp.url);
        let request = match method.as_str() {
            "get" => dp.client().get(&url),
            _ => dp.client().post(&url).json(&json!({})),
        };
        let response = request
            .bearer_auth("admin-token-0123456789")
            .send()
            .expect("request");
        let status = response.status().as_u16();
        let body = response.text().unwrap_or_default();
        assert!(
            ![404, 405].contains(&status) || !body.contains("no route"),
            "{method} {path}: {status} {body}"
        );
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
}

#[test]
fn multi_mode_openapi_drops_flat_protected_paths() {
    let (_a, _b, _dp, doc) = multi_doc();
    for path in graph_paths(&committed()) {
        assert!(
            doc["paths"].get(&path).is_none(),
            "flat {path} still listed"
        );
    }
}

#[test]
fn multi_mode_openapi_keeps_healthz_flat() {
    let (_a, _b, _dp, doc) = multi_doc();
    assert_eq!(doc["paths"]["/healthz"]["get"]["operationId"], "healthz");
    assert_eq!(
        doc["paths"]["/openapi.json"]["get"]["operationId"],
        "openapi"
    );
    assert!(doc["paths"].get("/graphs/{graph_id}/healthz").is_none());
}

#[test]
fn multi_mode_openapi_prefixes_operation_ids_with_cluster() {
    let (_a, _b, _dp, doc) = multi_doc();
    let mut nested = 0;
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().expect("operation id");
        if path.starts_with("/graphs/{graph_id}/") {
            nested += 1;
            assert!(id.starts_with("cluster_"), "{method} {path}: {id}");
        } else {
            assert!(!id.starts_with("cluster_"), "{method} {path}: {id}");
        }
    }
    assert_eq!(nested, graph_operations(&committed()).len());
    assert_eq!(
        doc["paths"]["/graphs/{graph_id}/read"]["post"]["operationId"],
        "cluster_read"
    );
}

#[test]
fn multi_mode_operation_ids_are_unique() {
    let (_a, _b, _dp, doc) = multi_doc();
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().expect("id").to_owned())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

#[test]
fn single_mode_openapi_unchanged_by_cluster_filter() {
    let (_g, dp) = single_worker(&[("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS)]);
    let doc = served_doc(&dp);
    assert_eq!(
        doc,
        committed(),
        "single mode serves the committed flat document"
    );
    assert!(doc["paths"]["/read"]["post"].is_object());
    assert!(doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .all(|p| !p.starts_with("/graphs/")));
}

#[test]
fn open_mode_openapi_has_no_security() {
    for dp in [
        single_worker(&[("OMNIGRAPH_UNAUTHENTICATED", "1")]).1,
        multi_worker(&[("OMNIGRAPH_UNAUTHENTICATED", "1")]).2,
    ] {
        let doc = served_doc(&dp);
        let schemes = &doc["components"]["securitySchemes"];
        assert!(
            schemes.as_object().is_none_or(|s| s.is_empty()),
            "{schemes}"
        );
        for (path, method, op) in operations(&doc) {
            assert!(op.get("security").is_none(), "{method} {path}");
        }
    }
}

#[test]
fn auth_mode_openapi_requires_bearer_on_graph_routes_only() {
    let (_a, _b, _dp, doc) = multi_doc();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer_token"]["scheme"],
        "bearer"
    );
    for (path, method, op) in operations(&doc) {
        let security = op.get("security").map(Value::to_string).unwrap_or_default();
        if path.starts_with("/graphs/") {
            assert!(security.contains("bearer_token"), "{method} {path}");
        } else if path.starts_with("/internal/") {
            assert!(security.contains("internal_token"), "{method} {path}");
        } else if path == "/metrics" {
            assert!(security.contains("metrics_token"), "{method} {path}");
        } else {
            assert!(security.is_empty(), "{method} {path} is public");
        }
    }
}

#[test]
fn documented_request_examples_work_against_the_example_graph() {
    let (g, dp) = single_worker(&[("OMNIGRAPH_UNAUTHENTICATED", "1")]);
    dp_ok(&[
        "load",
        "--data",
        fixture("social.jsonl").to_str().unwrap(),
        "--mode",
        "overwrite",
        "--store",
        &g.store,
    ]);
    let doc = committed();
    let mut tried = 0;
    for (path, method, op) in operations(&doc) {
        let Some(schema_ref) =
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        else {
            continue;
        };
        let name = schema_ref.rsplit('/').next().expect("schema name");
        let example = &doc["components"]["schemas"][name]["example"];
        if example.is_null() || path.starts_with("/internal/") {
            continue;
        }
        assert_eq!(method, "post", "{path}");
        let (status, body) = dp.post_text(&path, example.to_string(), None);
        assert!(
            (200..300).contains(&status),
            "{path} with {example}: {status} {body}"
        );
        tried += 1;
    }
    assert!(tried >= 7, "only {tried} examples");
}
