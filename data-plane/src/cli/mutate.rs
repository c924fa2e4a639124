use clap::Args;
use omnigraph_engine::{Graph, QueryText};

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
    let (source, source_name) = a.source.source()?;
    let text = QueryText::new(&source, a.source.name.as_deref()).named(&source_name);
    let params = a.source.params()?;
    let report = omnigraph_engine::change(&graph, &a.branch, text, &params, CLI_ACTOR)
        .await?
        .report;
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
