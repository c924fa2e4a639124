//! Storage errors. The engine turns each into the `EngineError` variant of the same name
//! (shared/engine/src/error.rs); the control plane maps them to statuses itself
//! (control-plane/src/http/error.rs).

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request is well-formed but not valid here (bad uri, bad ref name, ...).
    #[error("{0}")]
    Invalid(String),
    /// Another writer published the graph version this writer meant to publish.
    #[error("graph version {0} was published by another writer")]
    VersionTaken(u64),
    /// No graph at this location, or no such graph version, branch, tag or commit.
    #[error("{0}")]
    NotFound(String),
    /// A graph version that version cleanup deleted.
    #[error("{0}")]
    Reclaimed(String),
    /// The location holds a deleted (tombstoned) graph.
    #[error("{0}")]
    Deleted(String),
    /// A graph, branch or tag of that name already exists.
    #[error("a graph already exists at {0}")]
    AlreadyExists(String),
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored state that cannot be made sense of (corrupt manifest, ...).
    #[error("corrupt graph storage: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// True when the object store could not be reached, timed out, or answered with a
    /// server error (after the client's own retries): nothing is wrong with the request
    /// or the graph, and the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        is_unavailable(self)
    }
}

/// Whether `error` or one of its causes is an object store that could not be reached, timed
/// out or answered with a 5xx (shared by the engine's errors, which wrap Lance's).
pub fn is_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as K;
            if matches!(
                http.kind(),
                K::Connect | K::Request | K::Timeout | K::Interrupted
            ) {
                return true;
            }
        }
        // A 5xx answer of the store: object_store keeps the status in a private type,
        // whose message is stable ("Server returned non-2xx status code: 503 ...").
        if e.to_string()
            .contains("Server returned non-2xx status code: 5")
        {
            return true;
        }
        cause = e.source();
    }
    false
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
