//! `branch create|list|delete|merge`.

use clap::{Args, Subcommand};
use omnigraph_engine::{Graph, MAIN};

use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[arg(long)]
    pub store: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BranchCommand {
    /// Create branch NAME at the head of --from (default main); no data is copied.
    Create {
        name: String,
        #[arg(long, default_value = MAIN)]
        from: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the branches with their head commits.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete branch NAME (its commits stay readable by id).
    Delete {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Merge branch SOURCE into --into (default main).
    Merge {
        source: String,
        #[arg(long, default_value = MAIN)]
        into: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(c: BranchCommand) -> Result<(), CliError> {
    match c {
        BranchCommand::Create { name, from, store } => {
            let graph = Graph::open(&store.store).await?;
            let r = graph.create_branch(&name, &from, CLI_ACTOR).await?;
            if store.json {
                return print_json(&r);
            }
            println!("created branch {name} at {} (from {from})", r.forked_from);
        }
        BranchCommand::List { store } => {
            let graph = Graph::open(&store.store).await?;
            let mut rows = vec![];
            let main = graph.snapshot_on(MAIN, None).await?;
            rows.push(serde_json::json!({
                "name": MAIN, "head_commit": main.commit_id(), "manifest_version": main.version()
            }));
            for r in graph.branches().await? {
                let head = graph.snapshot_on(&r.name, None).await?;
                rows.push(serde_json::json!({
                    "name": r.name, "head_commit": head.commit_id(),
                    "manifest_version": head.version(), "forked_from": r.forked_from,
                    "created_at": r.created_at, "created_by": r.actor
                }));
            }
            if store.json {
                return print_json(&serde_json::json!({ "branches": rows }));
            }
            for r in rows {
                println!(
                    "{:<32} {:<24} version {}",
                    r["name"].as_str().unwrap_or_default(),
                    r["head_commit"].as_str().unwrap_or_default(),
                    r["manifest_version"]
                );
            }
        }
        BranchCommand::Delete { name, store } => {
            let graph = Graph::open(&store.store).await?;
            graph.delete_branch(&name).await?;
            if store.json {
                return print_json(&serde_json::json!({ "name": name }));
            }
            println!("deleted branch {name}");
        }
        BranchCommand::Merge {
            source,
            into,
            store,
        } => {
            let graph = Graph::open(&store.store).await?;
            let r = graph.merge(&source, &into, CLI_ACTOR).await?;
            if store.json {
                return print_json(&serde_json::json!({
                    "source": source, "target": into, "outcome": r.outcome,
                    "commit_id": r.commit_id, "manifest_version": r.manifest_version,
                    "base_commit": r.base_commit, "tables_changed": r.tables_changed,
                    "rows_merged": r.rows_merged
                }));
            }
            println!(
                "merged {source} into {into}: {} -> {} (base {}; tables changed: {})",
                r.outcome.as_str(),
                r.commit_id,
                r.base_commit,
                if r.tables_changed.is_empty() {
                    "none".to_string()
                } else {
                    r.tables_changed.join(", ")
                }
            );
        }
    }
    Ok(())
}
