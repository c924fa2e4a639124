//! Where a graph lives: a local directory or an `s3://bucket/prefix`, behind one
//! object-store interface so that both take the same code path.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{EngineError, Result};

#[derive(Clone)]
pub struct GraphLocation {
    /// The graph's URI as given, normalised (no trailing slash; local paths absolute).
    pub uri: String,
    /// Object store rooted so that `ObjectPath` values are relative to the graph.
    pub store: Arc<dyn ObjectStore>,
    /// Prefix of the graph inside `store` (empty for local stores, which are rooted at the graph).
    prefix: String,
}

impl std::fmt::Debug for GraphLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphLocation")
            .field("uri", &self.uri)
            .finish()
    }
}

/// Retries of the engine's own object-store requests: as Lance's client does by default
/// (3 retries), but giving up within 30 s instead of 3 minutes, so that a request made
/// while the store is down fails in time for its caller to see a 503 (Lance's own
/// client follows OBJECT_STORE_CLIENT_MAX_RETRIES / OBJECT_STORE_CLIENT_RETRY_TIMEOUT).
fn store_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(30),
        ..Default::default()
    }
}

impl GraphLocation {
    /// Resolve a graph URI. Local directories are created if missing.
    pub fn parse(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(EngineError::Invalid("graph uri is empty".into()));
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let rest = rest.trim_end_matches('/');
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(EngineError::Invalid(format!("no bucket in uri {uri}")));
            }
            // Endpoint, region, credentials and path-style come from the standard AWS_* variables.
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(store_retries())
                .build()
                .map_err(EngineError::ObjectStore)?;
            return Ok(GraphLocation {
                uri: format!("s3://{bucket}/{prefix}")
                    .trim_end_matches('/')
                    .to_string(),
                store: Arc::new(store),
                prefix: prefix.to_string(),
            });
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(EngineError::Invalid(format!(
                "unsupported graph uri {uri}: use a local path, file:// or s3://"
            )));
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        let path = std::path::absolute(path)?;
        let path_str = path.to_string_lossy().trim_end_matches('/').to_string();
        Ok(GraphLocation {
            uri: path_str,
            store: Arc::new(LocalFileSystem::new()),
            prefix: path.to_string_lossy().trim_start_matches('/').to_string(),
        })
    }

    pub fn is_local(&self) -> bool {
        !self.uri.starts_with("s3://")
    }

    /// Object path of a file relative to the graph root.
    pub fn path(&self, relative: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!(
                "{}/{}",
                self.prefix.trim_end_matches('/'),
                relative
            ))
        }
    }

    /// Deletes every object under `relative` (a folder of the graph); returns how many.
    /// Objects already gone are not an error (two deleters, or a retry).
    pub async fn delete_all(&self, relative: &str) -> Result<u64> {
        use futures::TryStreamExt;
        use object_store::ObjectStoreExt;
        let objects: Vec<_> = self
            .store
            .list(Some(&self.path(relative)))
            .try_collect()
            .await?;
        let mut deleted = 0;
        for object in objects {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            deleted += 1;
        }
        Ok(deleted)
    }

    /// URI of something inside the graph, in the form Lance opens.
    pub fn child_uri(&self, relative: &str) -> String {
        format!("{}/{}", self.uri, relative)
    }
}
