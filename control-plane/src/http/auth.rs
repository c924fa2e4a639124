//! Authentication and server-level authorization at the edge.
//!
//! - Management routes: bearer token -> actor (401), then Cedar on
//!   `Omnigraph::Server::"root"` (403 with the reason); open mode allows everything.
//! - Internal routes (workers): `Authorization: Bearer $OMNIGRAPH_INTERNAL_TOKEN`; with
//!   no internal token configured, only loopback peers are accepted.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use omnigraph_api::INTERNAL_TOKEN_ENV;
use omnigraph_http::ApiError;
use omnigraph_policy::{
    ActorId, AuthMode, BearerTokens, PolicyAction, RequestContext, Resource, TokenConfigError,
};

use crate::state::AppState;

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

/// Authenticates the request and asks the server policy about `action`.
pub fn authorize_server(
    state: &AppState,
    headers: &HeaderMap,
    action: PolicyAction,
) -> Result<Option<ActorId>, ApiError> {
    let actor = authenticate(&state.auth, headers)?;
    if let Some(actor) = &actor {
        omnigraph_http::record_actor(actor.as_str());
    }
    let decision = state.server_authorizer.authorize(
        actor.as_ref(),
        action,
        &Resource::Server,
        &RequestContext::none(),
    );
    if !decision.allowed {
        tracing::info!(actor = ?actor.as_ref().map(ActorId::as_str), %action, "denied: {}", decision.reason);
        return Err(ApiError::forbidden(decision.reason));
    }
    Ok(actor)
}

/// How internal (worker) routes are authenticated.
pub enum InternalAuth {
    /// `OMNIGRAPH_INTERNAL_TOKEN` is set: it must be presented as a bearer token.
    Token(BearerTokens),
    /// No internal token: only loopback peers (a single-host development setup).
    LoopbackOnly,
}

impl InternalAuth {
    pub fn new(token: Option<&str>) -> Result<InternalAuth, TokenConfigError> {
        match token {
            Some(token) => Ok(InternalAuth::Token(BearerTokens::from_pairs([(
                "internal", token,
            )])?)),
            None => Ok(InternalAuth::LoopbackOnly),
        }
    }

    fn check(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), ApiError> {
        match self {
            InternalAuth::Token(tokens) => {
                resolve_bearer(tokens, headers).map(|_| ()).map_err(|e| {
                    ApiError::unauthorized(format!(
                        "internal route: {} (workers present {INTERNAL_TOKEN_ENV})",
                        e.message()
                    ))
                })
            }
            InternalAuth::LoopbackOnly if peer.is_some_and(|p| p.ip().is_loopback()) => Ok(()),
            InternalAuth::LoopbackOnly => Err(ApiError::forbidden(format!(
                "internal routes accept only loopback peers when {INTERNAL_TOKEN_ENV} is not set"
            ))),
        }
    }
}

/// Middleware guarding the internal routes.
pub async fn require_internal(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    state.internal_auth.check(request.headers(), peer)?;
    Ok(next.run(request).await)
}
