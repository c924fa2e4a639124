use super::*;
use crate::test_support::{graph_policy, server_policy, GRAPH_POLICY};

fn graph(id: &str) -> Resource {
    Resource::graph(id)
}

fn allowed(
    policy: &CompiledPolicy,
    actor: &str,
    action: PolicyAction,
    ctx: RequestContext,
) -> bool {
    policy
        .evaluate(actor, action, &graph("alpha"), &ctx)
        .allowed
}

#[test]
fn built_in_schema_declares_every_action() {
    let text = cedar_schema_text();
    for action in PolicyAction::ALL {
        assert!(
            text.contains(&format!("\"{}\"", action.as_str())),
            "{action}"
        );
    }
    // Forces the schema to parse.
    let _ = &*SCHEMA;
}

#[test]
fn compiles_rules_to_cedar_text() {
    let policy = graph_policy();
    let text = policy.cedar_text();
    assert!(text.contains("// rule: team-write-unprotected"), "{text}");
    assert!(
        text.contains("principal in Omnigraph::Group::\"team\""),
        "{text}"
    );
    assert!(
        text.contains("action in [Omnigraph::Action::\"change\"]"),
        "{text}"
    );
    assert!(text.contains("resource is Omnigraph::Graph"), "{text}");
    assert!(
        text.contains("when { (context has branch && !context.branch_protected) }"),
        "{text}"
    );
    assert!(
        text.contains("principal == Omnigraph::Actor::\"act-carol\""),
        "{text}"
    );
    assert!(text.contains("principal is Omnigraph::Actor"), "{text}");
    assert!(
        text.contains("when { context.target_branch_protected }"),
        "{text}"
    );
    assert_eq!(text.matches("permit (").count(), 5);
}

#[test]
fn server_rules_target_the_root_server_entity() {
    let text = server_policy().cedar_text().to_owned();
    assert!(
        text.contains("resource == Omnigraph::Server::\"root\""),
        "{text}"
    );
}

#[test]
fn group_member_is_allowed_and_non_member_denied() {
    let policy = graph_policy();
    let ctx = || RequestContext::on_branch("feature");
    assert!(allowed(&policy, "act-a", PolicyAction::Read, ctx()));
    assert!(allowed(&policy, "act-b", PolicyAction::Export, ctx()));
    assert!(!allowed(&policy, "act-stranger", PolicyAction::Read, ctx()));
    // act-b is in team but not in admins.
    let merge = RequestContext::on_branch("feature").with_target_branch("main");
    assert!(allowed(
        &policy,
        "act-a",
        PolicyAction::BranchMerge,
        merge.clone()
    ));
    assert!(!allowed(&policy, "act-b", PolicyAction::BranchMerge, merge));
}

#[test]
fn unprotected_branch_scope_allows_feature_branches_but_not_protected_ones() {
    let policy = graph_policy();
    assert!(allowed(
        &policy,
        "act-a",
        PolicyAction::Change,
        RequestContext::on_branch("feature-x")
    ));
    assert!(!allowed(
        &policy,
        "act-a",
        PolicyAction::Change,
        RequestContext::on_branch("main")
    ));
    // A request without a branch never matches an `unprotected` scope.
    assert!(!allowed(
        &policy,
        "act-a",
        PolicyAction::Change,
        RequestContext::none()
    ));
}

#[test]
fn protected_target_branch_scope_matches_only_protected_targets() {
    let policy = graph_policy();
    let into = |target: &str| RequestContext::on_branch("feature").with_target_branch(target);
    assert!(allowed(
        &policy,
        "act-a",
        PolicyAction::BranchMerge,
        into("main")
    ));
    assert!(!allowed(
        &policy,
        "act-a",
        PolicyAction::BranchMerge,
        into("feature-2")
    ));
}

#[test]
fn any_actor_selector_matches_unknown_actors() {
    let policy = graph_policy();
    let ctx = |target: &str| RequestContext::none().with_target_branch(target);
    assert!(allowed(
        &policy,
        "someone-new",
        PolicyAction::BranchCreate,
        ctx("feature")
    ));
    assert!(!allowed(
        &policy,
        "someone-new",
        PolicyAction::BranchCreate,
        ctx("main")
    ));
}

#[test]
fn single_actor_selector_matches_only_that_actor() {
    let policy = graph_policy();
    assert!(allowed(
        &policy,
        "act-carol",
        PolicyAction::InvokeQuery,
        RequestContext::none()
    ));
    assert!(!allowed(
        &policy,
        "act-a",
        PolicyAction::InvokeQuery,
        RequestContext::none()
    ));
}

#[test]
fn deny_reason_names_action_resource_branch_and_missing_rule() {
    let policy = graph_policy();
    let decision = policy.evaluate(
        "act-b",
        PolicyAction::Change,
        &graph("alpha"),
        &RequestContext::on_branch("main"),
    );
    assert!(!decision.allowed);
    let reason = decision.reason;
    for needle in [
        "act-b",
        "change",
        "graph 'alpha'",
        "branch 'main' (protected)",
        "no rule",
        "alpha.yaml",
    ] {
        assert!(reason.contains(needle), "missing {needle:?} in {reason}");
    }
}

#[test]
fn allow_reason_names_the_rule() {
    let decision = graph_policy().evaluate(
        "act-a",
        PolicyAction::Change,
        &graph("alpha"),
        &RequestContext::on_branch("dev"),
    );
    assert!(decision.allowed);
    assert!(
        decision.reason.contains("team-write-unprotected"),
        "{}",
        decision.reason
    );
}

#[test]
fn server_policy_allows_admins_and_denies_others() {
    let policy = server_policy();
    let ctx = RequestContext::none();
    assert!(
        policy
            .evaluate(
                "act-admin",
                PolicyAction::GraphList,
                &Resource::Server,
                &ctx
            )
            .allowed
    );
    assert!(
        policy
            .evaluate(
                "act-admin",
                PolicyAction::GraphCreate,
                &Resource::Server,
                &ctx
            )
            .allowed
    );
    assert!(
        !policy
            .evaluate(
                "act-admin",
                PolicyAction::GraphDelete,
                &Resource::Server,
                &ctx
            )
            .allowed
    );
    let viewer = policy.evaluate(
        "act-viewer",
        PolicyAction::GraphList,
        &Resource::Server,
        &ctx,
    );
    assert!(!viewer.allowed);
    assert!(viewer.reason.contains("the server"), "{}", viewer.reason);
}

#[test]
fn names_with_quotes_are_escaped_not_injected() {
    let text = r#"
version: 1
groups: { "te\"am": ["act \"x\") || true; //"] }
rules:
  - id: quoted
    allow: { actors: { group: "te\"am" }, actions: [read] }
"#;
    let policy = CompiledPolicy::from_text(text, "quoted.yaml", PolicyScope::Graph).unwrap();
    assert!(allowed(
        &policy,
        "act \"x\") || true; //",
        PolicyAction::Read,
        RequestContext::none()
    ));
    assert!(!allowed(
        &policy,
        "act",
        PolicyAction::Read,
        RequestContext::none()
    ));
}

#[test]
fn from_text_errors_name_the_source_and_the_cause() {
    let err = CompiledPolicy::from_text(
        "version: 1\ngroups: { g: [] }\n",
        "beta.yaml",
        PolicyScope::Graph,
    )
    .unwrap_err();
    assert_eq!(err.source_name, "beta.yaml");
    assert!(matches!(
        err.kind,
        PolicyErrorKind::Invalid(PolicyInvalid::EmptyGroup { .. })
    ));
    let message = err.to_string();
    assert!(message.contains("policy file beta.yaml"), "{message}");
    assert!(message.contains("\"g\""), "{message}");

    let err = CompiledPolicy::from_text("rules: [", "broken.yaml", PolicyScope::Graph).unwrap_err();
    assert!(matches!(err.kind, PolicyErrorKind::Yaml(_)));
    assert!(err.to_string().contains("broken.yaml"), "{err}");
}

#[test]
fn from_file_reads_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alpha.yaml");
    let missing = CompiledPolicy::from_file(&path, PolicyScope::Graph).unwrap_err();
    assert!(matches!(missing.kind, PolicyErrorKind::Read(_)));
    assert!(missing.to_string().contains("alpha.yaml"), "{missing}");

    std::fs::write(&path, GRAPH_POLICY).unwrap();
    let policy = CompiledPolicy::from_file(&path, PolicyScope::Graph).unwrap();
    assert_eq!(policy.source_name(), path.display().to_string());
    assert_eq!(policy.scope(), PolicyScope::Graph);
    assert!(policy.is_protected("main"));
    assert!(!policy.is_protected("dev"));
}

#[test]
fn policy_with_no_rules_denies_everything() {
    let policy =
        CompiledPolicy::from_text("version: 1\n", "empty.yaml", PolicyScope::Graph).unwrap();
    assert!(!allowed(
        &policy,
        "act-a",
        PolicyAction::Read,
        RequestContext::none()
    ));
}

#[test]
fn yaml_errors_name_the_line_and_column_but_never_quote_the_text() {
    const CANARY: &str = "s3cr3t-canary-line";
    for text in [
        format!("{CANARY}\n"),
        format!("- {CANARY}\n"),
        format!("version: 1\n{CANARY}: x\n"),
        format!("version: 1\ngroups:\n  {CANARY}: x\n"),
        format!("version: \"{CANARY}\"\n"),
        format!(
            "version: 1\nrules:\n  - id: r\n    allow: {{ actors: any, actions: [{CANARY}] }}\n"
        ),
        format!(
            "version: 1\nrules:\n  - id: r\n    allow: {{ actors: {CANARY}, actions: [read] }}\n"
        ),
        format!("version: [\"{CANARY}\"\n"),
    ] {
        let err = CompiledPolicy::from_text(&text, "p.yaml", PolicyScope::Graph).unwrap_err();
        let message = err.to_string();
        assert!(!message.contains(CANARY), "{text:?}: {message}");
        assert!(message.contains("p.yaml"), "{message}");
        assert!(message.contains("line "), "{message}");
    }
    let err = CompiledPolicy::from_text("rules: []\n", "p.yaml", PolicyScope::Graph).unwrap_err();
    assert!(err.to_string().contains("`version` is missing"), "{err}");
}
