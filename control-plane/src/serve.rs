//! `serve`: build the state from omnigraph.yaml and the environment, watch the file
//! (and the bearer tokens file, when tokens come from one), and serve until
//! SIGINT/SIGTERM.

use std::net::SocketAddr;

use omnigraph_config::{hash_to_hex, ConfigMode};

use crate::cli::ServeArgs;
use crate::http::app::router;
use crate::state::{AppState, StartupError, StartupOptions};

const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("cannot watch the config file: {0}")]
    Watch(#[from] notify::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let mut options = StartupOptions::from_env(&args.config, args.unauthenticated)?;
    options.metrics_token = args.metrics_token;
    crate::metrics::init();
    let (state, configured_bind) = AppState::build(options)?;
    let addr = args
        .bind
        .or(configured_bind)
        .unwrap_or_else(|| DEFAULT_BIND.to_owned());
    crate::graphs::recovery::complete_interrupted_deletes(&state).await;
    announce(&state);
    crate::config::watch::spawn(state.config.clone())?;
    state.auth.watch_tokens_file();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Serve)?;
    tracing::info!(%local, "control plane listening");
    let served = axum::serve(
        omnigraph_http::listener::without_delay(listener),
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    omnigraph_http::telemetry::shutdown().await;
    served.map_err(ServeError::Serve)
}

fn announce(state: &AppState) {
    let mode = match state.mode {
        ConfigMode::Single => "single",
        ConfigMode::Multi => "multi",
    };
    tracing::info!(
        config = %state.config.path().display(),
        config_sha256 = %hash_to_hex(&state.config.baseline()),
        mode,
        graphs = state.registry.document().graphs.len(),
        generation = state.registry.generation(),
        "configuration loaded"
    );
    if state.auth.is_open() {
        tracing::warn!(
            "OPEN MODE (--unauthenticated): no bearer tokens, every request is allowed. \
             For local development only; never expose this server."
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
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
