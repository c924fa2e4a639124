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
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
    /// When --branch does not exist yet: create it from this branch first.
    #[arg(long)]
    pub from: Option<String>,
}

pub async fn run(a: LoadArgs) -> Result<(), CliError> {
    let mode: LoadMode = a.mode.parse()?;
    let file = std::fs::File::open(&a.data).map_err(|source| CliError::Read {
        path: a.data.clone(),
        source,
    })?;
    let graph = Graph::open(&a.store).await?;
    if let Some(from) = &a.from {
        if a.branch != omnigraph_engine::MAIN && graph.branch(&a.branch).await?.is_none() {
            match graph.create_branch(&a.branch, from, CLI_ACTOR).await {
                Ok(_) | Err(omnigraph_engine::EngineError::AlreadyExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let started = std::time::Instant::now();
    let report = omnigraph_engine::load_on(
        &graph,
        &a.branch,
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
