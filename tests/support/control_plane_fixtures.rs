//! Fixtures shared by the control-plane tests: configs, policies, tokens, and assertions
//! on the error envelope and on graph storage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{ControlPlane, ControlPlaneOptions};

pub const ALPHA_YAML: &str = "graphs:\n  alpha:\n    uri: {graphs}/alpha.omni\n";
pub const SINGLE_YAML: &str = "graph:\n  uri: {graphs}/one.omni\n";
pub const SERVER_POLICY: &str = "version: 1\ngroups:\n  admins: [act-admin]\nrules:\n  - id: admins-manage-graphs\n    allow: { actors: { group: admins }, actions: [graph_list, graph_create, graph_delete, graph_update] }\n";
pub const GRAPH_POLICY: &str = "version: 1\ngroups:\n  team: [act-admin]\nrules:\n  - id: team-read\n    allow: { actors: { group: team }, actions: [read] }\n";
pub const TOKENS: &str =
    r#"{"act-admin": "admin-token-0123456789", "act-viewer": "viewer-token-0123456789"}"#;
pub const ADMIN: Option<&str> = Some("admin-token-0123456789");
pub const VIEWER: Option<&str> = Some("viewer-token-0123456789");

/// An open-mode control plane with one graph, `alpha`.
pub fn open_alpha() -> ControlPlane {
    ControlPlane::start(ALPHA_YAML, ControlPlaneOptions::open())
}

/// Tokens for act-admin and act-viewer, a server policy allowing admins to list and create.
pub fn with_server_policy() -> ControlPlane {
    let yaml = format!("server:\n  policy: {{ file: ./policies/server.yaml }}\n{ALPHA_YAML}");
    ControlPlane::start_with_files(
        &yaml,
        &[
            ("policies/server.yaml", SERVER_POLICY),
            ("policies/team.yaml", GRAPH_POLICY),
        ],
        ControlPlaneOptions::default().with_env("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", TOKENS),
    )
}

pub fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
}

/// Every file under `dir` with its size and modification time.
pub fn file_listing(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.insert(entry.path(), (meta.len(), meta.modified().expect("mtime")));
            }
        }
    }
    out
}
