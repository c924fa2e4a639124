use clap::Subcommand;
use omnigraph_engine::Graph;

use super::{print_json, CliError};

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the accepted schema source.
    Get {
        #[arg(long)]
        store: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(c: SchemaCommand) -> Result<(), CliError> {
    match c {
        SchemaCommand::Get { store, json } => {
            let graph = Graph::open(&store).await?;
            let snap = graph.snapshot(None).await?;
            if json {
                print_json(&serde_json::json!({ "schema_source": snap.manifest.schema_source }))
            } else {
                print!("{}", snap.manifest.schema_source);
                if !snap.manifest.schema_source.ends_with('\n') {
                    println!();
                }
                Ok(())
            }
        }
    }
}
