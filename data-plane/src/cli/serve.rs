//! `serve`: run the data-plane worker.

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::Args;

use super::CliError;
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
    })
    .await?;
    Ok(())
}
