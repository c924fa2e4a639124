use std::io::Write;

use clap::Args;
use omnigraph_engine::{ExportFilter, Graph};

use super::CliError;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub store: String,
    /// Export this graph version instead of the latest.
    #[arg(long)]
    pub version: Option<u64>,
    /// Only these node/edge types (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
}

pub async fn run(a: ExportArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let snap = graph.snapshot_on(&a.branch, a.version).await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
    omnigraph_engine::export(&snap, &ExportFilter { types: a.types }, &mut out).await?;
    out.flush()?;
    Ok(())
}
