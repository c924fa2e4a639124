//! Wire types shared by the control plane, the data plane and their clients: the request
//! and response bodies (serde, with their utoipa schemas) and the JSON error envelope.
//! No HTTP server code: the planes' HTTP plumbing (extractors, the error answer,
//! middleware, the OpenAPI document) is shared/http.

mod branches;
mod data;
mod error;
mod graphs;
mod health;
mod registry;

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
pub use error::{ErrorBody, ErrorCode, ManifestConflict, MergeConflict, MergeConflictKind};
pub use graphs::{
    CreateGraphRequest, DeleteGraphQuery, DeleteGraphResponse, GraphDetails, GraphInfo,
    GraphListResponse, GraphPolicySpec, GraphWorker, PolicySource, PolicySpecError, PolicySummary,
    SchemaSource, TableRowCount, UpdateGraphRequest,
};
pub use health::{
    AuthModeReport, HealthResponse, HealthStatus, ReadyResponse, ServeMode, WorkerStatus,
};
pub use registry::{
    RegistryAck, RegistryDocument, RegistryGraph, WorkerAuth, WorkerRegistration,
    INTERNAL_TOKEN_ENV, REGISTER_WORKER_PATH, REGISTRY_PATH,
};
