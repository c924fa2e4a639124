//! The checks every graph route makes, in order: bearer token (401), graph id syntax
//! (400), known graph (404), the graph's policy (403). Done in an extractor that runs
//! before the body is read, so a refused caller never learns whether its body parsed.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use omnigraph_api::{ApiError, ServeMode};
use omnigraph_config::{GraphId, SINGLE_MODE_GRAPH_ID};
use omnigraph_policy::{ActorId, AuthMode, BearerTokens, PolicyAction, RequestContext, Resource};

use super::registry::GraphHandle;
use super::state::AppState;

/// The branch every request acts on (the engine has no other yet).
pub const MAIN_BRANCH: &str = "main";
/// The actor recorded in versions written in open mode.
pub const OPEN_MODE_ACTOR: &str = "anonymous";

/// Which action a route needs.
pub trait RouteAction {
    const ACTION: PolicyAction;
}

pub struct ReadAction;
impl RouteAction for ReadAction {
    const ACTION: PolicyAction = PolicyAction::Read;
}

pub struct ChangeAction;
impl RouteAction for ChangeAction {
    const ACTION: PolicyAction = PolicyAction::Change;
}

/// An authenticated, authorized request on one graph.
pub struct Authorized<A> {
    pub graph: Arc<GraphHandle>,
    /// `None` in open mode.
    pub actor: Option<ActorId>,
    _action: PhantomData<A>,
}

impl<A> Authorized<A> {
    /// The actor id as recorded in written versions.
    pub fn actor_name(&self) -> &str {
        self.actor.as_ref().map_or(OPEN_MODE_ACTOR, ActorId::as_str)
    }

    pub fn actor_id(&self) -> Option<String> {
        self.actor.as_ref().map(|a| a.as_str().to_owned())
    }
}

/// The actor behind a request (`None` in open mode).
pub fn authenticate(auth: &AuthMode, headers: &HeaderMap) -> Result<Option<ActorId>, ApiError> {
    auth.authenticate(authorization(headers))
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

fn resolve_bearer(tokens: &BearerTokens, headers: &HeaderMap) -> Result<ActorId, ApiError> {
    tokens
        .resolve_header(authorization(headers))
        .map_err(|e| ApiError::unauthorized(e.to_string()))
}

fn authorization(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())
}

impl<A: RouteAction> FromRequestParts<AppState> for Authorized<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = authenticate(state.registry.auth(), &parts.headers)?;
        omnigraph_api::record_actor(actor.as_ref().map_or(OPEN_MODE_ACTOR, ActorId::as_str));
        let raw_id = match state.mode {
            ServeMode::Single => SINGLE_MODE_GRAPH_ID.to_owned(),
            ServeMode::Multi => {
                let Path(params) =
                    Path::<HashMap<String, String>>::from_request_parts(parts, state)
                        .await
                        .map_err(|e| {
                            ApiError::bad_request(format!("invalid path: {}", e.body_text()))
                        })?;
                params
                    .get("graph_id")
                    .cloned()
                    .ok_or_else(|| ApiError::bad_request("missing graph id in the path"))?
            }
        };
        let graph_id = GraphId::parse(&raw_id)
            .map_err(|e| ApiError::bad_request(format!("invalid graph id {raw_id:?}: {e}")))?;
        let graph = state.registry.get(graph_id.as_str()).ok_or_else(|| {
            ApiError::not_found(format!("graph '{}' is not served here", graph_id.as_str()))
        })?;
        let decision = graph.authorizer()?.authorize(
            actor.as_ref(),
            A::ACTION,
            &Resource::graph(graph_id.as_str()),
            &RequestContext::on_branch(MAIN_BRANCH),
        );
        if !decision.allowed {
            tracing::info!(
                actor = ?actor.as_ref().map(ActorId::as_str),
                action = %A::ACTION,
                graph_id = graph_id.as_str(),
                "denied: {}",
                decision.reason
            );
            return Err(ApiError::forbidden(decision.reason));
        }
        Ok(Authorized {
            graph,
            actor,
            _action: PhantomData,
        })
    }
}

/// Guards `/internal/*`: `Authorization: Bearer $OMNIGRAPH_INTERNAL_TOKEN` when it is
/// set; otherwise only loopback peers.
pub async fn require_internal(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match &state.internal_token {
        Some(tokens) => {
            resolve_bearer(tokens, request.headers())?;
        }
        None => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0);
            if !peer.is_some_and(|p| p.ip().is_loopback()) {
                return Err(ApiError::forbidden(
                    "internal routes need OMNIGRAPH_INTERNAL_TOKEN, or a loopback peer when none is configured",
                ));
            }
        }
    }
    Ok(next.run(request).await)
}

/// Rejects branches other than the default one (the engine has a single line of versions).
pub fn check_branch(branch: Option<&str>) -> Result<String, ApiError> {
    match branch {
        None => Ok(MAIN_BRANCH.to_owned()),
        Some(b) if b == MAIN_BRANCH => Ok(MAIN_BRANCH.to_owned()),
        Some(b) => Err(ApiError::not_found(format!(
            "branch '{b}' not found (only '{MAIN_BRANCH}' exists)"
        ))),
    }
}
