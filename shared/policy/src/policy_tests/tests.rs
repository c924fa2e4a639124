use super::*;
use crate::test_support::{graph_policy, server_policy};

const CASES: &str = r#"
cases:
  - id: team-writes-feature-branch
    actor: act-b
    action: change
    branch: feature-x
    expect: allow
  - id: team-cannot-write-main
    actor: act-b
    action: change
    branch: main
    expect: deny
  - id: admin-merges-into-main
    actor: act-a
    action: branch_merge
    branch: feature-x
    target_branch: main
    expect: allow
  - id: stranger-reads
    actor: act-z
    action: read
    graph: beta
    expect: deny
"#;

#[test]
fn passing_cases_are_reported_in_file_order() {
    let tests = PolicyTestFile::from_yaml_str(CASES, "alpha.tests.yaml").unwrap();
    let report = run_policy_tests(&graph_policy(), &tests).unwrap();
    assert!(report.all_passed(), "{report:?}");
    let ids: Vec<_> = report.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "team-writes-feature-branch",
            "team-cannot-write-main",
            "admin-merges-into-main",
            "stranger-reads"
        ]
    );
    assert!(report.results[0].reason.contains("team-write-unprotected"));
}

#[test]
fn failing_case_is_reported_with_expected_actual_and_reason() {
    let text =
        "cases:\n  - { id: wrong, actor: act-b, action: change, branch: main, expect: allow }\n";
    let tests = PolicyTestFile::from_yaml_str(text, "t.yaml").unwrap();
    let report = run_policy_tests(&graph_policy(), &tests).unwrap();
    assert!(!report.all_passed());
    let failure = report.failures().next().unwrap();
    assert_eq!(failure.id, "wrong");
    assert_eq!(failure.expected, Expectation::Allow);
    assert_eq!(failure.actual, Expectation::Deny);
    assert!(failure.reason.contains("no rule"), "{}", failure.reason);
}

#[test]
fn server_cases_run_against_the_server_resource() {
    let text = "cases:\n  - { id: admin-lists, actor: act-admin, action: graph_list, expect: allow }\n  - { id: viewer-creates, actor: act-v, action: graph_create, expect: deny }\n";
    let tests = PolicyTestFile::from_yaml_str(text, "server.tests.yaml").unwrap();
    assert!(run_policy_tests(&server_policy(), &tests)
        .unwrap()
        .all_passed());
}

#[test]
fn duplicate_case_ids_are_an_error() {
    let text = "cases:\n  - { id: a, actor: x, action: read, expect: deny }\n  - { id: a, actor: y, action: read, expect: deny }\n";
    let tests = PolicyTestFile::from_yaml_str(text, "t.yaml").unwrap();
    assert!(matches!(
        run_policy_tests(&graph_policy(), &tests),
        Err(PolicyTestError::DuplicateCaseId { .. })
    ));
}

#[test]
fn case_action_outside_the_policy_scope_is_an_error() {
    let text = "cases:\n  - { id: a, actor: x, action: graph_list, expect: deny }\n";
    let tests = PolicyTestFile::from_yaml_str(text, "t.yaml").unwrap();
    let err = run_policy_tests(&graph_policy(), &tests).unwrap_err();
    assert!(matches!(err, PolicyTestError::ActionOutOfScope { .. }));
    assert!(err.to_string().contains("alpha.yaml"), "{err}");
}

#[test]
fn malformed_tests_file_names_the_file() {
    let err = PolicyTestFile::from_yaml_str(
        "cases:\n  - { id: a, actor: x, action: read, expect: maybe }\n",
        "t.tests.yaml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("t.tests.yaml"), "{err}");
    let err = PolicyTestFile::load("/nonexistent/x.tests.yaml").unwrap_err();
    assert!(matches!(err, PolicyTestError::Read { .. }));
}

#[test]
fn tests_file_sits_beside_the_policy_file() {
    assert_eq!(
        tests_path_for(Path::new("policies/alpha.yaml")),
        PathBuf::from("policies/alpha.tests.yaml")
    );
    assert_eq!(
        tests_path_for(Path::new("server.yml")),
        PathBuf::from("server.tests.yaml")
    );
}

const TAG_POLICY: &str = r#"
version: 1
groups:
  team: [act-a, act-b]
  releasers: [act-a]
rules:
  - id: team-reads-and-lists-tags
    allow: { actors: { group: team }, actions: [read, tag_list] }
  - id: releasers-tag
    allow: { actors: { group: releasers }, actions: [tag_create, tag_delete] }
"#;

const TAG_CASES: &str = r#"
cases:
  - { id: releaser-creates, actor: act-a, action: tag_create, expect: allow }
  - { id: releaser-deletes, actor: act-a, action: tag_delete, expect: allow }
  - { id: member-lists, actor: act-b, action: tag_list, expect: allow }
  - { id: member-cannot-create, actor: act-b, action: tag_create, expect: deny }
  - { id: member-cannot-delete, actor: act-b, action: tag_delete, expect: deny }
  - { id: stranger-cannot-list, actor: act-z, action: tag_list, expect: deny }
"#;

#[test]
fn tag_actions_are_decided_by_their_own_rules() {
    let policy =
        crate::CompiledPolicy::from_text(TAG_POLICY, "tags.yaml", crate::PolicyScope::Graph)
            .unwrap();
    let tests = PolicyTestFile::from_yaml_str(TAG_CASES, "tags.tests.yaml").unwrap();
    let report = run_policy_tests(&policy, &tests).unwrap();
    assert!(report.all_passed(), "{report:?}");
    assert!(
        report.results[0].reason.contains("releasers-tag"),
        "{}",
        report.results[0].reason
    );
    // A graph policy without a tag rule allows no tag action, listing included.
    let tests = PolicyTestFile::from_yaml_str(
        "cases:\n  - { id: a, actor: act-a, action: tag_list, expect: deny }\n  - { id: b, actor: act-a, action: tag_create, expect: deny }\n",
        "t.yaml",
    )
    .unwrap();
    assert!(run_policy_tests(&graph_policy(), &tests)
        .unwrap()
        .all_passed());
}
