//! Starting the worker: auth mode, initial registry, listener, control-plane client,
//! graceful shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use omnigraph_api::{RegistryDocument, RegistryGraph, ServeMode, INTERNAL_TOKEN_ENV};
use omnigraph_config::{ConfigMode, OmnigraphConfig};
use omnigraph_http::metrics::MetricsAccess;
use omnigraph_policy::{AuthMode, BearerTokens};

use super::admission::Admission;
use super::app::router;
use super::error::ServeError;
use super::query_limits::{QueryLimits, ReadAdmission};
use super::registry::Registry;
use super::registry_client::RegistryClient;
use super::state::{AppState, InternalAccess, ServerState};

/// Where the registry comes from.
#[derive(Debug, Clone)]
pub enum ServeSource {
    Config(PathBuf),
    ControlPlane {
        url: String,
        advertise_url: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: String,
    pub source: ServeSource,
    pub worker_id: Option<String>,
    pub unauthenticated: bool,
    /// Writes one actor may have in flight on this worker (429 beyond it).
    pub max_writes_per_actor: usize,
    /// Deadlines and row caps of reads, and reads in flight.
    pub query_limits: QueryLimits,
    /// The token a scrape of `GET /metrics` must bear (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// The worker's own compaction runs (`--maintenance-interval-secs`).
    pub maintenance: super::maintenance::MaintenanceOptions,
    /// Bounds of a streamed load (`--max-load-bytes`, `--load-idle-timeout-secs`).
    pub load: super::state::LoadSettings,
}

/// The registry document omnigraph.yaml describes (generation 1), and its mode.
fn document_from_config(path: &Path) -> Result<(RegistryDocument, ServeMode), ServeError> {
    let config = OmnigraphConfig::load(path).map_err(|source| ServeError::Config {
        path: path.display().to_string(),
        source,
    })?;
    let mut graphs = Vec::new();
    for (id, entry) in config.entries() {
        let policy = match &entry.policy {
            None => None,
            Some(policy) => {
                let file = policy.resolve(path);
                Some(
                    std::fs::read_to_string(&file).map_err(|source| ServeError::PolicyFile {
                        path: file.display().to_string(),
                        source,
                    })?,
                )
            }
        };
        graphs.push(RegistryGraph {
            graph_id: id.into_string(),
            uri: entry.uri.clone(),
            policy,
        });
    }
    graphs.sort_by(|a, b| a.graph_id.cmp(&b.graph_id));
    let mode = match config.mode() {
        ConfigMode::Single => ServeMode::Single,
        ConfigMode::Multi => ServeMode::Multi,
    };
    Ok((
        RegistryDocument {
            generation: 1,
            graphs,
        },
        mode,
    ))
}

/// `OMNIGRAPH_INTERNAL_TOKEN`, trimmed; set but blank is a start-up error.
fn internal_token() -> Result<Option<String>, ServeError> {
    match std::env::var(INTERNAL_TOKEN_ENV) {
        Ok(t) if t.trim().is_empty() => Err(ServeError::BlankInternalToken),
        Ok(t) => Ok(Some(t.trim().to_owned())),
        Err(_) => Ok(None),
    }
}

/// How `/internal/*` is guarded: not mounted without a control plane; the internal
/// token whenever this worker authenticates its clients; a loopback peer only for an
/// open-mode (local development) worker without one.
fn internal_access(
    source: &ServeSource,
    auth: &AuthMode,
    token: Option<&str>,
) -> Result<InternalAccess, ServeError> {
    if matches!(source, ServeSource::Config(_)) {
        return Ok(InternalAccess::NotMounted);
    }
    match token {
        Some(t) => Ok(InternalAccess::Token(BearerTokens::from_pairs([(
            "internal", t,
        )])?)),
        None if auth.is_open() => Ok(InternalAccess::LoopbackOnly),
        None => Err(ServeError::InternalTokenRequired),
    }
}

pub async fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let tokens = BearerTokens::from_env()?;
    let (initial, mode) = match &options.source {
        ServeSource::Config(path) => {
            let (doc, mode) = document_from_config(path)?;
            (Some(doc), mode)
        }
        ServeSource::ControlPlane { url, .. } => {
            if reqwest::Url::parse(url).is_err() {
                return Err(ServeError::ControlPlaneUrl(url.clone()));
            }
            (None, ServeMode::Multi)
        }
    };
    let any_policy = initial
        .as_ref()
        .is_some_and(|d| d.graphs.iter().any(|g| g.policy.is_some()));
    let auth = AuthMode::resolve(tokens, any_policy, options.unauthenticated)?;
    auth.watch_tokens_file();
    let metrics = MetricsAccess::resolve(auth.is_open(), options.metrics_token.as_deref())?;
    super::metrics::init();
    let internal = internal_token()?;
    let internal_access = internal_access(&options.source, &auth, internal.as_deref())?;
    let registry = Registry::new(auth);
    if let Some(doc) = &initial {
        registry.apply(doc, true)?;
    }

    let listener = tokio::net::TcpListener::bind(&options.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.bind.clone(),
            source,
        })?;
    let local = listener.local_addr()?;
    let worker_id = options
        .worker_id
        .clone()
        .unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4().simple()));
    let state = Arc::new(ServerState {
        registry,
        mode,
        worker_id: worker_id.clone(),
        internal: internal_access,
        admission: Arc::new(Admission::new(options.max_writes_per_actor)),
        reads: ReadAdmission::new(options.query_limits.max_concurrent_reads),
        query_limits: options.query_limits.clone(),
        metrics,
        maintenance: options.maintenance,
        load: options.load,
    });
    tracing::info!(
        %local,
        worker_id,
        ?mode,
        max_writes_per_actor = state.admission.cap(),
        max_concurrent_reads = state.reads.cap(),
        query_limits = ?state.query_limits,
        "omnigraph data plane listening"
    );

    let client_task = match &options.source {
        ServeSource::ControlPlane { url, advertise_url } => {
            let advertise = advertise_url
                .clone()
                .unwrap_or_else(|| format!("http://{local}"));
            let client = RegistryClient::new(url, advertise, internal)?;
            Some(tokio::spawn(client.run(state.clone())))
        }
        ServeSource::Config(_) => None,
    };

    let maintenance_task =
        tokio::spawn(super::maintenance::run(state.clone(), options.maintenance));
    let app = router(AppState(state));
    let result = axum::serve(
        omnigraph_http::listener::without_delay(listener),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    if let Some(task) = client_task {
        task.abort();
    }
    maintenance_task.abort();
    omnigraph_http::telemetry::shutdown().await;
    tracing::info!("omnigraph data plane stopped");
    Ok(result?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for ctrl-c: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
