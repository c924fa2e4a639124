//! `AppState`: everything a handler needs, built once at start from omnigraph.yaml and
//! the environment (section 6 decides which combinations refuse to start).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use omnigraph_api::INTERNAL_TOKEN_ENV;
use omnigraph_config::{ConfigError, ConfigMode, GraphId, OmnigraphConfig, ServerSection};
use omnigraph_http::metrics::MetricsAccess;
use omnigraph_policy::{
    AuthMode, AuthSetupError, Authorizer, BearerTokens, CompiledPolicy, PolicyError, PolicyScope,
    TokenConfigError,
};

use crate::config::file::ConfigFile;
use crate::graphs::policy::read_graph_policy;
use crate::http::auth::InternalAuth;
use crate::registry::push::{PushPolicy, WorkerSet};
use crate::registry::{RegisteredGraph, Registry};

/// Environment variable that opts into open mode, like `--unauthenticated`.
pub const UNAUTHENTICATED_ENV: &str = "OMNIGRAPH_UNAUTHENTICATED";

/// How long `POST /graphs` waits for the workers to acknowledge the new generation
/// before answering 201 anyway (pushing goes on in the background).
const PUSH_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub mode: ConfigMode,
    pub auth: AuthMode,
    /// Decides `graph_list` / `graph_create` on `Omnigraph::Server::"root"`.
    pub server_authorizer: Authorizer,
    pub config: Arc<ConfigFile>,
    pub registry: Arc<Registry>,
    pub workers: Arc<WorkerSet>,
    pub internal_auth: Arc<InternalAuth>,
    pub push_wait: Duration,
    /// `server` of omnigraph.yaml as loaded (`storage_roots` bounds POST /graphs).
    pub server: ServerSection,
    /// Who may read `GET /metrics`.
    pub metrics: MetricsAccess,
}

/// Why the control plane refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("bearer tokens: {0}")]
    Tokens(#[from] TokenConfigError),
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error("{INTERNAL_TOKEN_ENV} is set but blank; give it a value (or, in open mode only, unset it: internal routes then accept only loopback peers)")]
    BlankInternalToken,
    #[error("{INTERNAL_TOKEN_ENV}: {0}")]
    InternalToken(TokenConfigError),
    #[error("this control plane has bearer tokens, so its internal routes need {INTERNAL_TOKEN_ENV} (shared with its workers); only an open-mode (--unauthenticated) control plane may run without one, accepting loopback peers")]
    InternalTokenRequired,
    #[error("metrics token: {0}")]
    MetricsToken(TokenConfigError),
    #[error("cannot build the HTTP client for registry pushes: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// Settings from the command line and the environment.
pub struct StartupOptions {
    pub config_path: PathBuf,
    pub unauthenticated: bool,
    pub tokens: BearerTokens,
    pub internal_token: Option<String>,
    /// The token a scrape of `GET /metrics` must bear (`--metrics-token`).
    pub metrics_token: Option<String>,
}

impl StartupOptions {
    /// Reads the token variables; `unauthenticated` is the flag, ORed with the env.
    pub fn from_env(config_path: &Path, unauthenticated: bool) -> Result<Self, StartupError> {
        let internal_token = match std::env::var(INTERNAL_TOKEN_ENV) {
            Ok(token) if token.trim().is_empty() => return Err(StartupError::BlankInternalToken),
            Ok(token) => Some(token.trim().to_owned()),
            Err(_) => None,
        };
        Ok(StartupOptions {
            config_path: config_path.to_path_buf(),
            unauthenticated: unauthenticated || env_flag(UNAUTHENTICATED_ENV),
            tokens: BearerTokens::from_env()?,
            internal_token,
            metrics_token: None,
        })
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

impl AppState {
    /// Loads omnigraph.yaml, every policy it names, and the auth settings. Also returns
    /// the file's `server.bind`.
    pub fn build(options: StartupOptions) -> Result<(AppState, Option<String>), StartupError> {
        let (config_file, config) = ConfigFile::load(&options.config_path)?;
        let server_policy = match &config.server.policy {
            Some(policy) => Some(Arc::new(CompiledPolicy::from_file(
                config_file.resolve(&policy.file),
                PolicyScope::Server,
            )?)),
            None => None,
        };
        let graphs = registered_graphs(&config, &config_file)?;
        let any_policy = server_policy.is_some() || graphs.values().any(|g| g.policy.is_some());
        let auth = AuthMode::resolve(options.tokens, any_policy, options.unauthenticated)?;
        let server_authorizer = Authorizer::for_scope(&auth, server_policy);
        if !auth.is_open() && options.internal_token.is_none() {
            return Err(StartupError::InternalTokenRequired);
        }
        let metrics = MetricsAccess::resolve(auth.is_open(), options.metrics_token.as_deref())
            .map_err(StartupError::MetricsToken)?;
        let internal_auth = InternalAuth::new(options.internal_token.as_deref())
            .map_err(StartupError::InternalToken)?;
        let registry = Registry::new(graphs);
        let workers = WorkerSet::new(
            registry.clone(),
            options.internal_token,
            PushPolicy::default(),
        )?;
        let state = AppState {
            mode: config.mode(),
            auth,
            server_authorizer,
            config: Arc::new(config_file),
            registry,
            workers: Arc::new(workers),
            internal_auth: Arc::new(internal_auth),
            server: config.server.clone(),
            push_wait: PUSH_WAIT,
            metrics,
        };
        Ok((state, config.server.bind))
    }
}

/// The registry at generation 1: every graph of the file with its policy text.
fn registered_graphs(
    config: &OmnigraphConfig,
    config_file: &ConfigFile,
) -> Result<BTreeMap<GraphId, RegisteredGraph>, PolicyError> {
    config
        .entries()
        .into_iter()
        .map(|(id, entry)| {
            let policy = match &entry.policy {
                Some(policy) => Some(read_graph_policy(&config_file.resolve(&policy.file))?),
                None => None,
            };
            let graph = RegisteredGraph {
                uri: entry.uri.clone(),
                policy,
            };
            Ok((id, graph))
        })
        .collect()
}
