//! Policy files shared by this crate's unit tests.

use crate::{CompiledPolicy, PolicyScope};

pub const GRAPH_POLICY: &str = r#"
version: 1
groups:
  team: [act-a, act-b]
  admins: [act-a]
protected_branches: [main]
rules:
  - id: team-write-unprotected
    allow: { actors: { group: team }, actions: [change], branch_scope: unprotected }
  - id: team-read
    allow: { actors: { group: team }, actions: [read, export] }
  - id: admins-merge-protected
    allow: { actors: { group: admins }, actions: [branch_merge], target_branch_scope: protected }
  - id: carol-invokes
    allow: { actors: { actor: act-carol }, actions: [invoke_query] }
  - id: anyone-branches-off
    allow: { actors: any, actions: [branch_create], target_branch_scope: unprotected }
"#;

pub const SERVER_POLICY: &str = r#"
version: 1
groups:
  admins: [act-admin]
rules:
  - id: admins-manage-graphs
    allow: { actors: { group: admins }, actions: [graph_list, graph_create] }
"#;

pub fn graph_policy() -> CompiledPolicy {
    CompiledPolicy::from_text(GRAPH_POLICY, "alpha.yaml", PolicyScope::Graph).unwrap()
}

pub fn server_policy() -> CompiledPolicy {
    CompiledPolicy::from_text(SERVER_POLICY, "server.yaml", PolicyScope::Server).unwrap()
}
