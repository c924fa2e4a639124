//! Policy files: the YAML an operator writes, parsed and validated before compilation.
//!
//! ```yaml
//! version: 1
//! groups: { team: [act-a, act-b], admins: [act-a] }
//! protected_branches: [main]
//! rules:
//!   - id: team-write-unprotected
//!     allow: { actors: { group: team }, actions: [change], branch_scope: unprotected }
//!   - id: admins-merge
//!     allow: { actors: { group: admins }, actions: [branch_merge], target_branch_scope: protected }
//!   - id: alice-reads
//!     allow: { actors: { actor: act-alice }, actions: [read] }
//!   - id: everyone-reads
//!     allow: { actors: any, actions: [read] }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::action::{PolicyAction, PolicyScope};

/// The only policy-file format version.
pub const POLICY_FILE_VERSION: u32 = 1;

/// A parsed policy file (not yet validated: see [`PolicyDocument::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    pub version: u32,
    /// group name -> actor ids.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Branch names that `branch_scope`/`target_branch_scope: protected` refer to.
    #[serde(default)]
    pub protected_branches: Vec<String>,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub id: String,
    pub allow: AllowClause,
}

/// What a rule allows: who, which actions, and on which branches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowClause {
    pub actors: ActorSelector,
    pub actions: Vec<PolicyAction>,
    /// Only with `read`, `export`, `change`: constrains the branch acted on.
    #[serde(default)]
    pub branch_scope: Option<BranchScope>,
    /// Only with `branch_create`, `branch_delete`, `branch_merge`, `schema_apply`.
    #[serde(default)]
    pub target_branch_scope: Option<BranchScope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchScope {
    Any,
    Protected,
    Unprotected,
}

/// `actors:` of a rule: `any`, `{ group: NAME }` or `{ actor: ID }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorSelector {
    /// Every authenticated actor.
    Any,
    Group(String),
    Actor(String),
}

impl<'de> Deserialize<'de> for ActorSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ActorSelectorVisitor)
    }
}

struct ActorSelectorVisitor;

impl<'de> Visitor<'de> for ActorSelectorVisitor {
    type Value = ActorSelector;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`any`, `{ group: NAME }` or `{ actor: ID }`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ActorSelector, E> {
        if v == "any" {
            Ok(ActorSelector::Any)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActorSelector, A::Error> {
        let mut selector = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            let next = match key.as_str() {
                "group" => ActorSelector::Group(value),
                "actor" => ActorSelector::Actor(value),
                other => return Err(de::Error::unknown_field(other, &["group", "actor"])),
            };
            if selector.replace(next).is_some() {
                return Err(de::Error::custom(
                    "`actors` takes exactly one of `group` or `actor`",
                ));
            }
        }
        selector.ok_or_else(|| de::Error::custom("`actors` needs `group` or `actor`"))
    }
}

/// A rule of the policy model that a parsed file breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyInvalid {
    #[error("unsupported version {found}; the only supported version is {POLICY_FILE_VERSION}")]
    UnsupportedVersion { found: u32 },
    #[error("group {group:?} has no members; groups must be non-empty")]
    EmptyGroup { group: String },
    #[error("group {group:?}: {what} is blank or contains control characters")]
    BadGroupName { group: String, what: &'static str },
    #[error("protected_branches: {branch:?} is blank or contains control characters")]
    BadProtectedBranch { branch: String },
    #[error("rule #{index}: `id` is blank or contains control characters")]
    BadRuleId { index: usize },
    #[error("rule id {id:?} is used more than once; rule ids must be unique")]
    DuplicateRuleId { id: String },
    #[error("rule {rule:?}: `actions` is empty")]
    EmptyActions { rule: String },
    #[error("rule {rule:?}: the actor id is blank or contains control characters")]
    BadActor { rule: String },
    #[error("rule {rule:?}: group {group:?} is not defined under `groups`")]
    UnknownGroup { rule: String, group: String },
    #[error(
        "rule {rule:?}: `branch_scope` applies only to read, export and change, not to {action}"
    )]
    BranchScopeNotAllowed { rule: String, action: PolicyAction },
    #[error("rule {rule:?}: `target_branch_scope` applies only to branch_create, branch_delete, branch_merge and schema_apply, not to {action}")]
    TargetBranchScopeNotAllowed { rule: String, action: PolicyAction },
    #[error("rule {rule:?}: action {action} is a {action_scope} action and may not appear in a {file_scope} policy file")]
    ActionOutOfScope {
        rule: String,
        action: PolicyAction,
        action_scope: PolicyScope,
        file_scope: PolicyScope,
    },
}

/// Names are embedded in Cedar text and in messages: no blanks, no control characters.
fn is_good_name(name: &str) -> bool {
    !name.trim().is_empty() && !name.chars().any(char::is_control)
}

impl PolicyDocument {
    pub fn from_yaml_str(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// Checks every rule of the model for a file of the given scope.
    pub fn validate(&self, scope: PolicyScope) -> Result<(), PolicyInvalid> {
        if self.version != POLICY_FILE_VERSION {
            return Err(PolicyInvalid::UnsupportedVersion {
                found: self.version,
            });
        }
        self.validate_groups()?;
        if let Some(branch) = self.protected_branches.iter().find(|b| !is_good_name(b)) {
            return Err(PolicyInvalid::BadProtectedBranch {
                branch: branch.clone(),
            });
        }
        let mut ids = BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if !is_good_name(&rule.id) {
                return Err(PolicyInvalid::BadRuleId { index });
            }
            if !ids.insert(rule.id.as_str()) {
                return Err(PolicyInvalid::DuplicateRuleId {
                    id: rule.id.clone(),
                });
            }
            self.validate_rule(rule, scope)?;
        }
        Ok(())
    }

    fn validate_groups(&self) -> Result<(), PolicyInvalid> {
        for (group, members) in &self.groups {
            if !is_good_name(group) {
                return Err(PolicyInvalid::BadGroupName {
                    group: group.clone(),
                    what: "the group name",
                });
            }
            if members.is_empty() {
                return Err(PolicyInvalid::EmptyGroup {
                    group: group.clone(),
                });
            }
            if members.iter().any(|m| !is_good_name(m)) {
                return Err(PolicyInvalid::BadGroupName {
                    group: group.clone(),
                    what: "a member actor id",
                });
            }
        }
        Ok(())
    }

    fn validate_rule(&self, rule: &PolicyRule, scope: PolicyScope) -> Result<(), PolicyInvalid> {
        let name = || rule.id.clone();
        let allow = &rule.allow;
        match &allow.actors {
            ActorSelector::Any => {}
            ActorSelector::Actor(actor) if !is_good_name(actor) => {
                return Err(PolicyInvalid::BadActor { rule: name() });
            }
            ActorSelector::Actor(_) => {}
            ActorSelector::Group(group) if !self.groups.contains_key(group) => {
                return Err(PolicyInvalid::UnknownGroup {
                    rule: name(),
                    group: group.clone(),
                });
            }
            ActorSelector::Group(_) => {}
        }
        if allow.actions.is_empty() {
            return Err(PolicyInvalid::EmptyActions { rule: name() });
        }
        for &action in &allow.actions {
            if action.scope() != scope {
                return Err(PolicyInvalid::ActionOutOfScope {
                    rule: name(),
                    action,
                    action_scope: action.scope(),
                    file_scope: scope,
                });
            }
            if allow.branch_scope.is_some() && !action.accepts_branch_scope() {
                return Err(PolicyInvalid::BranchScopeNotAllowed {
                    rule: name(),
                    action,
                });
            }
            if allow.target_branch_scope.is_some() && !action.accepts_target_branch_scope() {
                return Err(PolicyInvalid::TargetBranchScopeNotAllowed {
                    rule: name(),
                    action,
                });
            }
        }
        Ok(())
    }

    /// actor id -> the groups it belongs to.
    pub fn memberships(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (group, members) in &self.groups {
            for member in members {
                out.entry(member.as_str())
                    .or_default()
                    .insert(group.as_str());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
