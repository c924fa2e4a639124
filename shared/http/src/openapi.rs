//! What both planes do to their utoipa documents (README.md, "OpenAPI"):
//! - security schemes: `bearer_token` (users), `internal_token` (the planes' shared
//!   token) and `metrics_token` (scrapes of `/metrics`) in auth mode, none at all in open mode;
//! - aliases (`/query` of `/read`, ...) documented as copies of their canonical path;
//! - multi mode: graph routes nested under `/graphs/{graph_id}` with `cluster_`-prefixed
//!   operation ids;
//! - the committed copy under `openapi/` and its drift check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, OpenApi, Required, Type};

/// Scheme of every user-facing protected operation.
pub const BEARER_SCHEME: &str = "bearer_token";
/// Scheme of the internal routes between the planes (`OMNIGRAPH_INTERNAL_TOKEN`).
pub const INTERNAL_SCHEME: &str = "internal_token";
/// Scheme of `GET /metrics` (`OMNIGRAPH_METRICS_TOKEN`).
pub const METRICS_SCHEME: &str = "metrics_token";
/// Where multi mode nests graph routes.
pub const CLUSTER_PREFIX: &str = "/graphs/{graph_id}";
/// Prefix of the operation ids of nested graph routes.
pub const CLUSTER_OPERATION_PREFIX: &str = "cluster_";
/// Set to a non-empty value to rewrite the committed documents instead of checking them.
pub const UPDATE_OPENAPI_ENV: &str = "OMNIGRAPH_UPDATE_OPENAPI";

/// Every operation of a path item.
pub fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [
        item.get.as_ref(),
        item.put.as_ref(),
        item.post.as_ref(),
        item.delete.as_ref(),
        item.options.as_ref(),
        item.head.as_ref(),
        item.patch.as_ref(),
        item.trace.as_ref(),
    ]
    .into_iter()
    .flatten()
}

/// Every operation of a path item, mutably.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// `(METHOD, path)` of every documented operation.
pub fn documented_endpoints(doc: &OpenApi) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("HEAD", item.head.is_some()),
            ("PATCH", item.patch.is_some()),
            ("TRACE", item.trace.is_some()),
        ];
        for (method, present) in methods {
            if present {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// Adds the three bearer schemes (creating `components` when absent).
pub fn add_security_schemes(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A user token from the OMNIGRAPH_*_BEARER_TOKEN* environment variables",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        INTERNAL_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "OMNIGRAPH_INTERNAL_TOKEN, shared by the control plane and its workers; \
                     with none configured, internal routes accept only loopback peers",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        METRICS_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "OMNIGRAPH_METRICS_TOKEN (--metrics-token), the scrape token of GET /metrics; \
                     a process with bearer tokens and none refuses every scrape",
                ))
                .build(),
        ),
    );
}

/// The security of a served document: both schemes in auth mode, none in open mode.
pub fn apply_auth_mode(doc: &mut OpenApi, auth_required: bool) {
    add_security_schemes(doc);
    if !auth_required {
        strip_security(doc);
    }
}

/// Operation ids used by more than one operation, and `"<METHOD> <path>"` of each
/// operation without one (both empty in a usable document).
pub fn operation_id_problems(doc: &OpenApi) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut problems = vec![];
    for (method, path) in documented_endpoints(doc) {
        let id = doc
            .paths
            .paths
            .get(&path)
            .and_then(|item| operation(item, &method))
            .and_then(|op| op.operation_id.clone());
        match id {
            None => problems.push(format!("{method} {path} has no operation id")),
            Some(id) if !seen.insert(id.clone()) => problems.push(format!("duplicate {id}")),
            Some(_) => {}
        }
    }
    problems
}

/// Open mode: no security schemes and no per-operation security.
pub fn strip_security(doc: &mut OpenApi) {
    if let Some(components) = doc.components.as_mut() {
        components.security_schemes.clear();
    }
    doc.security = None;
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            op.security = None;
        }
    }
}

/// Documents `alias` as a copy of the operation `method` on `canonical`, with operation
/// id `operation_id`. A no-op when the canonical operation is not documented (the
/// every-route-is-documented test then fails on both).
pub fn add_alias(
    doc: &mut OpenApi,
    method: &str,
    canonical: &str,
    alias: &str,
    operation_id: &str,
) {
    let Some(op) = doc
        .paths
        .paths
        .get(canonical)
        .and_then(|item| operation(item, method))
        .cloned()
    else {
        return;
    };
    let mut op = op;
    op.operation_id = Some(operation_id.to_owned());
    op.summary = Some(format!("Alias of {method} {canonical}"));
    let item = doc.paths.paths.entry(alias.to_owned()).or_default();
    set_operation(item, method, op);
}

fn operation<'a>(item: &'a PathItem, method: &str) -> Option<&'a Operation> {
    match method {
        "GET" => item.get.as_ref(),
        "POST" => item.post.as_ref(),
        "PUT" => item.put.as_ref(),
        "DELETE" => item.delete.as_ref(),
        "PATCH" => item.patch.as_ref(),
        _ => None,
    }
}

fn set_operation(item: &mut PathItem, method: &str, op: Operation) {
    match method {
        "GET" => item.get = Some(op),
        "POST" => item.post = Some(op),
        "PUT" => item.put = Some(op),
        "DELETE" => item.delete = Some(op),
        "PATCH" => item.patch = Some(op),
        _ => {}
    }
}

/// The `graph_id` path parameter of nested graph routes.
fn graph_id_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("graph_id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "A registered graph: `^[a-zA-Z0-9-]{1,64}$`, not starting with `_`; \
             an invalid id is 400, an unknown one 404",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-zA-Z0-9-]{1,64}$"))
                .build(),
        ))
        .build()
}

/// Multi mode: every path in `graph_paths` moves to `/graphs/{graph_id}<path>`, gains the
/// `graph_id` parameter and a `cluster_` operation id; every other path stays flat.
pub fn nest_graph_paths(doc: &mut OpenApi, graph_paths: &BTreeSet<String>) {
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        if !graph_paths.contains(&path) {
            doc.paths.paths.insert(path, item);
            continue;
        }
        for op in operations_mut(&mut item) {
            if let Some(id) = op.operation_id.as_mut() {
                *id = format!("{CLUSTER_OPERATION_PREFIX}{id}");
            }
            op.parameters
                .get_or_insert_with(Vec::new)
                .insert(0, graph_id_parameter());
        }
        doc.paths
            .paths
            .insert(format!("{CLUSTER_PREFIX}{path}"), item);
    }
}

/// Why a committed document is not what the code generates.
#[derive(Debug, thiserror::Error)]
pub enum CommittedDocError {
    #[error("cannot serialize the document: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} differs from the document the code generates; \
         run `{UPDATE_OPENAPI_ENV}=1 cargo test --workspace openapi` and commit it"
    )]
    Drift { path: String },
}

/// `openapi/<name>` in the workspace of the crate under test. Resolved from the
/// `CARGO_MANIFEST_DIR` that cargo sets when it runs a test, not the one compiled in: a
/// build cache shared by two clones must not point a test at the other clone's files.
pub fn committed_file(name: &str) -> Option<PathBuf> {
    let start = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(|root| root.join("openapi").join(name))
}

/// The committed form of a document: pretty JSON with a final newline.
pub fn committed_text(doc: &OpenApi) -> Result<String, serde_json::Error> {
    Ok(format!("{}\n", serde_json::to_string_pretty(doc)?))
}

/// Checks `file` against `doc`; rewrites it instead when `OMNIGRAPH_UPDATE_OPENAPI` is
/// set to a non-empty value (an empty value counts as unset, so that CI can pass the
/// variable through unconditionally).
pub fn check_committed(doc: &OpenApi, file: &Path) -> Result<(), CommittedDocError> {
    check_or_update(
        doc,
        file,
        update_requested(std::env::var(UPDATE_OPENAPI_ENV).ok()),
    )
}

/// Whether the value of `OMNIGRAPH_UPDATE_OPENAPI` asks for a rewrite: set and not blank.
pub fn update_requested(value: Option<String>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty())
}

/// [`check_committed`] with the update switch given.
pub fn check_or_update(doc: &OpenApi, file: &Path, update: bool) -> Result<(), CommittedDocError> {
    let want = committed_text(doc)?;
    let io = |source| CommittedDocError::Io {
        path: file.display().to_string(),
        source,
    };
    if update {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        return std::fs::write(file, want).map_err(io);
    }
    let have = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    if have == want {
        Ok(())
    } else {
        Err(CommittedDocError::Drift {
            path: file.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
