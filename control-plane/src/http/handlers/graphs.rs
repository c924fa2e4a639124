//! The management API: `GET /graphs`, `POST /graphs` (section 4), and one graph's
//! lifecycle: `GET`, `PATCH` and `DELETE /graphs/{graph_id}`.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use omnigraph_api::{
    CreateGraphRequest, DeleteGraphQuery, DeleteGraphResponse, ErrorBody, GraphDetails, GraphInfo,
    GraphListResponse, UpdateGraphRequest,
};
use omnigraph_config::ConfigMode;
use omnigraph_http::{ApiError, ApiJson, ApiPath, ApiQuery};
use omnigraph_policy::PolicyAction;

use crate::graphs::create::create_graph;
use crate::graphs::inspect::inspect_graph;
use crate::graphs::update::update_graph_policy;
use crate::http::auth::authorize_server;
use crate::state::AppState;

fn require_multi_mode(state: &AppState) -> Result<(), ApiError> {
    match state.mode {
        ConfigMode::Multi => Ok(()),
        ConfigMode::Single => Err(ApiError::method_not_allowed(
            "omnigraph.yaml is in single mode (`graph:`): graphs are managed only in multi mode (`graphs:`)",
        )),
    }
}

/// Lists every registered graph, sorted by `graph_id`.
///
/// Order of checks: single mode 405; bearer token 401; Cedar `graph_list` on
/// `Omnigraph::Server::"root"` 403 (with tokens but no server policy this is denied:
/// the registry is not shown until an operator allows it).
#[utoipa::path(
    get,
    path = "/graphs",
    operation_id = "graphs_list",
    summary = "List registered graphs",
    tag = "graphs",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "Registered graphs, sorted by graph_id", body = GraphListResponse),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The server policy does not allow graph_list", body = ErrorBody),
        (status = 405, description = "omnigraph.yaml is in single mode", body = ErrorBody),
    )
)]
pub async fn list_graphs(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<ApiJson<GraphListResponse>, ApiError> {
    require_multi_mode(&state)?;
    authorize_server(&state, &headers, PolicyAction::GraphList)?;
    Ok(ApiJson(GraphListResponse {
        graphs: state.registry.graph_infos(),
    }))
}

/// Creates a graph's storage, records it in omnigraph.yaml, publishes it in the
/// registry and pushes the new generation to every worker; 201 only after all that.
///
/// Order (section 4, each step only after the previous one passed):
/// 1. single mode: 405;
/// 2. bearer token 401, Cedar `graph_create` on `Omnigraph::Server::"root"` 403; the
///    body is read only now (malformed JSON or a wrong content type 400, over 32 MiB 413);
/// 3. validation 400: graph id, absolute or `s3://` uri, non-empty schema that parses
///    (the message gives line and column), policy file or content that compiles
///    (a policy in open mode is refused: it would refuse the next start);
/// 4. duplicate graph id or normalized uri in the registry, or claimed by a creation in
///    progress: 409;
/// 5. omnigraph.yaml drifted from the baseline: 503, before anything is created; then
///    the graph's storage is initialised; a uri that already holds a graph: 409, and
///    its files are not touched;
/// 6. atomic rewrite of omnigraph.yaml under the flock on `omnigraph.yaml.lock`:
///    drift 503, a duplicate found in the file's own contents 409;
/// 7. publish (atomic duplicate re-check 409), push, wait up to 2 s for the workers'
///    acknowledgements, 201 with the [`GraphInfo`].
///
/// Failure modes:
/// - init fails: orphan storage may remain at `uri` (table directories unique to that
///   init; nothing else is removed), yaml and registry unchanged;
/// - rewrite fails (drift, I/O): the new graph's storage is an orphan, the yaml is
///   unchanged, and a policy stored from `policy.content` is removed again;
/// - publish loses a race: the yaml has the entry but the registry does not; the next
///   start opens it cleanly;
/// - a worker misses the push: the 201 still stands; the worker's status on /healthz
///   shows the error and it catches up by its periodic pull.
#[utoipa::path(
    post,
    path = "/graphs",
    operation_id = "graphs_create",
    summary = "Add a graph to the running deployment",
    tag = "graphs",
    security(("bearer_token" = [])),
    request_body = CreateGraphRequest,
    responses(
        (status = 201, description = "Graph created, recorded and published", body = GraphInfo),
        (status = 400, description = "Invalid body, graph id, uri, schema or policy", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The server policy does not allow graph_create", body = ErrorBody),
        (status = 405, description = "omnigraph.yaml is in single mode", body = ErrorBody),
        (status = 409, description = "Duplicate graph id or uri, or the uri already holds a graph", body = ErrorBody),
        (status = 413, description = "Body over 32 MiB", body = ErrorBody),
        (status = 503, description = "omnigraph.yaml was edited by hand (drift), or the graph's object store cannot be reached", body = ErrorBody),
    )
)]
pub async fn post_graph(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<(StatusCode, ApiJson<GraphInfo>), ApiError> {
    require_multi_mode(&state)?;
    let actor = authorize_server(&state, &headers, PolicyAction::GraphCreate)?;
    let ApiJson(body) = ApiJson::<CreateGraphRequest>::from_request(request, &state).await?;
    let info = create_graph(&state, body, actor.as_ref()).await?;
    Ok((StatusCode::CREATED, ApiJson(info)))
}

/// One graph: uri, schema hash, policy summary, manifest version, per-table row counts,
/// and which workers serve it at which registry generation.
///
/// Order of checks: single mode 405; bearer token 401; Cedar `graph_list` on
/// `Omnigraph::Server::"root"` 403 (who may see the registry may see its entries);
/// invalid id 400; unknown graph 404.
#[utoipa::path(
    get,
    path = "/graphs/{graph_id}",
    operation_id = "graphs_get",
    summary = "Describe one graph",
    tag = "graphs",
    security(("bearer_token" = [])),
    params(("graph_id" = String, Path, description = "The graph's id")),
    responses(
        (status = 200, description = "The graph", body = GraphDetails),
        (status = 400, description = "Invalid graph id", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The server policy does not allow graph_list", body = ErrorBody),
        (status = 404, description = "No such graph, or its storage is gone", body = ErrorBody),
        (status = 405, description = "omnigraph.yaml is in single mode", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached", body = ErrorBody),
    )
)]
pub async fn get_graph(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(graph_id): ApiPath<String>,
) -> Result<ApiJson<GraphDetails>, ApiError> {
    require_multi_mode(&state)?;
    authorize_server(&state, &headers, PolicyAction::GraphList)?;
    Ok(ApiJson(inspect_graph(&state, graph_id).await?))
}

/// Retires a graph: tombstones its storage (the commit point: every worker and any
/// later POST refuse it), removes it from omnigraph.yaml by atomic rewrite and from the
/// registry, pushes the new generation, and with `?purge=true` deletes its storage.
/// Steps and failure modes: `crate::graphs::delete`.
///
/// Order of checks: single mode 405; bearer token 401; Cedar `graph_delete` on
/// `Omnigraph::Server::"root"` 403; invalid id 400; unknown graph 404; drift 503.
#[utoipa::path(
    delete,
    path = "/graphs/{graph_id}",
    operation_id = "graphs_delete",
    summary = "Delete a graph",
    tag = "graphs",
    security(("bearer_token" = [])),
    params(("graph_id" = String, Path, description = "The graph's id"), DeleteGraphQuery),
    responses(
        (status = 200, description = "Deleted: out of omnigraph.yaml, the registry and every worker", body = DeleteGraphResponse),
        (status = 400, description = "Invalid graph id or query string", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The server policy does not allow graph_delete", body = ErrorBody),
        (status = 404, description = "No such graph", body = ErrorBody),
        (status = 405, description = "omnigraph.yaml is in single mode", body = ErrorBody),
        (status = 503, description = "omnigraph.yaml was edited by hand (drift), or the graph's object store cannot be reached", body = ErrorBody),
    )
)]
pub async fn delete_graph(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(graph_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteGraphQuery>,
) -> Result<ApiJson<DeleteGraphResponse>, ApiError> {
    require_multi_mode(&state)?;
    let actor = authorize_server(&state, &headers, PolicyAction::GraphDelete)?;
    let deleted =
        crate::graphs::delete::delete_graph(&state, graph_id, query.purge, actor.as_ref()).await?;
    Ok(ApiJson(deleted))
}

/// Replaces a graph's policy (validated first), records it in omnigraph.yaml by atomic
/// rewrite and pushes it to every worker. Steps and failure modes: `crate::graphs::update`.
///
/// Order of checks: single mode 405; bearer token 401; Cedar `graph_update` on
/// `Omnigraph::Server::"root"` 403; then the body (400, 413); invalid id 400; unknown
/// graph 404; invalid policy 400; drift 503.
#[utoipa::path(
    patch,
    path = "/graphs/{graph_id}",
    operation_id = "graphs_update",
    summary = "Replace a graph's policy",
    tag = "graphs",
    security(("bearer_token" = [])),
    params(("graph_id" = String, Path, description = "The graph's id")),
    request_body = UpdateGraphRequest,
    responses(
        (status = 200, description = "The graph with its new policy, served by the workers", body = GraphDetails),
        (status = 400, description = "Invalid graph id, body or policy", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The server policy does not allow graph_update", body = ErrorBody),
        (status = 404, description = "No such graph", body = ErrorBody),
        (status = 405, description = "omnigraph.yaml is in single mode", body = ErrorBody),
        (status = 409, description = "A stored policy file of that name exists", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "omnigraph.yaml was edited by hand (drift)", body = ErrorBody),
    )
)]
pub async fn patch_graph(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(graph_id): ApiPath<String>,
    request: Request,
) -> Result<ApiJson<GraphDetails>, ApiError> {
    require_multi_mode(&state)?;
    authorize_server(&state, &headers, PolicyAction::GraphUpdate)?;
    let ApiJson(body) = ApiJson::<UpdateGraphRequest>::from_request(request, &state).await?;
    let id = update_graph_policy(&state, graph_id, body).await?;
    Ok(ApiJson(inspect_graph(&state, id.into_string()).await?))
}
