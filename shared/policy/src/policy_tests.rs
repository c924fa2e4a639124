//! Declarative policy test cases (`<policy>.tests.yaml`), run by a CLI verb so operators
//! can check a policy before deploying it:
//!
//! ```yaml
//! cases:
//!   - id: team-writes-feature-branch
//!     actor: act-a
//!     action: change
//!     branch: feature-x
//!     expect: allow
//!   - id: team-cannot-write-main
//!     actor: act-a
//!     action: change
//!     branch: main
//!     expect: deny
//! ```
//!
//! Cases are evaluated with Cedar against the compiled policy (the "tokens + policy"
//! state). An optional `graph` names the graph resource (default `test-graph`).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::action::PolicyAction;
use crate::cedar::CompiledPolicy;
use crate::request::{RequestContext, Resource};

/// Graph id used for per-graph cases that do not name one.
pub const DEFAULT_TEST_GRAPH: &str = "test-graph";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTestFile {
    pub cases: Vec<PolicyTestCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTestCase {
    pub id: String,
    pub actor: String,
    pub action: PolicyAction,
    #[serde(default)]
    pub graph: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    pub expect: Expectation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Allow,
    Deny,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expectation::Allow => "allow",
            Expectation::Deny => "deny",
        })
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyCaseResult {
    pub id: String,
    pub expected: Expectation,
    pub actual: Expectation,
    pub passed: bool,
    /// The decision's reason (which rule allowed it, or why it was denied).
    pub reason: String,
}

/// Every case's outcome, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyTestReport {
    pub results: Vec<PolicyCaseResult>,
}

impl PolicyTestReport {
    pub fn all_passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &PolicyCaseResult> {
        self.results.iter().filter(|r| !r.passed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyTestError {
    #[error("cannot read policy tests {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy tests {source_name}: {source}")]
    Yaml {
        source_name: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("policy tests: case id {id:?} is used more than once")]
    DuplicateCaseId { id: String },
    #[error("policy tests: case {id:?} uses {action}, a {action_scope} action, against the {policy_scope} policy {policy}")]
    ActionOutOfScope {
        id: String,
        action: PolicyAction,
        action_scope: crate::action::PolicyScope,
        policy_scope: crate::action::PolicyScope,
        policy: String,
    },
}

/// `policies/alpha.yaml` -> `policies/alpha.tests.yaml`.
pub fn tests_path_for(policy_path: &Path) -> PathBuf {
    let stem = policy_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    policy_path.with_file_name(format!("{stem}.tests.yaml"))
}

impl PolicyTestFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PolicyTestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyTestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Self, PolicyTestError> {
        serde_yaml::from_str(text).map_err(|source| PolicyTestError::Yaml {
            source_name: source_name.to_owned(),
            source,
        })
    }
}

/// Evaluates every case against `policy`. Errors only for a malformed test file
/// (duplicate ids, an action the policy's scope cannot decide); failing cases are
/// reported in the result, not as errors.
pub fn run_policy_tests(
    policy: &CompiledPolicy,
    tests: &PolicyTestFile,
) -> Result<PolicyTestReport, PolicyTestError> {
    let mut ids = BTreeSet::new();
    for case in &tests.cases {
        if !ids.insert(case.id.as_str()) {
            return Err(PolicyTestError::DuplicateCaseId {
                id: case.id.clone(),
            });
        }
        if case.action.scope() != policy.scope() {
            return Err(PolicyTestError::ActionOutOfScope {
                id: case.id.clone(),
                action: case.action,
                action_scope: case.action.scope(),
                policy_scope: policy.scope(),
                policy: policy.source_name().to_owned(),
            });
        }
    }
    let results = tests
        .cases
        .iter()
        .map(|case| run_case(policy, case))
        .collect();
    Ok(PolicyTestReport { results })
}

fn run_case(policy: &CompiledPolicy, case: &PolicyTestCase) -> PolicyCaseResult {
    let resource = match case.action.scope() {
        crate::action::PolicyScope::Server => Resource::Server,
        crate::action::PolicyScope::Graph => {
            Resource::graph(case.graph.as_deref().unwrap_or(DEFAULT_TEST_GRAPH))
        }
    };
    let context = RequestContext {
        branch: case.branch.clone(),
        target_branch: case.target_branch.clone(),
    };
    let decision = policy.evaluate(&case.actor, case.action, &resource, &context);
    let actual = if decision.allowed {
        Expectation::Allow
    } else {
        Expectation::Deny
    };
    PolicyCaseResult {
        id: case.id.clone(),
        expected: case.expect,
        actual,
        passed: actual == case.expect,
        reason: decision.reason,
    }
}

#[cfg(test)]
mod tests;
