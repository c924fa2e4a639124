//! The runtime authorization states of section 6 and the one question every request asks.
//!
//! | bearer tokens | policy for the scope | state                                         |
//! |---------------|----------------------|-----------------------------------------------|
//! | yes           | yes                  | [`Authorizer::Cedar`]: Cedar decides           |
//! | yes           | no                   | [`Authorizer::DefaultDeny`]: per-graph `read` only |
//! | no            | any policy anywhere  | refuse to start ([`AuthSetupError`])          |
//! | no            | none                 | refuse to start unless `--unauthenticated`: [`Authorizer::Open`] |

use std::sync::Arc;

use crate::action::{PolicyAction, PolicyScope};
use crate::cedar::CompiledPolicy;
use crate::request::{Decision, RequestContext, Resource};
use crate::tokens::{ActorId, AuthError, BearerTokens, TokenSet, TOKENS_FILE_POLL};

/// How a process authenticates, decided once at start. The token set of bearer mode
/// can change while the process runs (see [`AuthMode::watch_tokens_file`]).
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// No tokens, explicitly opted into (`--unauthenticated`): local development only.
    Open,
    /// Requests carry `Authorization: Bearer <token>`, resolved to an actor.
    Bearer(TokenSet),
}

/// A combination of settings that must refuse start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthSetupError {
    #[error("a policy is configured but no bearer tokens are: set OMNIGRAPH_SERVER_BEARER_TOKEN, OMNIGRAPH_SERVER_BEARER_TOKENS_FILE or OMNIGRAPH_SERVER_BEARER_TOKENS_JSON (policies decide per authenticated actor)")]
    PolicyWithoutTokens,
    #[error("no bearer tokens are configured: set OMNIGRAPH_SERVER_BEARER_TOKEN, OMNIGRAPH_SERVER_BEARER_TOKENS_FILE or OMNIGRAPH_SERVER_BEARER_TOKENS_JSON, or pass --unauthenticated (OMNIGRAPH_UNAUTHENTICATED=1) to run in open mode for local development")]
    NoTokens,
    #[error("--unauthenticated (OMNIGRAPH_UNAUTHENTICATED) was given but bearer tokens are configured; choose one")]
    UnauthenticatedWithTokens,
}

impl AuthMode {
    /// Applies the start-up rules: `tokens` may be empty, `any_policy_configured` is
    /// true when the server or any graph names a policy file.
    pub fn resolve(
        tokens: BearerTokens,
        any_policy_configured: bool,
        unauthenticated: bool,
    ) -> Result<AuthMode, AuthSetupError> {
        match (tokens.is_empty(), any_policy_configured, unauthenticated) {
            (false, _, true) => Err(AuthSetupError::UnauthenticatedWithTokens),
            (false, _, false) => Ok(AuthMode::Bearer(TokenSet::new(tokens))),
            (true, true, _) => Err(AuthSetupError::PolicyWithoutTokens),
            (true, false, false) => Err(AuthSetupError::NoTokens),
            (true, false, true) => Ok(AuthMode::Open),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, AuthMode::Open)
    }

    /// Bearer mode with tokens from `OMNIGRAPH_SERVER_BEARER_TOKENS_FILE`: re-reads the
    /// file every second from now on, and puts a changed, valid file in force for every
    /// request that starts after it (see [`TokenSet::watch_file`]). Whether it watches.
    pub fn watch_tokens_file(&self) -> bool {
        match self {
            AuthMode::Open => false,
            AuthMode::Bearer(tokens) => tokens.watch_file(TOKENS_FILE_POLL),
        }
    }

    /// The actor behind a request's `Authorization` header value; `None` in open mode.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Option<ActorId>, AuthError> {
        match self {
            AuthMode::Open => Ok(None),
            AuthMode::Bearer(tokens) => tokens.resolve_header(authorization).map(Some),
        }
    }
}

/// Decides requests for one scope: the server, or one graph.
#[derive(Debug, Clone)]
pub enum Authorizer {
    /// Open mode: everything is allowed.
    Open,
    /// Authenticated, but no policy is configured for this scope: per-graph `read` is
    /// allowed, everything else is denied, and the deny says why.
    DefaultDeny,
    /// Authenticated, and the scope's policy decides.
    Cedar(Arc<CompiledPolicy>),
}

impl Authorizer {
    /// The authorizer for a scope, given the process's auth mode and the scope's policy.
    pub fn for_scope(mode: &AuthMode, policy: Option<Arc<CompiledPolicy>>) -> Authorizer {
        match (mode, policy) {
            (AuthMode::Open, _) => Authorizer::Open,
            (AuthMode::Bearer(_), Some(policy)) => Authorizer::Cedar(policy),
            (AuthMode::Bearer(_), None) => Authorizer::DefaultDeny,
        }
    }

    /// May `actor` (None in open mode) perform `action` on `resource`?
    pub fn authorize(
        &self,
        actor: Option<&ActorId>,
        action: PolicyAction,
        resource: &Resource,
        context: &RequestContext,
    ) -> Decision {
        if let Some(mismatch) = scope_mismatch(action, resource) {
            return Decision::deny(mismatch);
        }
        let policy = match self {
            Authorizer::Open => {
                return Decision::allow("open mode (--unauthenticated): every request is allowed")
            }
            Authorizer::DefaultDeny => None,
            Authorizer::Cedar(policy) => Some(policy),
        };
        let Some(actor) = actor else {
            return Decision::deny(format!(
                "{action} on {resource} requires an authenticated actor"
            ));
        };
        match policy {
            None => default_deny(actor, action, resource),
            Some(policy) if policy.scope() != action.scope() => Decision::deny(format!(
                "actor '{actor}' may not {action} on {resource}: the {} policy {} cannot decide a {} action",
                policy.scope(),
                policy.source_name(),
                action.scope()
            )),
            Some(policy) => policy.evaluate(actor.as_str(), action, resource, context),
        }
    }
}

fn scope_mismatch(action: PolicyAction, resource: &Resource) -> Option<String> {
    match (action.scope(), resource) {
        (PolicyScope::Server, Resource::Graph(_)) => Some(format!(
            "{action} is a server action and does not apply to {resource}"
        )),
        (PolicyScope::Graph, Resource::Server) => Some(format!(
            "{action} is a per-graph action and does not apply to the server"
        )),
        _ => None,
    }
}

fn default_deny(actor: &ActorId, action: PolicyAction, resource: &Resource) -> Decision {
    match resource {
        Resource::Graph(id) if action == PolicyAction::Read => Decision::allow(format!(
            "no policy is configured for graph '{id}': authenticated actors may read"
        )),
        Resource::Graph(id) => Decision::deny(format!(
            "actor '{actor}' may not {action} on graph '{id}': no policy is configured for \
             this graph, so authenticated actors may only read (configure a policy file for \
             the graph to allow {action})"
        )),
        Resource::Server => Decision::deny(format!(
            "actor '{actor}' may not {action} on the server: no server policy is configured \
             (server.policy.file), so management actions are denied"
        )),
    }
}

#[cfg(test)]
mod tests;
