//! `tag create|list|show|delete`: names for commits that version cleanup keeps until the
//! tag is deleted (shared/engine/src/tag.rs). `query --tag NAME` reads one.

use clap::{Args, Subcommand};
use omnigraph_engine::tag::{Tag, TagTarget};
use omnigraph_engine::Graph;

use super::branch::StoreArgs;
use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Tag a commit (--commit ID) or a branch's head (--branch NAME).
    Create {
        name: String,
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the tags with the commits they name.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show tag NAME.
    Show {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete tag NAME (cleanup may reclaim its commit from then on).
    Delete {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// The commit to tag, `<chain>.<version>` (e.g. main.7).
    #[arg(long)]
    commit: Option<String>,
    /// Tag this branch's head.
    #[arg(long)]
    branch: Option<String>,
}

fn tag_json(t: &Tag) -> serde_json::Value {
    serde_json::json!({
        "name": t.name, "commit_id": t.commit, "manifest_version": t.manifest_version(),
        "created_at": t.created_at, "created_by": t.actor
    })
}

fn print_tag(t: &Tag) {
    println!(
        "{:<32} {:<24} version {:<8} {} {}",
        t.name,
        t.commit,
        t.manifest_version(),
        t.created_at,
        t.actor
    );
}

pub async fn run(c: TagCommand) -> Result<(), CliError> {
    match c {
        TagCommand::Create {
            name,
            target,
            store,
        } => {
            let graph = Graph::open(&store.store).await?;
            let target = match (&target.commit, &target.branch) {
                (Some(commit), _) => TagTarget::Commit(commit),
                (None, Some(branch)) => TagTarget::Branch(branch),
                (None, None) => {
                    return Err(CliError::Usage("give --commit or --branch".into()));
                }
            };
            let t = graph.create_tag(&name, target, CLI_ACTOR).await?;
            if store.json {
                return print_json(&tag_json(&t));
            }
            println!("created tag {name} at {}", t.commit);
        }
        TagCommand::List { store } => {
            let graph = Graph::open(&store.store).await?;
            let tags = graph.tags().await?;
            if store.json {
                let tags: Vec<_> = tags.iter().map(tag_json).collect();
                return print_json(&serde_json::json!({ "tags": tags }));
            }
            for t in &tags {
                print_tag(t);
            }
        }
        TagCommand::Show { name, store } => {
            let graph = Graph::open(&store.store).await?;
            let t = graph
                .tag(&name)
                .await?
                .ok_or_else(|| omnigraph_engine::EngineError::NotFound(format!("no tag {name}")))?;
            if store.json {
                return print_json(&tag_json(&t));
            }
            print_tag(&t);
        }
        TagCommand::Delete { name, store } => {
            let graph = Graph::open(&store.store).await?;
            let t = graph.delete_tag(&name).await?;
            if store.json {
                return print_json(&tag_json(&t));
            }
            println!("deleted tag {name} (it named {})", t.commit);
        }
    }
    Ok(())
}
