use clap::Args;
use omnigraph_engine::Graph;

use super::{print_json, CliError};

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[arg(long)]
    pub store: String,
    /// Show this graph version instead of the latest.
    #[arg(long)]
    pub version: Option<u64>,
    #[arg(long)]
    pub json: bool,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
}

pub async fn run(a: SnapshotArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let snap = graph.snapshot_on(&a.branch, a.version).await?;
    let m = &snap.manifest;
    if a.json {
        let tables: Vec<_> = m
            .tables
            .iter()
            .map(|(k, e)| {
                serde_json::json!({
                    "table_key": k, "table_path": e.path, "table_version": e.version, "row_count": e.row_count
                })
            })
            .collect();
        return print_json(&serde_json::json!({
            "branch": a.branch, "commit_id": snap.commit_id(), "manifest_version": m.version, "created_at": m.created_at,
            "actor": m.actor, "tables": tables
        }));
    }
    println!(
        "graph {}  version {}  ({} by {})",
        graph.uri(),
        m.version,
        m.created_at,
        m.actor
    );
    println!("  {:<32} {:>12}  {:>20}", "table", "rows", "table version");
    for (k, e) in &m.tables {
        println!("  {:<32} {:>12}  {:>20}", k, e.row_count, e.version);
    }
    Ok(())
}
