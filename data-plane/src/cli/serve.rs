//! `serve`: run the data-plane worker.

use std::path::PathBuf;

use clap::builder::{FalseyValueParser, TypedValueParser};
use clap::Args;

use super::CliError;
use crate::server::admission::{DEFAULT_MAX_WRITES_PER_ACTOR, MAX_WRITES_PER_ACTOR_ENV};
use crate::server::{serve, ServeError, ServeOptions, ServeSource};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Serve the graphs of this omnigraph.yaml (no control plane).
    #[arg(long, conflicts_with = "control_plane")]
    pub config: Option<PathBuf>,
    /// Register with this control plane and serve its registry.
    #[arg(long)]
    pub control_plane: Option<String>,
    /// URL the control plane reaches this worker at; `http://<bound address>` by default.
    #[arg(long, requires = "control_plane")]
    pub advertise_url: Option<String>,
    /// This worker's id; a random one by default.
    #[arg(long)]
    pub worker_id: Option<String>,
    /// Open mode (local development only): no bearer tokens, every request allowed.
    #[arg(long, env = "OMNIGRAPH_UNAUTHENTICATED", value_parser = FalseyValueParser::new())]
    pub unauthenticated: bool,
    /// Writes (changes, loads, schema applies, branch operations) one actor may have in
    /// flight on this worker; more answer 429 with Retry-After.
    #[arg(
        long,
        env = MAX_WRITES_PER_ACTOR_ENV,
        default_value_t = DEFAULT_MAX_WRITES_PER_ACTOR,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize)
    )]
    pub max_writes_per_actor: usize,
}

pub async fn run(a: ServeArgs) -> Result<(), CliError> {
    omnigraph_api::init_logging();
    let source = match (a.config, a.control_plane) {
        (Some(path), None) => ServeSource::Config(path),
        (None, Some(url)) => ServeSource::ControlPlane {
            url,
            advertise_url: a.advertise_url,
        },
        _ => return Err(ServeError::Source.into()),
    };
    serve(ServeOptions {
        bind: a.bind,
        source,
        worker_id: a.worker_id,
        unauthenticated: a.unauthenticated,
        max_writes_per_actor: a.max_writes_per_actor,
    })
    .await?;
    Ok(())
}
