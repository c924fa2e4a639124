//! What is being authorized: the resource, the branch context, and the answer.

use std::fmt;

/// The resource of a request: the server itself (management actions) or one graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `Omnigraph::Server::"root"`.
    Server,
    /// `Omnigraph::Graph::"<graph_id>"`.
    Graph(String),
}

impl Resource {
    pub fn graph(graph_id: impl Into<String>) -> Self {
        Resource::Graph(graph_id.into())
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Server => f.write_str("the server"),
            Resource::Graph(id) => write!(f, "graph '{id}'"),
        }
    }
}

/// Branches a request acts on. Callers pass the EFFECTIVE branch (the default branch
/// when the request named none): a rule with `branch_scope: unprotected` does not match
/// a request without a branch, so an omitted branch never widens access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The branch read or written (`read`, `export`, `change`).
    pub branch: Option<String>,
    /// The branch created, deleted, merged into or migrated (`branch_*`, `schema_apply`).
    pub target_branch: Option<String>,
}

impl RequestContext {
    /// No branch at all (management actions, branch-agnostic reads).
    pub fn none() -> Self {
        RequestContext::default()
    }

    pub fn on_branch(branch: impl Into<String>) -> Self {
        RequestContext {
            branch: Some(branch.into()),
            target_branch: None,
        }
    }

    pub fn with_target_branch(mut self, target: impl Into<String>) -> Self {
        self.target_branch = Some(target.into());
        self
    }
}

/// The answer to one authorization question, with a reason fit for a 403 body or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    pub fn allow(reason: impl Into<String>) -> Self {
        Decision {
            allowed: true,
            reason: reason.into(),
        }
    }

    pub fn deny(reason: impl Into<String>) -> Self {
        Decision {
            allowed: false,
            reason: reason.into(),
        }
    }
}
