use super::*;
use crate::test_support::{graph_policy, server_policy};

fn tokens() -> BearerTokens {
    BearerTokens::from_pairs([("act-a", "token-a-0123456789")]).unwrap()
}

fn bearer() -> AuthMode {
    AuthMode::Bearer(TokenSet::new(tokens()))
}

fn actor(id: &str) -> ActorId {
    ActorId::new(id)
}

#[test]
fn tokens_and_policy_resolve_to_bearer_mode() {
    let mode = AuthMode::resolve(tokens(), true, false).unwrap();
    assert!(!mode.is_open());
    assert!(AuthMode::resolve(tokens(), false, false).is_ok());
}

#[test]
fn policy_without_tokens_refuses_start() {
    assert_eq!(
        AuthMode::resolve(BearerTokens::default(), true, false).unwrap_err(),
        AuthSetupError::PolicyWithoutTokens
    );
    assert_eq!(
        AuthMode::resolve(BearerTokens::default(), true, true).unwrap_err(),
        AuthSetupError::PolicyWithoutTokens
    );
}

#[test]
fn no_tokens_no_policy_refuses_start_unless_unauthenticated() {
    let err = AuthMode::resolve(BearerTokens::default(), false, false).unwrap_err();
    assert_eq!(err, AuthSetupError::NoTokens);
    assert!(err.to_string().contains("--unauthenticated"), "{err}");
    assert!(AuthMode::resolve(BearerTokens::default(), false, true)
        .unwrap()
        .is_open());
}

#[test]
fn unauthenticated_with_tokens_refuses_start() {
    assert_eq!(
        AuthMode::resolve(tokens(), false, true).unwrap_err(),
        AuthSetupError::UnauthenticatedWithTokens
    );
}

#[test]
fn for_scope_picks_open_default_deny_or_cedar() {
    let policy = Arc::new(graph_policy());
    assert!(matches!(
        Authorizer::for_scope(&AuthMode::Open, Some(policy.clone())),
        Authorizer::Open
    ));
    assert!(matches!(
        Authorizer::for_scope(&bearer(), None),
        Authorizer::DefaultDeny
    ));
    assert!(matches!(
        Authorizer::for_scope(&bearer(), Some(policy)),
        Authorizer::Cedar(_)
    ));
}

#[test]
fn open_mode_allows_everything_without_an_actor() {
    let auth = Authorizer::Open;
    for action in PolicyAction::ALL {
        let resource = match action.scope() {
            PolicyScope::Server => Resource::Server,
            PolicyScope::Graph => Resource::graph("alpha"),
        };
        let decision = auth.authorize(None, action, &resource, &RequestContext::on_branch("main"));
        assert!(decision.allowed, "{action}");
        assert!(decision.reason.contains("open mode"));
    }
}

#[test]
fn default_deny_allows_only_per_graph_read() {
    let auth = Authorizer::DefaultDeny;
    let a = actor("act-a");
    let alpha = Resource::graph("alpha");
    let ctx = RequestContext::on_branch("main");
    assert!(
        auth.authorize(Some(&a), PolicyAction::Read, &alpha, &ctx)
            .allowed
    );
    for action in PolicyAction::in_scope(PolicyScope::Graph).filter(|a| *a != PolicyAction::Read) {
        let decision = auth.authorize(Some(&a), action, &alpha, &ctx);
        assert!(!decision.allowed, "{action}");
    }
}

#[test]
fn default_deny_reason_says_no_policy_is_configured() {
    let decision = Authorizer::DefaultDeny.authorize(
        Some(&actor("act-a")),
        PolicyAction::Change,
        &Resource::graph("alpha"),
        &RequestContext::on_branch("main"),
    );
    assert!(!decision.allowed);
    for needle in [
        "act-a",
        "change",
        "graph 'alpha'",
        "no policy is configured",
        "only read",
    ] {
        assert!(
            decision.reason.contains(needle),
            "missing {needle:?}: {}",
            decision.reason
        );
    }
}

#[test]
fn default_deny_denies_management_without_server_policy() {
    let decision = Authorizer::DefaultDeny.authorize(
        Some(&actor("act-a")),
        PolicyAction::GraphList,
        &Resource::Server,
        &RequestContext::none(),
    );
    assert!(!decision.allowed);
    assert!(
        decision.reason.contains("no server policy is configured"),
        "{}",
        decision.reason
    );
    assert!(
        decision.reason.contains("graph_list"),
        "{}",
        decision.reason
    );
}

#[test]
fn cedar_mode_delegates_and_reports_no_rule() {
    let auth = Authorizer::Cedar(Arc::new(server_policy()));
    let ctx = RequestContext::none();
    let admin = auth.authorize(
        Some(&actor("act-admin")),
        PolicyAction::GraphList,
        &Resource::Server,
        &ctx,
    );
    assert!(admin.allowed, "{}", admin.reason);
    let viewer = auth.authorize(
        Some(&actor("act-viewer")),
        PolicyAction::GraphList,
        &Resource::Server,
        &ctx,
    );
    assert!(!viewer.allowed);
    assert!(viewer.reason.contains("no rule"), "{}", viewer.reason);
}

#[test]
fn authenticated_modes_deny_a_missing_actor() {
    for auth in [
        Authorizer::DefaultDeny,
        Authorizer::Cedar(Arc::new(graph_policy())),
    ] {
        let decision = auth.authorize(
            None,
            PolicyAction::Read,
            &Resource::graph("alpha"),
            &RequestContext::on_branch("dev"),
        );
        assert!(!decision.allowed);
        assert!(
            decision.reason.contains("authenticated actor"),
            "{}",
            decision.reason
        );
    }
}

#[test]
fn action_and_resource_scopes_must_agree() {
    let auth = Authorizer::Open;
    let decision = auth.authorize(
        None,
        PolicyAction::GraphList,
        &Resource::graph("alpha"),
        &RequestContext::none(),
    );
    assert!(!decision.allowed);
    let decision = auth.authorize(
        None,
        PolicyAction::Read,
        &Resource::Server,
        &RequestContext::none(),
    );
    assert!(!decision.allowed);
}

#[test]
fn graph_policy_cannot_decide_server_actions() {
    let auth = Authorizer::Cedar(Arc::new(graph_policy()));
    let decision = auth.authorize(
        Some(&actor("act-a")),
        PolicyAction::GraphCreate,
        &Resource::Server,
        &RequestContext::none(),
    );
    assert!(!decision.allowed);
    assert!(
        decision.reason.contains("cannot decide"),
        "{}",
        decision.reason
    );
}
