use super::*;
use crate::test_support::GRAPH_POLICY;

fn validate(text: &str, scope: PolicyScope) -> Result<(), PolicyInvalid> {
    PolicyDocument::from_yaml_str(text).unwrap().validate(scope)
}

fn graph_rule(allow: &str) -> String {
    format!("version: 1\ngroups: {{ team: [act-a] }}\nrules:\n  - id: r1\n    allow: {allow}\n")
}

#[test]
fn example_policy_parses_and_validates() {
    let doc = PolicyDocument::from_yaml_str(GRAPH_POLICY).unwrap();
    doc.validate(PolicyScope::Graph).unwrap();
    assert_eq!(doc.rules.len(), 5);
    assert_eq!(
        doc.rules[0].allow.actors,
        ActorSelector::Group("team".into())
    );
    assert_eq!(
        doc.rules[3].allow.actors,
        ActorSelector::Actor("act-carol".into())
    );
    assert_eq!(doc.rules[4].allow.actors, ActorSelector::Any);
    assert_eq!(
        doc.rules[0].allow.branch_scope,
        Some(BranchScope::Unprotected)
    );
    let memberships = doc.memberships();
    assert_eq!(
        memberships["act-a"].iter().copied().collect::<Vec<_>>(),
        ["admins", "team"]
    );
}

#[test]
fn unsupported_version_is_refused() {
    let err = validate("version: 2\nrules: []\n", PolicyScope::Graph).unwrap_err();
    assert_eq!(err, PolicyInvalid::UnsupportedVersion { found: 2 });
}

#[test]
fn missing_version_is_a_parse_error() {
    let err = PolicyDocument::from_yaml_str("rules: []\n").unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn empty_group_is_refused() {
    let err = validate("version: 1\ngroups: { team: [] }\n", PolicyScope::Graph).unwrap_err();
    assert_eq!(
        err,
        PolicyInvalid::EmptyGroup {
            group: "team".into()
        }
    );
    assert!(err.to_string().contains("non-empty"), "{err}");
}

#[test]
fn blank_group_member_is_refused() {
    let err = validate("version: 1\ngroups: { team: ['  '] }\n", PolicyScope::Graph).unwrap_err();
    assert!(matches!(err, PolicyInvalid::BadGroupName { .. }), "{err:?}");
}

#[test]
fn blank_protected_branch_is_refused() {
    let err = validate("version: 1\nprotected_branches: ['']\n", PolicyScope::Graph).unwrap_err();
    assert!(
        matches!(err, PolicyInvalid::BadProtectedBranch { .. }),
        "{err:?}"
    );
}

#[test]
fn blank_rule_id_is_refused() {
    let text = "version: 1\nrules:\n  - id: ' '\n    allow: { actors: any, actions: [read] }\n";
    assert_eq!(
        validate(text, PolicyScope::Graph),
        Err(PolicyInvalid::BadRuleId { index: 0 })
    );
}

#[test]
fn rule_id_with_newline_is_refused() {
    let text =
        "version: 1\nrules:\n  - id: \"a\\nb\"\n    allow: { actors: any, actions: [read] }\n";
    assert_eq!(
        validate(text, PolicyScope::Graph),
        Err(PolicyInvalid::BadRuleId { index: 0 })
    );
}

#[test]
fn duplicate_rule_ids_are_refused() {
    let text = "version: 1\nrules:\n  - id: r\n    allow: { actors: any, actions: [read] }\n  - id: r\n    allow: { actors: any, actions: [export] }\n";
    let err = validate(text, PolicyScope::Graph).unwrap_err();
    assert_eq!(err, PolicyInvalid::DuplicateRuleId { id: "r".into() });
    assert!(err.to_string().contains("unique"), "{err}");
}

#[test]
fn empty_actions_are_refused() {
    let err = validate(
        &graph_rule("{ actors: any, actions: [] }"),
        PolicyScope::Graph,
    )
    .unwrap_err();
    assert_eq!(err, PolicyInvalid::EmptyActions { rule: "r1".into() });
}

#[test]
fn blank_actor_is_refused() {
    let err = validate(
        &graph_rule("{ actors: { actor: '' }, actions: [read] }"),
        PolicyScope::Graph,
    )
    .unwrap_err();
    assert_eq!(err, PolicyInvalid::BadActor { rule: "r1".into() });
}

#[test]
fn unknown_group_is_refused() {
    let err = validate(
        &graph_rule("{ actors: { group: nobody }, actions: [read] }"),
        PolicyScope::Graph,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PolicyInvalid::UnknownGroup {
            rule: "r1".into(),
            group: "nobody".into()
        }
    );
}

#[test]
fn branch_scope_is_only_allowed_with_read_export_change() {
    for ok in ["read", "export", "change"] {
        let allow = format!("{{ actors: any, actions: [{ok}], branch_scope: protected }}");
        validate(&graph_rule(&allow), PolicyScope::Graph).unwrap();
    }
    for bad in [
        "schema_apply",
        "branch_create",
        "branch_delete",
        "branch_merge",
        "invoke_query",
        "tag_create",
        "tag_list",
        "tag_delete",
    ] {
        let allow = format!("{{ actors: any, actions: [read, {bad}], branch_scope: any }}");
        let err = validate(&graph_rule(&allow), PolicyScope::Graph).unwrap_err();
        assert!(
            matches!(err, PolicyInvalid::BranchScopeNotAllowed { ref action, .. } if action.as_str() == bad),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn target_branch_scope_is_only_allowed_with_branch_ops_and_schema_apply() {
    for ok in [
        "branch_create",
        "branch_delete",
        "branch_merge",
        "schema_apply",
    ] {
        let allow = format!("{{ actors: any, actions: [{ok}], target_branch_scope: unprotected }}");
        validate(&graph_rule(&allow), PolicyScope::Graph).unwrap();
    }
    for bad in [
        "read",
        "export",
        "change",
        "invoke_query",
        "tag_create",
        "tag_list",
        "tag_delete",
    ] {
        let allow = format!("{{ actors: any, actions: [{bad}], target_branch_scope: protected }}");
        let err = validate(&graph_rule(&allow), PolicyScope::Graph).unwrap_err();
        assert!(
            matches!(err, PolicyInvalid::TargetBranchScopeNotAllowed { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn server_file_may_not_name_per_graph_actions() {
    let err = validate(
        &graph_rule("{ actors: any, actions: [graph_list, read] }"),
        PolicyScope::Server,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        PolicyInvalid::ActionOutOfScope {
            action: PolicyAction::Read,
            file_scope: PolicyScope::Server,
            ..
        }
    ));
    assert!(err.to_string().contains("server policy file"), "{err}");
}

#[test]
fn graph_file_may_not_name_server_actions() {
    let err = validate(
        &graph_rule("{ actors: any, actions: [graph_create] }"),
        PolicyScope::Graph,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        PolicyInvalid::ActionOutOfScope {
            action: PolicyAction::GraphCreate,
            file_scope: PolicyScope::Graph,
            ..
        }
    ));
}

#[test]
fn actors_selector_shapes_are_checked_at_parse() {
    for (allow, needle) in [
        ("{ actors: everyone, actions: [read] }", "everyone"),
        (
            "{ actors: { group: team, actor: act-a }, actions: [read] }",
            "exactly one",
        ),
        ("{ actors: { role: x }, actions: [read] }", "role"),
        ("{ actors: {}, actions: [read] }", "needs"),
        ("{ actors: any, actions: [ingest] }", "ingest"),
        ("{ actors: any, actions: [read], extra: 1 }", "extra"),
    ] {
        let err = PolicyDocument::from_yaml_str(&graph_rule(allow)).unwrap_err();
        assert!(err.to_string().contains(needle), "{allow}: {err}");
    }
}
