//! `schema get|apply`.

use std::path::PathBuf;

use clap::Subcommand;
use omnigraph_engine::{ApplyOptions, Graph, MAIN};

use super::{print_json, CliError, CLI_ACTOR};

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the accepted schema source.
    Get {
        #[arg(long)]
        store: String,
        #[arg(long, default_value = MAIN)]
        branch: String,
        #[arg(long)]
        json: bool,
    },
    /// Migrate a branch to the schema in FILE.pg, as one new version. Renames are declared
    /// with @rename_from("old"); types and properties missing from FILE are dropped.
    Apply {
        #[arg(long)]
        schema: PathBuf,
        #[arg(long)]
        store: String,
        #[arg(long, default_value = MAIN)]
        branch: String,
        /// Delete the data of dropped types and properties from storage (by default
        /// earlier versions keep it).
        #[arg(long)]
        allow_data_loss: bool,
        /// Print the steps and check them against the stored rows; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(c: SchemaCommand) -> Result<(), CliError> {
    match c {
        SchemaCommand::Get {
            store,
            branch,
            json,
        } => {
            let graph = Graph::open(&store).await?;
            let snap = graph.snapshot_on(&branch, None).await?;
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
        SchemaCommand::Apply {
            schema,
            store,
            branch,
            allow_data_loss,
            dry_run,
            json,
        } => {
            let source = std::fs::read_to_string(&schema).map_err(|source| CliError::Read {
                path: schema.clone(),
                source,
            })?;
            let graph = Graph::open(&store).await?;
            let opts = ApplyOptions {
                allow_data_loss,
                dry_run,
            };
            let report = graph
                .apply_schema(&branch, &source, opts, CLI_ACTOR)
                .await?;
            if json {
                return print_json(&report);
            }
            for step in &report.steps {
                println!("{step}");
            }
            let outcome = if report.applied {
                "applied"
            } else if dry_run {
                "dry run, nothing changed"
            } else {
                "nothing to change"
            };
            println!(
                "{} step(s), {outcome}; {branch} is at version {}",
                report.steps.len(),
                report.manifest_version
            );
            for path in &report.deleted_paths {
                println!("deleted {path}");
            }
            for path in &report.kept_paths {
                println!("kept {path} (another branch uses it)");
            }
            Ok(())
        }
    }
}
