//! Compiling a validated policy file to Cedar, and evaluating requests against it.
//!
//! Entities: principal `Omnigraph::Actor::"<id>"`, a member of `Omnigraph::Group::"<g>"`
//! for every group listing it; resources `Omnigraph::Server::"root"` and
//! `Omnigraph::Graph::"<graph_id>"`; actions `Omnigraph::Action::"<policy-file name>"`.
//! Context: `branch?`, `branch_protected`, `target_branch?`, `target_branch_protected`.
//! Compiled policies are validated (strict mode) against a Cedar schema of exactly that.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::str::FromStr;
use std::sync::LazyLock;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    Request, RestrictedExpression, Schema, ValidationMode, Validator,
};

use crate::action::{PolicyAction, PolicyScope};
use crate::policy_file::{ActorSelector, BranchScope, PolicyDocument, PolicyInvalid, PolicyRule};
use crate::request::{Decision, RequestContext, Resource};

/// A policy file could not be loaded; the message names the file and the cause.
#[derive(Debug, thiserror::Error)]
#[error("policy file {source_name}: {kind}")]
pub struct PolicyError {
    /// The file path, or the label given to [`CompiledPolicy::from_text`].
    pub source_name: String,
    #[source]
    pub kind: PolicyErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyErrorKind {
    #[error("cannot read it: {0}")]
    Read(#[from] io::Error),
    #[error("not a valid policy file: {0}")]
    Yaml(#[from] YamlError),
    #[error(transparent)]
    Invalid(#[from] PolicyInvalid),
    /// The compiled Cedar did not parse or validate (a bug in the compiler, or a name
    /// that Cedar refuses); carries Cedar's own message.
    #[error("Cedar error: {0}")]
    Cedar(String),
}

/// Why a text is not a policy file, without the YAML parser's own message: that quotes
/// the text (a value, a key), and the text may be a file that is not a policy at all (a
/// secret), so only the kind of mistake and where it is are kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at line {line}, column {column} (the text is not quoted back; the format is `version`, `groups`, `protected_branches`, `rules`)")]
pub struct YamlError {
    /// The kind of mistake, in words that quote nothing from the text.
    pub what: String,
    /// 1-based; 0 when the parser gave no position.
    pub line: usize,
    pub column: usize,
}

impl From<serde_yaml::Error> for YamlError {
    fn from(err: serde_yaml::Error) -> Self {
        let (line, column) = err.location().map_or((0, 0), |l| (l.line(), l.column()));
        YamlError {
            what: yaml_mistake(&err.to_string()),
            line,
            column,
        }
    }
}

/// The kind of a serde/YAML error from its message, quoting nothing of the text but the
/// name of a missing key (one of this format's own keys).
fn yaml_mistake(message: &str) -> String {
    if let Some(rest) = message.split("missing field `").nth(1) {
        if let Some(field) = rest.split('`').next() {
            if KNOWN_KEYS.contains(&field) {
                return format!("the key `{field}` is missing");
            }
        }
    }
    let kinds = [
        ("unknown field", "a key this format does not have"),
        ("duplicate field", "a key given twice"),
        (
            "unknown variant",
            "an unknown name (of an action or a branch scope?)",
        ),
        ("invalid type", "a value of the wrong type"),
        ("invalid value", "a value this format does not accept"),
        ("invalid length", "a list of the wrong length"),
        ("recursion limit", "nesting too deep"),
    ];
    kinds
        .iter()
        .find(|(pattern, _)| message.contains(pattern))
        .map_or("not valid YAML for a policy file", |(_, what)| what)
        .to_owned()
}

/// Every key of the policy file format.
const KNOWN_KEYS: [&str; 10] = [
    "version",
    "groups",
    "protected_branches",
    "rules",
    "id",
    "allow",
    "actors",
    "actions",
    "branch_scope",
    "target_branch_scope",
];

const NAMESPACE: &str = "Omnigraph";

fn cedar_schema_text() -> String {
    let names = |scope| {
        PolicyAction::in_scope(scope)
            .map(|a| format!("\"{}\"", a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "namespace {NAMESPACE} {{
  entity Group;
  entity Actor in [Group];
  entity Server;
  entity Graph;
  type RequestContext = {{
    branch?: String,
    branch_protected: Bool,
    target_branch?: String,
    target_branch_protected: Bool
  }};
  action {graph_actions} appliesTo {{ principal: [Actor], resource: [Graph], context: RequestContext }};
  action {server_actions} appliesTo {{ principal: [Actor], resource: [Server], context: RequestContext }};
}}
",
        graph_actions = names(PolicyScope::Graph),
        server_actions = names(PolicyScope::Server),
    )
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    // A constant of this crate: covered by every test that compiles a policy.
    Schema::from_cedarschema_str(&cedar_schema_text())
        .map(|(schema, _warnings)| schema)
        .expect("the built-in Cedar schema parses")
});

fn uid(type_name: &str, id: &str) -> EntityUid {
    let type_name = EntityTypeName::from_str(&format!("{NAMESPACE}::{type_name}"))
        .expect("built-in entity type names parse");
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

fn action_uid(action: PolicyAction) -> EntityUid {
    uid("Action", action.as_str())
}

fn resource_uid(resource: &Resource) -> EntityUid {
    match resource {
        Resource::Server => uid("Server", "root"),
        Resource::Graph(id) => uid("Graph", id),
    }
}

fn scope_condition(attr: &str, scope: BranchScope) -> Option<String> {
    match scope {
        BranchScope::Any => None,
        BranchScope::Protected => Some(format!("context.{attr}_protected")),
        BranchScope::Unprotected => {
            Some(format!("(context has {attr} && !context.{attr}_protected)"))
        }
    }
}

/// The Cedar text of one rule. Names are rendered by Cedar's own `EntityUid` display,
/// which escapes them; the rule id only appears in a comment and has no newlines.
fn compile_rule(rule: &PolicyRule, scope: PolicyScope) -> String {
    let principal = match &rule.allow.actors {
        ActorSelector::Any => format!("principal is {NAMESPACE}::Actor"),
        ActorSelector::Actor(actor) => format!("principal == {}", uid("Actor", actor)),
        ActorSelector::Group(group) => format!("principal in {}", uid("Group", group)),
    };
    let actions = rule
        .allow
        .actions
        .iter()
        .map(|a| action_uid(*a).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let resource = match scope {
        PolicyScope::Graph => format!("resource is {NAMESPACE}::Graph"),
        PolicyScope::Server => format!("resource == {}", resource_uid(&Resource::Server)),
    };
    let conditions: Vec<String> = [
        rule.allow
            .branch_scope
            .and_then(|s| scope_condition("branch", s)),
        rule.allow
            .target_branch_scope
            .and_then(|s| scope_condition("target_branch", s)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut text = format!(
        "// rule: {}\npermit (\n  {principal},\n  action in [{actions}],\n  {resource}\n)",
        rule.id
    );
    if !conditions.is_empty() {
        let _ = write!(text, "\nwhen {{ {} }}", conditions.join(" && "));
    }
    text.push_str(";\n");
    text
}

/// A validated policy file compiled to a Cedar policy set, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    source_name: String,
    scope: PolicyScope,
    document: PolicyDocument,
    memberships: BTreeMap<String, BTreeSet<String>>,
    protected_branches: BTreeSet<String>,
    policies: PolicySet,
    cedar_text: String,
}

impl CompiledPolicy {
    /// Reads, validates and compiles the policy file at `path`.
    pub fn from_file(path: impl AsRef<Path>, scope: PolicyScope) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            source_name: source_name.clone(),
            kind: e.into(),
        })?;
        Self::from_text(&text, &source_name, scope)
    }

    /// Validates and compiles policy text (workers receive policies as text);
    /// `source_name` names it in errors and deny reasons.
    pub fn from_text(
        text: &str,
        source_name: &str,
        scope: PolicyScope,
    ) -> Result<Self, PolicyError> {
        let fail = |kind: PolicyErrorKind| PolicyError {
            source_name: source_name.to_owned(),
            kind,
        };
        let document =
            PolicyDocument::from_yaml_str(text).map_err(|e| fail(YamlError::from(e).into()))?;
        document.validate(scope).map_err(|e| fail(e.into()))?;

        let mut policies = PolicySet::new();
        let mut cedar_text = String::new();
        for rule in &document.rules {
            let rule_text = compile_rule(rule, scope);
            let policy = Policy::parse(Some(PolicyId::new(&rule.id)), &rule_text)
                .map_err(|e| fail(PolicyErrorKind::Cedar(format!("rule {:?}: {e}", rule.id))))?;
            policies
                .add(policy)
                .map_err(|e| fail(PolicyErrorKind::Cedar(format!("rule {:?}: {e}", rule.id))))?;
            cedar_text.push_str(&rule_text);
        }
        let validation = Validator::new(SCHEMA.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let messages: Vec<String> = validation
                .validation_errors()
                .map(|e| e.to_string())
                .collect();
            return Err(fail(PolicyErrorKind::Cedar(messages.join("; "))));
        }

        let memberships = document
            .memberships()
            .into_iter()
            .map(|(actor, groups)| {
                (
                    actor.to_owned(),
                    groups.into_iter().map(str::to_owned).collect(),
                )
            })
            .collect();
        let protected_branches = document.protected_branches.iter().cloned().collect();
        Ok(CompiledPolicy {
            source_name: source_name.to_owned(),
            scope,
            document,
            memberships,
            protected_branches,
            policies,
            cedar_text,
        })
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    pub fn scope(&self) -> PolicyScope {
        self.scope
    }

    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// The generated Cedar policies, one per rule, for `policy explain` and debugging.
    pub fn cedar_text(&self) -> &str {
        &self.cedar_text
    }

    pub fn is_protected(&self, branch: &str) -> bool {
        self.protected_branches.contains(branch)
    }

    /// Asks Cedar whether `actor` may perform `action` on `resource`. A deny names the
    /// action, the resource and the branches, and says that no rule allowed it.
    pub fn evaluate(
        &self,
        actor: &str,
        action: PolicyAction,
        resource: &Resource,
        context: &RequestContext,
    ) -> Decision {
        let request = match self.request(actor, action, resource, context) {
            Ok(request) => request,
            Err(message) => {
                return Decision::deny(format!(
                    "actor '{actor}' may not {action} on {resource}: {message}"
                ))
            }
        };
        let response = cedar_policy::Authorizer::new().is_authorized(
            &request.request,
            &self.policies,
            &request.entities,
        );
        let rules: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        if response.decision() == cedar_policy::Decision::Allow {
            return Decision::allow(format!(
                "allowed by rule {} of policy file {}",
                rules.join(", "),
                self.source_name
            ));
        }
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        let mut reason = format!(
            "actor '{actor}' may not {action} on {resource}{}: no rule in policy file {} allows it",
            self.describe_branches(context),
            self.source_name
        );
        if !errors.is_empty() {
            let _ = write!(reason, " (evaluation errors: {})", errors.join("; "));
        }
        Decision::deny(reason)
    }

    fn describe_branches(&self, context: &RequestContext) -> String {
        let describe = |label: &str, branch: &str| {
            let kind = if self.is_protected(branch) {
                "protected"
            } else {
                "unprotected"
            };
            format!("{label} '{branch}' ({kind})")
        };
        let parts: Vec<String> = [
            context.branch.as_deref().map(|b| describe("branch", b)),
            context
                .target_branch
                .as_deref()
                .map(|b| describe("target branch", b)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }

    fn request(
        &self,
        actor: &str,
        action: PolicyAction,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<PreparedRequest, String> {
        let principal = uid("Actor", actor);
        let groups: HashSet<EntityUid> = self
            .memberships
            .get(actor)
            .into_iter()
            .flatten()
            .map(|g| uid("Group", g))
            .collect();
        let mut entities: Vec<Entity> = groups
            .iter()
            .map(|g| Entity::new_no_attrs(g.clone(), HashSet::new()))
            .collect();
        entities.push(Entity::new_no_attrs(principal.clone(), groups));
        entities.push(Entity::new_no_attrs(resource_uid(resource), HashSet::new()));
        let entities =
            Entities::from_entities(entities, Some(&SCHEMA)).map_err(|e| e.to_string())?;

        let mut pairs = vec![
            (
                "branch_protected".to_owned(),
                RestrictedExpression::new_bool(
                    context
                        .branch
                        .as_deref()
                        .is_some_and(|b| self.is_protected(b)),
                ),
            ),
            (
                "target_branch_protected".to_owned(),
                RestrictedExpression::new_bool(
                    context
                        .target_branch
                        .as_deref()
                        .is_some_and(|b| self.is_protected(b)),
                ),
            ),
        ];
        if let Some(branch) = &context.branch {
            pairs.push((
                "branch".to_owned(),
                RestrictedExpression::new_string(branch.clone()),
            ));
        }
        if let Some(target) = &context.target_branch {
            pairs.push((
                "target_branch".to_owned(),
                RestrictedExpression::new_string(target.clone()),
            ));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        let request = Request::new(
            principal,
            action_uid(action),
            resource_uid(resource),
            context,
            Some(&SCHEMA),
        )
        .map_err(|e| e.to_string())?;
        Ok(PreparedRequest { request, entities })
    }
}

struct PreparedRequest {
    request: Request,
    entities: Entities,
}

#[cfg(test)]
mod tests;
