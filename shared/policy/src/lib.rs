//! Authorization for both planes: policy files compiled to Cedar, the runtime
//! authorizer (open / default-deny / Cedar), bearer tokens, and policy test files.

mod action;
mod authorizer;
mod cedar;
mod policy_file;
mod policy_tests;
mod request;
mod tokens;

#[cfg(test)]
mod test_support;

pub use action::{PolicyAction, PolicyScope, UnknownActionError};
pub use authorizer::{AuthMode, AuthSetupError, Authorizer};
pub use cedar::{CompiledPolicy, PolicyError, PolicyErrorKind, YamlError};
pub use policy_file::{
    ActorSelector, AllowClause, BranchScope, PolicyDocument, PolicyInvalid, PolicyRule,
    POLICY_FILE_VERSION,
};
pub use policy_tests::{
    run_policy_tests, tests_path_for, Expectation, PolicyCaseResult, PolicyTestCase,
    PolicyTestError, PolicyTestFile, PolicyTestReport, DEFAULT_TEST_GRAPH,
};
pub use request::{Decision, RequestContext, Resource};
pub use tokens::{
    ActorId, AuthError, BearerTokens, TokenConfigError, TokenSet, TokenSources, DEFAULT_ACTOR,
    ENV_BEARER_TOKEN, ENV_BEARER_TOKENS_FILE, ENV_BEARER_TOKENS_JSON, MIN_TOKEN_BYTES,
    TOKENS_FILE_POLL,
};
