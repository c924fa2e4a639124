//! Wire types shared by the control plane, the data plane and their clients (serde +
//! utoipa schemas), the JSON error envelope, and the axum glue that makes every error
//! (including the framework's own) answer with that envelope.

mod branches;
mod data;
mod error;
mod extract;
mod graphs;
mod health;
mod logging;
pub mod metrics;
pub mod openapi;
mod registry;
mod routes;
pub mod telemetry;

#[cfg(test)]
mod wire_tests;

pub use branches::{
    BranchInfo, BranchListResponse, CommitInfo, CommitListResponse, CommitsQuery,
    CreateBranchRequest, CreateTagRequest, DeleteBranchResponse, MergeOutcome, MergeRequest,
    MergeResponse, TagInfo, TagListResponse,
};
pub use data::{
    BranchQuery, ChangeRequest, ChangeResponse, CleanupResult, CompactedTable, CompactionResult,
    EntitiesLoaded, ExportRequest, IngestMode, IngestRequest, IngestResponse, LoadNdjsonQuery,
    LoadNdjsonResponse, LoadProgress, LoadTableQuery, MaintenanceRequest, MaintenanceResponse,
    MaintenanceRun, MaintenanceState, QueryParams, ReadRequest, ReadResponse, ReadTarget,
    SchemaApplyRequest, SchemaApplyResponse, SchemaResponse, SchemaStep, SchemaStepKind,
    SnapshotResponse, SnapshotTable, TableLoadCount, NDJSON_CONTENT_TYPE,
};
pub use error::{
    ApiError, ErrorBody, ErrorCode, ManifestConflict, MergeConflict, MergeConflictKind,
};
pub use extract::{
    error_envelope, json_rejection_error, method_not_allowed, route_not_found, ApiJson, ApiPath,
    ApiQuery, DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES,
};
pub use graphs::{
    CreateGraphRequest, DeleteGraphQuery, DeleteGraphResponse, GraphDetails, GraphInfo,
    GraphListResponse, GraphPolicySpec, GraphWorker, PolicySource, PolicySpecError, PolicySummary,
    SchemaSource, TableRowCount, UpdateGraphRequest,
};
pub use health::{
    AuthModeReport, HealthResponse, HealthStatus, ReadyResponse, ServeMode, WorkerStatus,
};
pub use logging::{
    init_logging, record_actor, with_request_logging, LOG_FORMAT_ENV, REQUEST_ID_HEADER,
};
pub use registry::{
    RegistryAck, RegistryDocument, RegistryGraph, WorkerAuth, WorkerRegistration,
    INTERNAL_TOKEN_ENV, REGISTER_WORKER_PATH, REGISTRY_PATH,
};
pub use routes::{Route, RouteTable};
