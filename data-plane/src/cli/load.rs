use std::io::BufReader;
use std::path::PathBuf;

use clap::Args;
use omnigraph_engine::{Graph, LoadMode};

use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// JSONL file in the bulk format.
    #[arg(long)]
    pub data: PathBuf,
    /// overwrite | append | merge (required: overwrite replaces whole types).
    #[arg(long)]
    pub mode: String,
    #[arg(long)]
    pub store: String,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: LoadArgs) -> Result<(), CliError> {
    let mode: LoadMode = a.mode.parse()?;
    let file = std::fs::File::open(&a.data).map_err(|source| CliError::Read {
        path: a.data.clone(),
        source,
    })?;
    let graph = Graph::open(&a.store).await?;
    let started = std::time::Instant::now();
    let report = omnigraph_engine::load(
        &graph,
        BufReader::with_capacity(1 << 20, file),
        mode,
        CLI_ACTOR,
    )
    .await?;
    if a.json {
        return print_json(&report);
    }
    let total: u64 = report.tables.iter().map(|t| t.rows_loaded).sum();
    println!(
        "loaded {total} rows ({mode}) in {:.2}s -> graph version {}",
        started.elapsed().as_secs_f64(),
        report.version
    );
    for t in &report.tables {
        println!("  {:<32} {:>12}", t.table_key, t.rows_loaded);
    }
    Ok(())
}
