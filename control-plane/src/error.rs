//! Domain errors -> the API envelope. Statuses are chosen by `ApiError`'s code; this is
//! the only place that picks a code for a control-plane error.

use omnigraph_api::ApiError;
use omnigraph_config::{InsertGraphError, RewriteAtomicError, RewriteWithError};

use crate::graph_create::CreateGraphError;

impl From<CreateGraphError> for ApiError {
    fn from(err: CreateGraphError) -> Self {
        use CreateGraphError as E;
        let message = err.to_string();
        match err {
            E::InvalidGraphId(_)
            | E::InvalidUri(_)
            | E::EmptySchema
            | E::InvalidSchema(_)
            | E::PolicySpec(_)
            | E::InvalidPolicy(_)
            | E::PolicyInOpenMode
            | E::StorageRejected { .. } => ApiError::bad_request(message),
            E::Duplicate(_) | E::StorageExists(_) | E::StoredPolicyExists(_) => {
                ApiError::conflict(message)
            }
            E::Drift(_) => ApiError::service_unavailable(message),
            E::Rewrite(rewrite) => rewrite_error(rewrite, message),
            E::StorageFailed { .. } | E::StorePolicy { .. } | E::Task(_) => {
                tracing::error!("graph creation failed: {message}");
                ApiError::internal(message)
            }
        }
    }
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
