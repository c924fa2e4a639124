//! `commits`: a branch's history, or one commit.

use clap::Args;
use omnigraph_engine::{Graph, MAIN};

use super::{print_json, CliError};

#[derive(Debug, Args)]
pub struct CommitsArgs {
    #[arg(long)]
    pub store: String,
    #[arg(long, default_value = MAIN)]
    pub branch: String,
    /// At most this many commits.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Show this one commit instead (e.g. main.7).
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: CommitsArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let commits = match &a.id {
        Some(id) => vec![graph.commit(id).await?.0],
        None => graph.commits(&a.branch, a.limit).await?,
    };
    if a.json {
        return print_json(&serde_json::json!({ "branch": a.branch, "commits": commits }));
    }
    for c in commits {
        println!(
            "{:<24} version {:<6} {} by {}  parents: {}",
            c.id,
            c.manifest_version,
            c.created_at,
            c.actor,
            c.parents.join(", ")
        );
    }
    Ok(())
}
