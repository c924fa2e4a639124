//! Where a graph lives: a local directory or an `s3://bucket/prefix`, behind one
//! object-store interface so that both take the same code path.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{Result, StorageError};

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

/// Characters a graph uri may not contain. Each one is read differently by the engine's
/// object store (which percent-encodes it in object names: `%` becomes `%25`) and by Lance
/// (which parses the uri as a URL: `%2e` is decoded, `?` starts a query, `#` a fragment), so
/// one uri would name two places; refusing them keeps one uri, one location.
pub const REFUSED_URI_CHARS: &[char] = &[
    '%', '?', '#', '\\', '{', '}', '^', '[', ']', '|', '<', '>', '"', '`', '*', '~',
];

/// Refuses a uri text that is not canonical: a character of [`REFUSED_URI_CHARS`], a
/// control character, or (in the part after `s3://bucket/`, an object key prefix that
/// Lance and the object store would resolve differently) an empty, `.` or `..` segment.
/// Local paths are made canonical by [`GraphLocation::parse`] instead (absolute, `.` and
/// `..` resolved lexically), since both Lance and the engine then get the same path.
pub fn check_uri_text(uri: &str) -> Result<()> {
    if let Some(c) = uri
        .chars()
        .find(|c| REFUSED_URI_CHARS.contains(c) || c.is_control())
    {
        return Err(StorageError::Invalid(format!(
            "graph uri {uri:?} contains {c:?}: percent-encoding and the characters {} are \
             not allowed in graph uris (each would name a second location)",
            REFUSED_URI_CHARS.iter().collect::<String>()
        )));
    }
    Ok(())
}

/// The segments of an object key prefix, refusing empty, `.` and `..` ones.
fn check_key_segments(uri: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Ok(());
    }
    if let Some(bad) = key
        .split('/')
        .find(|seg| seg.is_empty() || *seg == "." || *seg == "..")
    {
        return Err(StorageError::Invalid(format!(
            "graph uri {uri:?} has an {} path segment; write the path without it",
            if bad.is_empty() {
                "empty (`//`)".to_string()
            } else {
                format!("`{bad}`")
            }
        )));
    }
    Ok(())
}

/// An absolute local path with `.`, `..` and repeated `/` resolved lexically (as Lance
/// resolves the paths it is given), so that the engine and Lance name the same folder.
fn canonical_local_path(path: &str) -> Result<String> {
    use std::path::Component;
    let absolute = std::path::absolute(path)?;
    let mut parts: Vec<String> = Vec::new();
    for component in absolute.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

impl GraphLocation {
    /// Resolve a graph URI into its one canonical location: `s3://bucket/key/prefix` (no
    /// trailing `/`; no empty, `.` or `..` segment) or an absolute local path (`file://`
    /// removed, `.` and `..` resolved). Refuses percent-encoding and the other characters
    /// of [`REFUSED_URI_CHARS`]. Every component (this engine's object store, Lance's
    /// dataset uris, the control plane) uses the canonical form only.
    pub fn parse(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(StorageError::Invalid("graph uri is empty".into()));
        }
        check_uri_text(uri)?;
        if let Some(rest) = uri.strip_prefix("s3://") {
            let rest = rest.trim_end_matches('/');
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StorageError::Invalid(format!("no bucket in uri {uri}")));
            }
            check_key_segments(uri, prefix)?;
            // Endpoint, region, credentials and path-style come from the standard AWS_* variables.
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(store_retries())
                .build()
                .map_err(StorageError::ObjectStore)?;
            let uri = format!("s3://{bucket}/{prefix}")
                .trim_end_matches('/')
                .to_string();
            return Ok(GraphLocation {
                store: crate::storage_metrics::metered(&uri, Arc::new(store)),
                uri,
                prefix: prefix.to_string(),
            });
        }
        if uri.contains("://") && !uri.starts_with("file://") {
            return Err(StorageError::Invalid(format!(
                "unsupported graph uri {uri}: use a local path, file:// or s3://"
            )));
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        let path = canonical_local_path(path)?;
        Ok(GraphLocation {
            prefix: path.trim_start_matches('/').to_string(),
            store: crate::storage_metrics::metered(&path, Arc::new(LocalFileSystem::new())),
            uri: path,
        })
    }

    /// Whether nothing at all is stored at or under the location (a missing folder is
    /// empty). One list request, stopped at the first object.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.first_object().await?.is_none())
    }

    /// The first object stored under the location, relative to it, if any (for messages).
    pub async fn first_object(&self) -> Result<Option<String>> {
        use futures::StreamExt;
        let root = self.path("");
        let mut listing = self.store.list(Some(&root));
        match listing.next().await {
            None | Some(Err(object_store::Error::NotFound { .. })) => Ok(None),
            Some(Ok(meta)) => {
                let full = meta.location.as_ref().to_string();
                let relative = full
                    .strip_prefix(root.as_ref())
                    .map(|r| r.trim_start_matches('/').to_string())
                    .unwrap_or(full);
                Ok(Some(relative))
            }
            Some(Err(e)) => Err(e.into()),
        }
    }

    pub fn is_local(&self) -> bool {
        !self.uri.starts_with("s3://")
    }

    /// Object path of a file relative to the graph root.
    /// The same graph through `store`, a wrapper of this location's store.
    pub fn with_store(&self, store: Arc<dyn ObjectStore>) -> Self {
        GraphLocation {
            store,
            ..self.clone()
        }
    }

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

    /// The JSON object at `relative` (a ref, a tag), if there is one; `what` names it in the
    /// error when it does not parse.
    pub async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        relative: &str,
        what: &str,
    ) -> Result<Option<T>> {
        use object_store::ObjectStoreExt;
        match self.store.get(&self.path(relative)).await {
            Ok(found) => {
                let bytes = found.bytes().await?;
                let value = serde_json::from_slice(&bytes)
                    .map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))?;
                Ok(Some(value))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `value` as JSON at `relative` only if nothing is there (create-if-absent: a
    /// no-clobber rename on a local disk, `If-None-Match: *` on S3). False when something
    /// was: another writer won.
    pub async fn create_json<T: serde::Serialize>(
        &self,
        relative: &str,
        value: &T,
    ) -> Result<bool> {
        use object_store::{PutMode, PutOptions, PutPayload};
        let body = serde_json::to_vec_pretty(value)
            .map_err(|e| StorageError::Corrupt(format!("serialize {relative}: {e}")))?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.path(relative), PutPayload::from(body), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Names of the `.json` objects under folder `relative`, relative to it and without the
    /// extension (`agent/alice` for `_refs/branches/agent/alice.json`).
    pub async fn list_json_names(&self, relative: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let metas: Vec<_> = self
            .store
            .list(Some(&self.path(relative)))
            .try_collect()
            .await?;
        let dir = format!("{}/", self.path(relative).as_ref());
        Ok(metas
            .iter()
            .filter_map(|m| {
                let rest = m.location.as_ref().strip_prefix(&dir)?;
                Some(rest.strip_suffix(".json")?.to_string())
            })
            .collect())
    }

    /// URI of something inside the graph, in the form Lance opens.
    pub fn child_uri(&self, relative: &str) -> String {
        format!("{}/{}", self.uri, relative)
    }
}

/// Counts the object-store requests of the graph at `uri` under `graph` from now on (a
/// server names each graph it serves by its id before opening it; see
/// shared/storage/src/storage_metrics.rs). An unparsable `uri` names nothing: opening it
/// fails anyway.
pub fn name_graph(uri: &str, graph: &str) {
    if let Ok(loc) = GraphLocation::parse(uri) {
        crate::storage_metrics::name_root(&loc.uri, graph);
    }
}
