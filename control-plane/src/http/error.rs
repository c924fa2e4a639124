//! Domain errors -> the API envelope. Statuses are chosen by `ApiError`'s code; this is
//! the only place that picks a code for a control-plane error.

use omnigraph_config::{InsertGraphError, RewriteAtomicError, RewriteWithError};
use omnigraph_http::ApiError;

use omnigraph_storage::StorageError;

use crate::graphs::create::CreateGraphError;
use crate::graphs::delete::DeleteGraphError;
use crate::graphs::inspect::InspectGraphError;
use crate::graphs::policy::{PolicyChoiceError, StorePolicyError};
use crate::graphs::update::UpdateGraphError;

impl From<CreateGraphError> for ApiError {
    fn from(err: CreateGraphError) -> Self {
        use CreateGraphError as E;
        let message = err.to_string();
        match err {
            E::InvalidGraphId(_)
            | E::InvalidUri(_)
            | E::EmptySchema
            | E::InvalidSchema(_)
            | E::Policy(
                PolicyChoiceError::Spec(_)
                | PolicyChoiceError::File(_)
                | PolicyChoiceError::Invalid(_)
                | PolicyChoiceError::OpenMode,
            )
            | E::StorageRejected { .. } => ApiError::bad_request(message),
            E::Duplicate(_)
            | E::StorageExists(_)
            | E::StorageDeleted(_)
            | E::StorePolicy(StorePolicyError::Exists(_)) => ApiError::conflict(message),
            E::Drift(_) => ApiError::service_unavailable(message),
            E::Rewrite(rewrite) => rewrite_error(rewrite, message),
            E::StorageFailed { source, .. } if source.is_unavailable() => {
                storage_unavailable(message)
            }
            E::StorageFailed { .. }
            | E::StorePolicy(StorePolicyError::Io { .. })
            | E::Policy(PolicyChoiceError::Task(_))
            | E::Task(_) => {
                tracing::error!("graph creation failed: {message}");
                ApiError::internal(message)
            }
        }
    }
}

/// The graph's object store could not be reached: retryable, not this server's fault.
fn storage_unavailable(message: String) -> ApiError {
    tracing::warn!("object store unavailable: {message}");
    ApiError::service_unavailable(format!(
        "graph storage is unavailable, retry later: {message}"
    ))
    .with_retry_after(1)
}

fn rewrite_error(err: RewriteWithError<InsertGraphError>, message: String) -> ApiError {
    match err {
        RewriteWithError::Rewrite(RewriteAtomicError::Drift { .. }) => {
            ApiError::service_unavailable(message)
        }
        RewriteWithError::Update(
            InsertGraphError::DuplicateId(_) | InsertGraphError::DuplicateUri { .. },
        ) => ApiError::conflict(message),
        RewriteWithError::Update(InsertGraphError::EmptyUri(_)) => ApiError::bad_request(message),
        // The file turned single-mode under the same hash (impossible), or an I/O or
        // serialization failure: this server's fault.
        RewriteWithError::Update(InsertGraphError::SingleMode) | RewriteWithError::Rewrite(_) => {
            tracing::error!("omnigraph.yaml rewrite failed: {message}");
            ApiError::internal(message)
        }
    }
}

impl From<DeleteGraphError> for ApiError {
    fn from(err: DeleteGraphError) -> Self {
        use DeleteGraphError as E;
        let message = err.to_string();
        match err {
            E::InvalidGraphId(_) => ApiError::bad_request(message),
            E::NotFound(_) => ApiError::not_found(message),
            E::Drift(_) => ApiError::service_unavailable(message),
            E::Rewrite {
                source: RewriteWithError::Rewrite(RewriteAtomicError::Drift { .. }),
                ..
            } => ApiError::service_unavailable(message),
            // Nothing changed yet: a retry is right. (A failed purge comes after the
            // delete took effect, so it stays a 500 naming the purge command.)
            E::Tombstone { source, .. } if source.is_unavailable() => storage_unavailable(message),
            E::Tombstone { .. } | E::Rewrite { .. } | E::Purge { .. } | E::Task(_) => {
                tracing::error!("graph deletion failed: {message}");
                ApiError::internal(message)
            }
        }
    }
}

impl From<UpdateGraphError> for ApiError {
    fn from(err: UpdateGraphError) -> Self {
        use UpdateGraphError as E;
        let message = err.to_string();
        match err {
            E::InvalidGraphId(_)
            | E::Policy(
                PolicyChoiceError::Spec(_)
                | PolicyChoiceError::File(_)
                | PolicyChoiceError::Invalid(_)
                | PolicyChoiceError::OpenMode,
            ) => ApiError::bad_request(message),
            E::NotFound(_) => ApiError::not_found(message),
            E::Drift(_)
            | E::Rewrite(RewriteWithError::Rewrite(RewriteAtomicError::Drift { .. })) => {
                ApiError::service_unavailable(message)
            }
            E::StorePolicy(StorePolicyError::Exists(_)) => ApiError::conflict(message),
            E::StorePolicy(StorePolicyError::Io { .. })
            | E::Rewrite(_)
            | E::Policy(PolicyChoiceError::Task(_))
            | E::Task(_) => {
                tracing::error!("graph policy replacement failed: {message}");
                ApiError::internal(message)
            }
        }
    }
}

impl From<InspectGraphError> for ApiError {
    fn from(err: InspectGraphError) -> Self {
        let message = err.to_string();
        match err {
            InspectGraphError::InvalidGraphId(_) => ApiError::bad_request(message),
            InspectGraphError::NotFound(_) => ApiError::not_found(message),
            InspectGraphError::Storage { source, .. } => match *source {
                StorageError::NotFound(_) | StorageError::Deleted(_) => {
                    ApiError::not_found(message)
                }
                e if e.is_unavailable() => storage_unavailable(message),
                _ => {
                    tracing::error!("graph inspection failed: {message}");
                    ApiError::internal(message)
                }
            },
        }
    }
}
