//! The actions a policy can allow, by their policy-file names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether an action (or a policy file) concerns one graph or the server itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyScope {
    /// Per-graph actions, resource `Omnigraph::Graph::"<graph_id>"`.
    Graph,
    /// Management actions, resource `Omnigraph::Server::"root"`.
    Server,
}

impl fmt::Display for PolicyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyScope::Graph => "per-graph",
            PolicyScope::Server => "server",
        })
    }
}

/// An action subject to authorization. Serialized (policy files, test files, Cedar
/// action ids) by its snake_case name: `read`, `schema_apply`, `graph_create`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    /// Queries, snapshot, schema get, branch and commit listing.
    Read,
    Export,
    /// Mutations and loads (ingest).
    Change,
    SchemaApply,
    BranchCreate,
    BranchDelete,
    BranchMerge,
    InvokeQuery,
    GraphList,
    GraphCreate,
    GraphDelete,
    /// Replace a graph's policy (`PATCH /graphs/{graph_id}`).
    GraphUpdate,
    /// Compact and clean up a graph now (`POST /maintenance`).
    Maintain,
    /// Create a tag on a commit (`POST /tags`); the creator also needs `read` of the
    /// branch the commit belongs to.
    TagCreate,
    /// List the tags, or show one (`GET /tags`, `GET /tags/{name}`).
    TagList,
    /// Delete a tag (`DELETE /tags/{name}`); version cleanup may reclaim its commit then.
    TagDelete,
}

impl PolicyAction {
    pub const ALL: [PolicyAction; 16] = [
        PolicyAction::Read,
        PolicyAction::Export,
        PolicyAction::Change,
        PolicyAction::SchemaApply,
        PolicyAction::BranchCreate,
        PolicyAction::BranchDelete,
        PolicyAction::BranchMerge,
        PolicyAction::InvokeQuery,
        PolicyAction::GraphList,
        PolicyAction::GraphCreate,
        PolicyAction::GraphDelete,
        PolicyAction::GraphUpdate,
        PolicyAction::Maintain,
        PolicyAction::TagCreate,
        PolicyAction::TagList,
        PolicyAction::TagDelete,
    ];

    /// The policy-file name, also the Cedar action id (`Omnigraph::Action::"<name>"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Read => "read",
            PolicyAction::Export => "export",
            PolicyAction::Change => "change",
            PolicyAction::SchemaApply => "schema_apply",
            PolicyAction::BranchCreate => "branch_create",
            PolicyAction::BranchDelete => "branch_delete",
            PolicyAction::BranchMerge => "branch_merge",
            PolicyAction::InvokeQuery => "invoke_query",
            PolicyAction::GraphList => "graph_list",
            PolicyAction::GraphCreate => "graph_create",
            PolicyAction::GraphDelete => "graph_delete",
            PolicyAction::GraphUpdate => "graph_update",
            PolicyAction::Maintain => "maintain",
            PolicyAction::TagCreate => "tag_create",
            PolicyAction::TagList => "tag_list",
            PolicyAction::TagDelete => "tag_delete",
        }
    }

    pub fn scope(self) -> PolicyScope {
        match self {
            PolicyAction::GraphList
            | PolicyAction::GraphCreate
            | PolicyAction::GraphDelete
            | PolicyAction::GraphUpdate => PolicyScope::Server,
            _ => PolicyScope::Graph,
        }
    }

    /// Actions that write to a graph's storage (admission control caps them per actor).
    pub fn writes(self) -> bool {
        matches!(
            self,
            PolicyAction::Change
                | PolicyAction::SchemaApply
                | PolicyAction::BranchCreate
                | PolicyAction::BranchDelete
                | PolicyAction::BranchMerge
                | PolicyAction::Maintain
                | PolicyAction::TagCreate
                | PolicyAction::TagDelete
        )
    }

    /// Actions a rule's `branch_scope` may constrain (they act on a source branch).
    pub fn accepts_branch_scope(self) -> bool {
        matches!(
            self,
            PolicyAction::Read | PolicyAction::Export | PolicyAction::Change
        )
    }

    /// Actions a rule's `target_branch_scope` may constrain (they act on a target branch).
    pub fn accepts_target_branch_scope(self) -> bool {
        matches!(
            self,
            PolicyAction::BranchCreate
                | PolicyAction::BranchDelete
                | PolicyAction::BranchMerge
                | PolicyAction::SchemaApply
        )
    }

    /// The actions of one scope, in declaration order.
    pub fn in_scope(scope: PolicyScope) -> impl Iterator<Item = PolicyAction> {
        Self::ALL.into_iter().filter(move |a| a.scope() == scope)
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`PolicyAction`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {name:?}; expected one of: read, export, change, schema_apply, branch_create, branch_delete, branch_merge, invoke_query, graph_list, graph_create, graph_delete, graph_update, maintain, tag_create, tag_list, tag_delete")]
pub struct UnknownActionError {
    pub name: String,
}

impl FromStr for PolicyAction {
    type Err = UnknownActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownActionError { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_through_str_and_serde() {
        for action in PolicyAction::ALL {
            assert_eq!(action.as_str().parse::<PolicyAction>(), Ok(action));
            let yaml = serde_yaml::to_string(&action).unwrap();
            assert_eq!(yaml.trim(), action.as_str());
            let back: PolicyAction = serde_yaml::from_str(action.as_str()).unwrap();
            assert_eq!(back, action);
        }
    }

    #[test]
    fn unknown_action_name_lists_the_valid_ones() {
        let err = "ingest".parse::<PolicyAction>().unwrap_err();
        assert!(err.to_string().contains("\"ingest\""), "{err}");
        assert!(err.to_string().contains("change"), "{err}");
    }

    #[test]
    fn server_actions_are_graph_list_create_delete_update() {
        let server: Vec<_> = PolicyAction::in_scope(PolicyScope::Server).collect();
        assert_eq!(
            server,
            [
                PolicyAction::GraphList,
                PolicyAction::GraphCreate,
                PolicyAction::GraphDelete,
                PolicyAction::GraphUpdate
            ]
        );
        assert_eq!(PolicyAction::in_scope(PolicyScope::Graph).count(), 12);
    }

    #[test]
    fn tag_actions_are_per_graph_and_only_create_and_delete_write() {
        for (name, writes) in [
            ("tag_create", true),
            ("tag_list", false),
            ("tag_delete", true),
        ] {
            let action: PolicyAction = name.parse().unwrap();
            assert_eq!(action.scope(), PolicyScope::Graph, "{name}");
            assert_eq!(action.writes(), writes, "{name}");
            assert!(!action.accepts_branch_scope(), "{name}");
            assert!(!action.accepts_target_branch_scope(), "{name}");
        }
        let err = "tag".parse::<PolicyAction>().unwrap_err();
        assert!(
            err.to_string().contains("tag_create, tag_list, tag_delete"),
            "{err}"
        );
    }
}
