//! `GET /graphs` and `POST /graphs`: the management API (section 4).

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use omnigraph_api::{
    ApiError, ApiJson, CreateGraphRequest, ErrorBody, GraphInfo, GraphListResponse,
};
use omnigraph_config::ConfigMode;
use omnigraph_policy::PolicyAction;

use crate::auth::authorize_server;
use crate::graph_create::create_graph;
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
        (status = 503, description = "omnigraph.yaml was edited by hand (drift)", body = ErrorBody),
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
