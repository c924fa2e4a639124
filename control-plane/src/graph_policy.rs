//! Per-graph policy files: read by the control plane, validated, and carried to the
//! workers as TEXT (they cannot read the control plane's disk).

use std::path::Path;

use omnigraph_policy::{CompiledPolicy, PolicyError, PolicyErrorKind, PolicyScope};

/// Reads and validates the per-graph policy file at `path`; returns its text.
pub fn read_graph_policy(path: &Path) -> Result<String, PolicyError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
        source_name: source_name.clone(),
        kind: PolicyErrorKind::Read(e),
    })?;
    validate_graph_policy(&text, &source_name)?;
    Ok(text)
}

/// Compiles `text` as a per-graph policy (a server action in it is an error).
pub fn validate_graph_policy(text: &str, source_name: &str) -> Result<(), PolicyError> {
    CompiledPolicy::from_text(text, source_name, PolicyScope::Graph).map(|_| ())
}
