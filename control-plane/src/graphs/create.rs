//! `POST /graphs`, steps 3 to 7 of section 4: validate, pre-check duplicates, create
//! the graph's storage, rewrite omnigraph.yaml atomically, publish and push. Steps 1
//! (mode) and 2 (auth) are the handler's.

use std::path::{Path, PathBuf};

use omnigraph_api::{CreateGraphRequest, GraphInfo};
use omnigraph_config::{GraphEntry, GraphId, GraphIdError};
use omnigraph_lang::LangError;
use omnigraph_policy::ActorId;
use omnigraph_storage::{StorageError, TableKey};

use crate::config::file::AddGraphError;
use crate::graphs::policy::{
    choose_policy, remove_stored_policy, store_policy, stored_policy_path, PolicyChoice,
    PolicyChoiceError, StorePolicyError,
};
use crate::registry::{RegisteredGraph, RegistryConflict};
use crate::state::AppState;

/// Engine actor recorded in the first manifest when the request has none (open mode).
const OPEN_MODE_ACTOR: &str = "control-plane";

/// Why a graph was not created. Statuses are chosen in `crate::http::error`.
#[derive(Debug, thiserror::Error)]
pub enum CreateGraphError {
    #[error(transparent)]
    InvalidGraphId(#[from] GraphIdError),
    #[error("invalid uri: {0}")]
    InvalidUri(String),
    #[error("`schema.source` is empty")]
    EmptySchema,
    #[error("invalid schema: {0}")]
    InvalidSchema(Box<LangError>),
    #[error(transparent)]
    Policy(#[from] PolicyChoiceError),
    #[error(transparent)]
    Duplicate(#[from] RegistryConflict),
    #[error("a graph already exists at {0}; it was left untouched")]
    StorageExists(String),
    #[error("{0}; purge it (DELETE /graphs/{{id}}?purge=true, or `omnigraph-control-plane purge`) before reusing the uri")]
    StorageDeleted(String),
    #[error("cannot create the graph's storage at {uri}: {source}")]
    StorageRejected {
        uri: String,
        source: Box<StorageError>,
    },
    #[error("cannot create the graph's storage at {uri}: {source}")]
    StorageFailed {
        uri: String,
        source: Box<StorageError>,
    },
    #[error(transparent)]
    StorePolicy(#[from] StorePolicyError),
    #[error("{0}")]
    Drift(String),
    #[error(transparent)]
    Rewrite(#[from] AddGraphError),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A validated request.
struct NewGraph {
    id: GraphId,
    uri: String,
    schema_source: String,
    policy: Option<PolicyChoice>,
}

/// Steps 3-7. `actor` is the authenticated caller (`None` in open mode).
pub async fn create_graph(
    state: &AppState,
    request: CreateGraphRequest,
    actor: Option<&ActorId>,
) -> Result<GraphInfo, CreateGraphError> {
    let new = validate(state, request).await?;
    let reservation = state.registry.reserve(&new.id, &new.uri)?;
    refuse_if_drifted(state).await?;
    init_storage(&new, actor).await?;

    let (entry, stored_policy) = record_policy(state, &new).await?;
    let config = state.config.clone();
    let id = new.id.clone();
    let rewrite = tokio::task::spawn_blocking(move || config.add_graph(id, entry)).await;
    if !matches!(rewrite, Ok(Ok(_))) {
        if let Some(path) = &stored_policy {
            remove_stored_policy(path).await;
        }
    }
    rewrite??;

    let policy = new.policy.as_ref().map(|p| p.text().to_owned());
    let graph = RegisteredGraph {
        uri: new.uri.clone(),
        policy,
    };
    let document = state.registry.publish(reservation, graph)?;
    tracing::info!(graph_id = %new.id, uri = %new.uri, generation = document.generation, "graph created");
    state
        .workers
        .wait_for(document.generation, state.push_wait)
        .await;
    Ok(GraphInfo {
        graph_id: new.id.into_string(),
        uri: new.uri,
    })
}

/// Step 3: graph id, uri, schema, policy.
async fn validate(
    state: &AppState,
    request: CreateGraphRequest,
) -> Result<NewGraph, CreateGraphError> {
    let id = GraphId::try_from(request.graph_id)?;
    let uri = validate_uri(&request.uri).await?;
    let refusal = omnigraph_config::uri_refusal(&uri);
    if !state.server.allows_new_graph_at(&uri) {
        return Err(CreateGraphError::InvalidUri(format!(
            "{uri:?} is outside the storage roots of this deployment ({}); \
             choose a location inside one of them{}",
            state.server.storage_roots.join(", "),
            refusal.map_or(String::new(), |why| format!(" ({why})"))
        )));
    }
    if let Some(why) = refusal {
        return Err(CreateGraphError::InvalidUri(format!("{uri:?}: {why}")));
    }
    if request.schema.source.trim().is_empty() {
        return Err(CreateGraphError::EmptySchema);
    }
    omnigraph_lang::parse_schema_named(&request.schema.source, "schema.source")
        .map_err(|e| CreateGraphError::InvalidSchema(Box::new(e)))?;
    let policy = match &request.policy {
        None => None,
        Some(spec) => {
            Some(choose_policy(&state.config, &state.auth, &state.registry, &id, spec).await?)
        }
    };
    Ok(NewGraph {
        id,
        uri,
        schema_source: request.schema.source,
        policy,
    })
}

/// A uri every process can resolve the same way: an absolute local path, `file://` with
/// an absolute path, or `s3://bucket/...`. A relative path would mean a different
/// place to the control plane and to each worker. Percent-encoding (and the other
/// characters the object store and Lance read differently) and empty, `.` and `..`
/// segments are refused, not decoded: the uri as written is the one canonical location,
/// for the storage roots check here and for the engine and Lance in every process.
async fn validate_uri(raw: &str) -> Result<String, CreateGraphError> {
    let uri = raw.trim();
    let invalid = |why: &str| Err(CreateGraphError::InvalidUri(format!("{uri:?}: {why}")));
    if uri.is_empty() {
        return Err(CreateGraphError::InvalidUri("`uri` is empty".into()));
    }
    if let Some(rest) = uri.strip_prefix("s3://") {
        if rest.split('/').next().is_none_or(str::is_empty) {
            return invalid("no bucket after s3://");
        }
        return Ok(uri.to_owned());
    }
    let local = match uri.strip_prefix("file://") {
        Some(path) => path,
        None if uri.contains("://") => {
            return invalid("unsupported scheme; use an absolute path, file:// or s3://")
        }
        None => uri,
    };
    if !Path::new(local).is_absolute() {
        return invalid("a local path must be absolute (workers resolve it on their own hosts)");
    }
    if let Ok(meta) = tokio::fs::metadata(local).await {
        if !meta.is_dir() {
            return invalid("it exists and is not a directory");
        }
    }
    Ok(uri.to_owned())
}

/// The cheap early form of the drift check of step 6, so that a drifted file refuses
/// the request before any storage is created. Step 6 checks again under the lock.
async fn refuse_if_drifted(state: &AppState) -> Result<(), CreateGraphError> {
    let config = state.config.clone();
    match tokio::task::spawn_blocking(move || config.check_drift()).await? {
        Some(drift) => Err(CreateGraphError::Drift(drift.message)),
        None => Ok(()),
    }
}

/// Step 5. The engine refuses a uri that already holds a graph; nothing is cleaned up
/// here (what a failed init leaves are table directories unique to that init).
async fn init_storage(new: &NewGraph, actor: Option<&ActorId>) -> Result<(), CreateGraphError> {
    let actor = actor.map_or(OPEN_MODE_ACTOR, ActorId::as_str);
    // Its object-store requests are counted under its id (README.md, "Observability").
    omnigraph_storage::location::name_graph(&new.uri, new.id.as_str());
    let catalog = omnigraph_lang::parse_schema(&new.schema_source)
        .map_err(|e| CreateGraphError::InvalidSchema(Box::new(e)))?;
    let tables: Vec<TableKey> = catalog
        .nodes
        .iter()
        .map(|n| TableKey::node(&n.name))
        .chain(catalog.edges.iter().map(|e| TableKey::edge(&e.name)))
        .collect();
    // The first manifest only: the first worker that opens the graph creates its tables
    // (shared/storage/src/create.rs), so that this process links no Lance.
    match omnigraph_storage::create_graph(&new.uri, &new.schema_source, &tables, actor).await {
        Ok(_) => Ok(()),
        Err(StorageError::AlreadyExists(_)) => {
            Err(CreateGraphError::StorageExists(new.uri.clone()))
        }
        Err(StorageError::Deleted(message)) => Err(CreateGraphError::StorageDeleted(message)),
        Err(source) if is_rejected_location(&source) => Err(CreateGraphError::StorageRejected {
            uri: new.uri.clone(),
            source: Box::new(source),
        }),
        Err(source) => Err(CreateGraphError::StorageFailed {
            uri: new.uri.clone(),
            source: Box::new(source),
        }),
    }
}

/// Errors caused by the location the caller chose rather than by this server.
fn is_rejected_location(err: &StorageError) -> bool {
    use std::io::ErrorKind::*;
    match err {
        StorageError::Invalid(_) => true,
        StorageError::Io(e) => matches!(
            e.kind(),
            PermissionDenied | NotADirectory | ReadOnlyFilesystem | InvalidInput | AlreadyExists
        ),
        _ => false,
    }
}

/// The yaml entry; stores `policy: { content }` as a new file first (returned, so that
/// a failed rewrite can remove exactly that file).
async fn record_policy(
    state: &AppState,
    new: &NewGraph,
) -> Result<(GraphEntry, Option<PathBuf>), CreateGraphError> {
    let entry = GraphEntry::new(new.uri.clone());
    match &new.policy {
        None => Ok((entry, None)),
        Some(PolicyChoice::File { as_written, .. }) => {
            Ok((entry.with_policy_file(as_written), None))
        }
        Some(PolicyChoice::Content(text)) => {
            let as_written = stored_policy_path(&new.id, None);
            let path = state.config.resolve(&as_written);
            let text = text.clone();
            let target = path.clone();
            tokio::task::spawn_blocking(move || store_policy(&target, &text)).await??;
            Ok((entry.with_policy_file(as_written), Some(path)))
        }
    }
}
