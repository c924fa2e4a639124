//! Why `serve` could not start, and the engine-error -> HTTP mapping.

use omnigraph_api::{ErrorCode, ManifestConflict, MergeConflict, MergeConflictKind};
use omnigraph_engine::ConflictKind;
use omnigraph_engine::EngineError;
use omnigraph_http::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot load {path}: {source}")]
    Config {
        path: String,
        source: omnigraph_config::ConfigError,
    },
    #[error("cannot read policy file {path}: {source}")]
    PolicyFile {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tokens(#[from] omnigraph_policy::TokenConfigError),
    #[error(transparent)]
    AuthSetup(#[from] omnigraph_policy::AuthSetupError),
    #[error("give exactly one of --config and --control-plane")]
    Source,
    #[error("invalid --control-plane URL {0:?}")]
    ControlPlaneUrl(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("OMNIGRAPH_INTERNAL_TOKEN is set but blank; give it a value (shared with the control plane) or unset it")]
    BlankInternalToken,
    #[error("this worker authenticates its clients (bearer tokens) and serves a control plane's registry, so it needs OMNIGRAPH_INTERNAL_TOKEN (the control plane's) to guard /internal/*")]
    InternalTokenRequired,
    #[error(transparent)]
    Registry(#[from] super::registry::RegistryRefused),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a handler returns on failure: the envelope. `?` makes one from an engine error
/// (through [`engine_error`]) or from an [`ApiError`], so handlers need no `map_err`.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl From<EngineError> for HttpError {
    fn from(e: EngineError) -> Self {
        HttpError(engine_error(e))
    }
}

/// Storage errors as the engine errors of the same name.
impl From<omnigraph_engine::StorageError> for HttpError {
    fn from(e: omnigraph_engine::StorageError) -> Self {
        HttpError(engine_error(e.into()))
    }
}

impl std::ops::Deref for HttpError {
    type Target = ApiError;
    fn deref(&self) -> &ApiError {
        &self.0
    }
}

impl axum::response::IntoResponse for HttpError {
    fn into_response(self) -> axum::response::Response {
        self.0.into_response()
    }
}

/// The one mapping of engine errors to the envelope.
pub fn engine_error(e: EngineError) -> ApiError {
    let message = e.to_string();
    match e {
        EngineError::Conflict {
            table_key,
            expected,
            actual,
        } => ApiError::manifest_conflict(
            message,
            ManifestConflict {
                table_key,
                expected,
                actual,
            },
        ),
        EngineError::VersionTaken(_) | EngineError::AlreadyExists(_) => ApiError::conflict(message),
        EngineError::MergeConflicts(conflicts) => ApiError::merge_conflicts(
            message,
            conflicts
                .into_iter()
                .map(|c| MergeConflict {
                    kind: conflict_kind(c.kind),
                    table_key: c.table_key,
                    key: c.key,
                    message: c.message,
                })
                .collect(),
        ),
        EngineError::NotFound(_) | EngineError::Deleted(_) => ApiError::not_found(message),
        EngineError::Reclaimed(_) => ApiError::new(ErrorCode::VersionReclaimed, message),
        EngineError::QueryTimeout { .. } => ApiError::new(ErrorCode::QueryTimeout, message),
        EngineError::RowBudgetExceeded { .. } => {
            ApiError::new(ErrorCode::RowBudgetExceeded, message)
        }
        EngineError::ResultTooLarge { .. } => ApiError::new(ErrorCode::ResultTooLarge, message),
        // Only a read whose caller went away is cancelled: nobody reads this answer.
        EngineError::QueryCancelled => ApiError::new(ErrorCode::QueryTimeout, message),
        e if e.is_user_error() => ApiError::bad_request(message),
        EngineError::Embedding {
            unavailable: true, ..
        } => {
            tracing::warn!("embedding provider unavailable: {message}");
            ApiError::service_unavailable(message).with_retry_after(1)
        }
        e if e.is_storage_unavailable() => {
            tracing::warn!("object store unavailable: {message}");
            ApiError::service_unavailable(format!(
                "graph storage is unavailable, retry later: {message}"
            ))
            .with_retry_after(1)
        }
        _ => {
            tracing::error!("engine error: {message}");
            ApiError::internal(message)
        }
    }
}

fn conflict_kind(kind: ConflictKind) -> MergeConflictKind {
    match kind {
        ConflictKind::DivergentInsert => MergeConflictKind::DivergentInsert,
        ConflictKind::DivergentUpdate => MergeConflictKind::DivergentUpdate,
        ConflictKind::DeleteVsUpdate => MergeConflictKind::DeleteVsUpdate,
        ConflictKind::OrphanEdge => MergeConflictKind::OrphanEdge,
        ConflictKind::UniqueViolation => MergeConflictKind::UniqueViolation,
        ConflictKind::CardinalityViolation => MergeConflictKind::CardinalityViolation,
        ConflictKind::ValueConstraintViolation => MergeConflictKind::ValueConstraintViolation,
    }
}
