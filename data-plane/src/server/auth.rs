//! The checks every graph route makes, in order: bearer token (401), graph id syntax
//! (400), known graph (404), the graph's policy (403), admission of a write (429). The
//! first three run in an extractor ([`GraphAccess`]) before the body is read; the policy
//! check needs the branch, which may be in the body, so the handler makes it with
//! [`GraphAccess::authorize_body`], which decides on main when the body does not parse:
//! a refused caller never learns whether its body parsed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use omnigraph_api::ServeMode;
use omnigraph_config::{GraphId, SINGLE_MODE_GRAPH_ID};
use omnigraph_http::ApiError;
use omnigraph_policy::{ActorId, AuthMode, BearerTokens, PolicyAction, RequestContext, Resource};

use super::admission::{Admission, WritePermit};
use super::registry::GraphHandle;
use super::state::{AppState, InternalAccess};

/// The branch a request acts on when it names none.
pub const MAIN_BRANCH: &str = omnigraph_engine::MAIN;
/// The actor recorded in versions written in open mode.
pub const OPEN_MODE_ACTOR: &str = "anonymous";

/// The actor id as recorded in versions and logs: the token's actor, or
/// [`OPEN_MODE_ACTOR`] in open mode.
pub fn actor_name(actor: Option<&ActorId>) -> &str {
    actor.map_or(OPEN_MODE_ACTOR, ActorId::as_str)
}

/// The branch a request names, or main.
pub fn branch_or_main(branch: Option<&str>) -> &str {
    branch.unwrap_or(MAIN_BRANCH)
}

/// An authenticated request on a known graph (checks 1-3, done by the extractor before
/// the body is read). The handler authorizes it (check 4) once it knows the branch.
pub struct GraphAccess {
    graph: Arc<GraphHandle>,
    actor: Option<ActorId>,
    graph_id: String,
    admission: Arc<Admission>,
    state: AppState,
}

/// An authenticated, authorized (and, for a write, admitted) request on one graph.
pub struct Authorized {
    pub graph: Arc<GraphHandle>,
    /// `None` in open mode.
    pub actor: Option<ActorId>,
    /// A write's slot in admission control, held until the handler is done.
    _write: Option<WritePermit>,
}

impl Authorized {
    /// The actor id as recorded in written versions.
    pub fn actor_name(&self) -> &str {
        actor_name(self.actor.as_ref())
    }

    pub fn actor_id(&self) -> Option<String> {
        self.actor.as_ref().map(|a| a.as_str().to_owned())
    }
}

impl GraphAccess {
    /// The graph, before authorization: only to find out what to authorize.
    pub fn graph_handle(&self) -> &Arc<GraphHandle> {
        &self.graph
    }

    /// The graph's policy decides `action` in `context` (403 with the reason when denied),
    /// then admission control a write (429 when the actor has too many in flight).
    pub fn authorize(
        &self,
        action: PolicyAction,
        context: &RequestContext,
    ) -> Result<Authorized, ApiError> {
        self.check_policy(action, context)?;
        let write = if action.writes() {
            Some(self.admission.admit(actor_name(self.actor.as_ref()))?)
        } else {
            None
        };
        Ok(Authorized {
            graph: self.graph.clone(),
            actor: self.actor.clone(),
            _write: write,
        })
    }

    /// The policy alone (403 with the reason when denied): for a further action that a
    /// request already authorized and admitted also performs.
    pub fn check_policy(
        &self,
        action: PolicyAction,
        context: &RequestContext,
    ) -> Result<(), ApiError> {
        let decision = self.graph.authorizer()?.authorize(
            self.actor.as_ref(),
            action,
            &Resource::graph(&self.graph_id),
            context,
        );
        if !decision.allowed {
            tracing::info!(
                actor = ?self.actor.as_ref().map(ActorId::as_str),
                action = %action,
                graph_id = self.graph_id,
                branch = ?context.branch,
                target_branch = ?context.target_branch,
                "denied: {}",
                decision.reason
            );
            return Err(ApiError::forbidden(decision.reason));
        }
        Ok(())
    }

    /// A slot among the worker's reads in flight (429 `too_many_reads` when none is
    /// free): taken after the policy check, held until the read is done.
    pub fn admit_read(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.state.reads.admit()
    }

    /// The bounds of a streamed load on this worker.
    pub fn load_settings(&self) -> super::state::LoadSettings {
        self.state.load
    }

    /// The worker's query budgets.
    pub fn query_limits(&self) -> &super::query_limits::QueryLimits {
        &self.state.query_limits
    }

    /// `action` on `branch` (main when absent).
    pub fn authorize_on(
        &self,
        action: PolicyAction,
        branch: Option<&str>,
    ) -> Result<Authorized, ApiError> {
        self.authorize(action, &RequestContext::on_branch(branch_or_main(branch)))
    }

    /// Authorizes a request whose branch is in its body (or query string): in the context
    /// the body names when it parsed; on main when it did not, so that a refused caller
    /// still never learns whether its body parsed (a 403 comes before the 400).
    pub fn authorize_body<T>(
        &self,
        action: PolicyAction,
        body: Result<T, ApiError>,
        context: impl FnOnce(&T) -> RequestContext,
    ) -> Result<(Authorized, T), ApiError> {
        match body {
            Ok(body) => {
                let auth = self.authorize(action, &context(&body))?;
                Ok((auth, body))
            }
            Err(e) => {
                self.authorize_on(action, None)?;
                Err(e)
            }
        }
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

impl FromRequestParts<AppState> for GraphAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = authenticate(state.registry.auth(), &parts.headers)?;
        omnigraph_http::record_actor(actor_name(actor.as_ref()));
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
        Ok(GraphAccess {
            graph,
            actor,
            graph_id: graph_id.as_str().to_owned(),
            admission: state.admission.clone(),
            state: state.clone(),
        })
    }
}

/// Guards `/internal/*` (see [`InternalAccess`]): the internal token, or, on an open-mode
/// worker without one, a loopback peer.
pub async fn require_internal(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match &state.internal {
        InternalAccess::Token(tokens) => {
            resolve_bearer(tokens, request.headers())?;
        }
        InternalAccess::LoopbackOnly => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0);
            if !peer.is_some_and(|p| p.ip().is_loopback()) {
                return Err(ApiError::forbidden(
                    "internal routes need OMNIGRAPH_INTERNAL_TOKEN, or a loopback peer on an open-mode worker without one",
                ));
            }
        }
        InternalAccess::NotMounted => {
            return Err(ApiError::not_found(
                "no control plane: /internal/* is not served",
            ));
        }
    }
    Ok(next.run(request).await)
}
