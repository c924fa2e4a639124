//! JSON shapes of the wire types, pinned against the documented examples.

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::*;

fn round_trip<T>(value: &T) -> Value
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, value);
    json
}

#[test]
fn create_graph_request_parses_the_documented_body() {
    let body = json!({
        "graph_id": "beta",
        "uri": "/data/beta.omni",
        "schema": { "source": "node Person { name: String @key }\n" },
        "policy": { "file": "./policies/beta.yaml" }
    });
    let req: CreateGraphRequest = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(req.graph_id, "beta");
    assert_eq!(req.schema.source, "node Person { name: String @key }\n");
    let policy = req.policy.as_ref().unwrap();
    assert_eq!(
        policy.source(),
        Ok(PolicySource::File("./policies/beta.yaml"))
    );
    assert_eq!(round_trip(&req), body);
}

#[test]
fn create_graph_request_policy_is_optional_and_schema_required() {
    let req: CreateGraphRequest = serde_json::from_value(
        json!({ "graph_id": "a", "uri": "/a", "schema": { "source": "x" } }),
    )
    .unwrap();
    assert!(req.policy.is_none());
    let err = serde_json::from_value::<CreateGraphRequest>(json!({ "graph_id": "a", "uri": "/a" }))
        .unwrap_err();
    assert!(err.to_string().contains("schema"), "{err}");
}

#[test]
fn graph_policy_spec_needs_exactly_one_source() {
    let spec = |file: Option<&str>, content: Option<&str>| GraphPolicySpec {
        file: file.map(str::to_owned),
        content: content.map(str::to_owned),
    };
    assert_eq!(
        spec(None, Some("version: 1")).source(),
        Ok(PolicySource::Content("version: 1"))
    );
    assert_eq!(
        spec(Some("a"), Some("b")).source(),
        Err(PolicySpecError::Both)
    );
    assert_eq!(spec(None, None).source(), Err(PolicySpecError::Missing));
    assert_eq!(
        spec(Some("  "), None).source(),
        Err(PolicySpecError::Missing)
    );
}

#[test]
fn graph_list_response_shape() {
    let list = GraphListResponse {
        graphs: vec![GraphInfo {
            graph_id: "alpha".into(),
            uri: "/data/alpha.omni".into(),
        }],
    };
    assert_eq!(
        round_trip(&list),
        json!({ "graphs": [ { "graph_id": "alpha", "uri": "/data/alpha.omni" } ] })
    );
}

#[test]
fn registry_document_carries_policy_text_and_omits_absent_policy() {
    let doc = RegistryDocument {
        generation: 7,
        graphs: vec![
            RegistryGraph {
                graph_id: "alpha".into(),
                uri: "/a".into(),
                policy: Some("version: 1\n".into()),
            },
            RegistryGraph {
                graph_id: "beta".into(),
                uri: "/b".into(),
                policy: None,
            },
        ],
    };
    assert_eq!(
        round_trip(&doc),
        json!({ "generation": 7, "graphs": [
            { "graph_id": "alpha", "uri": "/a", "policy": "version: 1\n" },
            { "graph_id": "beta", "uri": "/b" }
        ] })
    );
    let reg = WorkerRegistration {
        worker_id: "w1".into(),
        url: "http://10.0.0.7:8080".into(),
        auth: Some(WorkerAuth::Bearer),
    };
    assert_eq!(
        round_trip(&reg),
        json!({ "worker_id": "w1", "url": "http://10.0.0.7:8080", "auth": "bearer" })
    );
    // Sent by a worker that predates `auth`: absent, which an authenticated control
    // plane refuses.
    let old: WorkerRegistration =
        serde_json::from_value(json!({ "worker_id": "w1", "url": "http://10.0.0.7:8080" }))
            .unwrap();
    assert_eq!(old.auth, None);
}

#[test]
fn read_request_needs_only_query_source_and_params_must_be_an_object() {
    let req: ReadRequest = serde_json::from_value(json!({ "query_source": "q" })).unwrap();
    assert_eq!(
        (req.query_name, req.params, req.branch, req.snapshot),
        (None, None, None, None)
    );
    let req: ReadRequest = serde_json::from_value(
        json!({ "query_source": "q", "params": { "name": "alice" }, "snapshot": 4, "branch": "dev" }),
    )
    .unwrap();
    assert_eq!(req.params.unwrap()["name"], "alice");
    assert_eq!(req.snapshot, Some(4));
    assert!(
        serde_json::from_value::<ReadRequest>(json!({ "query_source": "q", "params": [1] }))
            .is_err()
    );
}

#[test]
fn read_response_rows_are_objects_keyed_by_column() {
    let mut row = serde_json::Map::new();
    row.insert("name".into(), json!("alice"));
    let resp = ReadResponse {
        query_name: "people".into(),
        target: ReadTarget {
            branch: Some("main".into()),
            manifest_version: 3,
        },
        row_count: 1,
        columns: vec!["name".into()],
        rows: vec![row],
    };
    assert_eq!(
        round_trip(&resp),
        json!({ "query_name": "people", "target": { "branch": "main", "manifest_version": 3 },
                "row_count": 1, "columns": ["name"], "rows": [ { "name": "alice" } ] })
    );
}

#[test]
fn ingest_mode_defaults_to_merge_and_rejects_unknown_modes() {
    let req: IngestRequest = serde_json::from_value(json!({ "data": "{}\n" })).unwrap();
    assert_eq!(req.mode, IngestMode::Merge);
    for (mode, name) in [
        (IngestMode::Overwrite, "overwrite"),
        (IngestMode::Append, "append"),
        (IngestMode::Merge, "merge"),
    ] {
        assert_eq!(serde_json::to_value(mode).unwrap(), json!(name));
        assert_eq!(mode.as_str(), name);
    }
    assert!(
        serde_json::from_value::<IngestRequest>(json!({ "data": "", "mode": "upsert" })).is_err()
    );
}

#[test]
fn change_ingest_and_snapshot_responses_shape() {
    let change = ChangeResponse {
        branch: "main".into(),
        query_name: "add".into(),
        affected_nodes: 2,
        affected_edges: 1,
        manifest_version: 7,
        actor_id: Some("act-a".into()),
    };
    assert_eq!(
        round_trip(&change),
        json!({ "branch": "main", "query_name": "add", "affected_nodes": 2, "affected_edges": 1, "manifest_version": 7, "actor_id": "act-a" })
    );
    let ingest = IngestResponse {
        uri: "/a".into(),
        branch: "main".into(),
        mode: IngestMode::Append,
        tables: vec![TableLoadCount {
            table_key: "node:Person".into(),
            rows_loaded: 10,
        }],
        actor_id: None,
    };
    assert_eq!(
        round_trip(&ingest),
        json!({ "uri": "/a", "branch": "main", "mode": "append", "tables": [ { "table_key": "node:Person", "rows_loaded": 10 } ] })
    );
    let snapshot = SnapshotResponse {
        branch: "main".into(),
        manifest_version: 9,
        tables: vec![SnapshotTable {
            table_key: "node:Person".into(),
            table_path: "nodes/Person.lance".into(),
            table_version: 3,
            row_count: 10,
        }],
    };
    assert_eq!(round_trip(&snapshot)["tables"][0]["table_version"], 3);
}

#[test]
fn health_response_omits_plane_specific_fields() {
    let worker = HealthResponse {
        status: HealthStatus::Ok,
        version: "0.1.0".into(),
        auth: AuthModeReport::Open,
        mode: Some(ServeMode::Multi),
        registry_generation: Some(3),
        config_drift: None,
        workers: None,
        warnings: vec!["open mode".into()],
    };
    assert_eq!(
        round_trip(&worker),
        json!({ "status": "ok", "version": "0.1.0", "auth": "open", "mode": "multi", "registry_generation": 3, "warnings": ["open mode"] })
    );
}

#[derive(OpenApi)]
#[openapi(components(schemas(
    ErrorBody,
    ErrorCode,
    ManifestConflict,
    MergeConflict,
    HealthResponse,
    WorkerStatus,
    GraphInfo,
    GraphListResponse,
    CreateGraphRequest,
    GraphPolicySpec,
    SchemaSource,
    RegistryDocument,
    RegistryGraph,
    WorkerRegistration,
    RegistryAck,
    ReadRequest,
    ReadResponse,
    ReadTarget,
    ChangeRequest,
    ChangeResponse,
    IngestRequest,
    IngestResponse,
    IngestMode,
    TableLoadCount,
    SchemaResponse,
    SchemaApplyRequest,
    SchemaApplyResponse,
    SchemaStep,
    SchemaStepKind,
    SnapshotResponse,
    SnapshotTable,
    MaintenanceRequest,
    MaintenanceResponse,
    CompactionResult,
    CompactedTable,
    CleanupResult,
    MaintenanceRun,
    MaintenanceState,
    CreateTagRequest,
    TagInfo,
    TagListResponse,
    ExportRequest,
    BranchQuery
)))]
struct AllSchemas;

#[test]
fn every_wire_type_has_an_openapi_schema() {
    let doc = serde_json::to_value(AllSchemas::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "HealthStatus",
        "AuthModeReport",
        "ServeMode",
        "ErrorCode",
        "IngestMode",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(schemas["ErrorCode"]["enum"].as_array().unwrap().len(), 15);
    let create = &schemas["CreateGraphRequest"];
    let required: Vec<&str> = create["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["graph_id", "uri", "schema"]);
    assert_eq!(schemas["ErrorBody"]["required"], json!(["error", "code"]));
    assert_eq!(schemas["IngestRequest"]["required"], json!(["data"]));
}

#[test]
fn tag_bodies_parse_the_documented_forms_and_maintenance_flags_default_to_false() {
    let by_commit: CreateTagRequest =
        serde_json::from_value(json!({ "name": "release-1", "commit": "main.7" })).unwrap();
    assert_eq!(by_commit.commit.as_deref(), Some("main.7"));
    assert!(by_commit.branch.is_none());
    let by_branch: CreateTagRequest =
        serde_json::from_value(json!({ "name": "r", "branch": "dev" })).unwrap();
    assert_eq!(
        round_trip(&by_branch),
        json!({ "name": "r", "branch": "dev" })
    );
    assert!(serde_json::from_value::<CreateTagRequest>(json!({ "commit": "main.7" })).is_err());
    // Old records and answers without the deadline flags still parse; false is not written.
    let cleanup: CleanupResult = serde_json::from_value(json!({
        "graph_versions_deleted": 1, "files_deleted": 2, "bytes_deleted": 3, "oldest_kept_version": 4
    }))
    .unwrap();
    assert!(!cleanup.deadline_reached);
    assert!(round_trip(&cleanup).get("deadline_reached").is_none());
    let read: ReadRequest =
        serde_json::from_value(json!({ "query_source": "q", "tag": "release-1" })).unwrap();
    assert_eq!(read.tag.as_deref(), Some("release-1"));
}
