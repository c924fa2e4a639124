use clap::Args;
use omnigraph_engine::{run_mutation, Graph};

use super::query_source::QuerySourceArgs;
use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Args)]
pub struct MutateArgs {
    #[arg(long)]
    pub store: String,
    #[command(flatten)]
    pub source: QuerySourceArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
}

pub async fn run(a: MutateArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    // Compiled against the latest schema; the mutation itself re-reads the latest version.
    let snap = graph.snapshot_on(&a.branch, None).await?;
    let query = a.source.compile(&snap)?;
    let report = run_mutation(&snap, &query, &a.source.params()?, CLI_ACTOR).await?;
    if a.json {
        return print_json(&report);
    }
    println!(
        "graph version {}: nodes +{} ~{} -{}, edges +{} -{}",
        report.version,
        report.nodes_inserted,
        report.nodes_updated,
        report.nodes_deleted,
        report.edges_inserted,
        report.edges_deleted
    );
    Ok(())
}
