//! Where the end-to-end tests put graphs, and what they check in storage.
//!
//! By default graphs live in the test's temp dir. `tests/s3/run.sh` starts an S3-compatible
//! server and sets `OMNIGRAPH_TEST_STORAGE=s3://bucket/prefix` (plus the standard AWS_*
//! variables, which the binaries inherit): the same tests then put their graphs there.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// The object-store prefix the tests write graphs under, when one is set.
pub fn test_storage() -> Option<String> {
    std::env::var("OMNIGRAPH_TEST_STORAGE")
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
}

/// The folder for the graphs of a test whose temp dir is `dir`: the dir itself, or a folder
/// named after it under the test storage (temp dir names are unique while they exist).
pub fn graphs_root(dir: &Path) -> String {
    match test_storage() {
        Some(root) => {
            let unique = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{root}/{unique}")
        }
        None => dir.to_string_lossy().into_owned(),
    }
}

/// The uri of graph `name` for a test whose temp dir is `dir`.
pub fn graph_uri(dir: &Path, name: &str) -> String {
    format!("{}/{name}", graphs_root(dir))
}

/// A graph's storage as the tests read it: the object store holding it and the graph's
/// prefix inside that store. Resolved as the engine resolves a graph uri
/// (shared/storage/src/location.rs), on `object_store` alone so that the tests do not link
/// the engine.
struct Location {
    store: Arc<dyn ObjectStore>,
    /// The graph's prefix inside `store`: the absolute path of a local graph (without its
    /// leading `/`), the key prefix of an `s3://bucket/prefix` graph.
    prefix: String,
}

impl Location {
    /// The object path of `relative` inside the graph.
    fn path(&self, relative: &str) -> ObjectPath {
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
}

/// The location of `uri`, refusing any object store but the S3 test server on 127.0.0.1
/// (without one, an `s3://` uri would send the test's own requests to AWS).
fn location(uri: &str) -> Location {
    let uri = uri.trim();
    assert!(!uri.is_empty(), "graph uri is empty");
    if let Some(rest) = uri.strip_prefix("s3://") {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        let loopback = ["http://127.", "http://localhost:", "http://[::1]"];
        assert!(
            loopback.iter().any(|p| endpoint.starts_with(p))
                && std::env::var_os("AWS_ACCESS_KEY_ID").is_some(),
            "{uri}: no S3 test server on 127.0.0.1 is configured (run tests/s3/run.sh)"
        );
        let rest = rest.trim_end_matches('/');
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        assert!(!bucket.is_empty(), "no bucket in uri {uri}");
        // Endpoint, region, credentials and path-style come from the standard AWS_*
        // variables (tests/s3/lib.sh sets them), with the engine's retries: 3, within 30 s.
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(30),
                ..Default::default()
            })
            .build()
            .unwrap_or_else(|e| panic!("object store of {uri}: {e}"));
        return Location {
            store: Arc::new(store),
            prefix: prefix.to_string(),
        };
    }
    assert!(
        !uri.contains("://") || uri.starts_with("file://"),
        "unsupported graph uri {uri}: use a local path, file:// or s3://"
    );
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let path = std::path::absolute(path).unwrap_or_else(|e| panic!("graph uri {uri}: {e}"));
    Location {
        store: Arc::new(LocalFileSystem::new()),
        prefix: path.to_string_lossy().trim_start_matches('/').to_string(),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Whether the graph at `uri` has published at least one manifest.
pub fn has_manifest(uri: &str) -> bool {
    if !uri.starts_with("s3://") {
        return Path::new(uri).join("_manifest").is_dir();
    }
    block_on(async {
        let loc = location(uri);
        match loc
            .store
            .list_with_delimiter(Some(&loc.path("_manifest")))
            .await
        {
            Ok(listed) => !listed.objects.is_empty(),
            Err(object_store::Error::NotFound { .. }) => false, // no such bucket
            Err(e) => panic!("list the manifest folder of {uri}: {e}"),
        }
    })
}

/// How many graph versions (manifest objects) the graph at `uri` has published.
pub fn published_manifests(uri: &str) -> usize {
    block_on(async {
        use futures::TryStreamExt;
        let loc = location(uri);
        let listed: Vec<_> = loc
            .store
            .list(Some(&loc.path("_manifest")))
            .try_collect()
            .await
            .expect("list the manifest folder");
        listed
            .iter()
            .filter(|m| m.location.as_ref().ends_with(".json"))
            .count()
    })
}

/// How many Lance versions each table of the graph at `uri` holds: the number of
/// manifests in each `<table>.lance/_versions/` folder, keyed by the table's folder
/// (`nodes/Person.<id>.lance`).
pub fn table_versions(uri: &str) -> std::collections::BTreeMap<String, usize> {
    block_on(async {
        use futures::TryStreamExt;
        let loc = location(uri);
        let prefix = loc.path("");
        let listed: Vec<_> = loc
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .expect("list the graph's objects");
        let mut versions = std::collections::BTreeMap::new();
        for object in listed {
            let key = object.location.as_ref();
            let relative = key
                .strip_prefix(prefix.as_ref())
                .unwrap_or(key)
                .trim_start_matches('/');
            if let Some((table, file)) = relative.split_once(".lance/_versions/") {
                if file.ends_with(".manifest") {
                    *versions.entry(format!("{table}.lance")).or_insert(0) += 1;
                }
            }
        }
        versions
    })
}

/// The holder of the newest maintenance lease of the graph at `uri`
/// (shared/storage/src/lease.rs: `_maintenance/lease-<seq>.json`), if any.
pub fn lease_holder(uri: &str) -> Option<String> {
    block_on(async {
        use futures::TryStreamExt;
        let loc = location(uri);
        let listed: Vec<_> = loc
            .store
            .list(Some(&loc.path("_maintenance")))
            .try_collect()
            .await
            .ok()?;
        let newest = listed
            .iter()
            .filter(|m| m.location.as_ref().ends_with(".json"))
            .max_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()))?;
        let bytes = loc
            .store
            .get(&newest.location)
            .await
            .ok()?
            .bytes()
            .await
            .ok()?;
        let lease: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        lease["holder"].as_str().map(str::to_string)
    })
}

/// Whether anything at all is stored at or under `uri`.
pub fn stored_at(uri: &str) -> bool {
    if !uri.starts_with("s3://") {
        return Path::new(uri).exists();
    }
    block_on(async {
        use futures::TryStreamExt;
        let loc = location(uri);
        let first: Vec<_> = loc
            .store
            .list(Some(&loc.path("")))
            .take(1)
            .try_collect()
            .await
            .expect("list the graph's objects");
        !first.is_empty()
    })
}

/// Whether the graph at `uri` carries a deletion tombstone.
pub fn tombstoned(uri: &str) -> bool {
    block_on(async {
        let loc = location(uri);
        loc.store.head(&loc.path("_tombstone.json")).await.is_ok()
    })
}

/// Environment that points the binaries' S3 client at a 127.0.0.1 port nothing listens on:
/// an object store that is down.
pub fn unreachable_store_env() -> Vec<(String, String)> {
    let port = crate::free_port(); // bound and released: nothing listens there now
    vec![
        (
            "AWS_ENDPOINT_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "omnigraph-test".into()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            "omnigraph-test-secret".into(),
        ),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ]
}
