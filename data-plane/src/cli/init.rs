use std::path::PathBuf;

use clap::Args;
use omnigraph_engine::Graph;

use super::{print_json, read_file, CliError, CLI_ACTOR};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Schema file (.pg).
    #[arg(long)]
    pub schema: PathBuf,
    /// Where the graph lives: a directory or s3://bucket/prefix.
    pub store: String,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: InitArgs) -> Result<(), CliError> {
    let source = read_file(&a.schema)?;
    let graph = Graph::init(&a.store, &source, CLI_ACTOR).await?;
    let snap = graph.snapshot(None).await?;
    if a.json {
        print_json(&serde_json::json!({
            "uri": graph.uri(),
            "manifest_version": snap.version(),
            "node_types": snap.catalog.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            "edge_types": snap.catalog.edges.iter().map(|e| &e.name).collect::<Vec<_>>(),
        }))
    } else {
        println!(
            "initialised graph at {} ({} node types, {} edge types)",
            graph.uri(),
            snap.catalog.nodes.len(),
            snap.catalog.edges.len()
        );
        Ok(())
    }
}
