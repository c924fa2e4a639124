//! Command-line contract (README.md, "A short tour of the embedded CLI"). One module per subcommand.

mod branch;
mod cleanup;
mod commits;
mod compact;
mod export;
mod init;
mod load;
mod mutate;
mod query;
mod query_source;
mod schema;
mod serve;
mod snapshot;
mod tag;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Engine(#[from] omnigraph_engine::EngineError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Debug, Parser)]
#[command(
    name = "omnigraph-data-plane",
    version,
    about = "Omnigraph data plane: serve graphs over HTTP, or work on a local graph directly"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a graph at STORE from a schema file.
    Init(init::InitArgs),
    /// Bulk-load a JSONL file as one atomic change.
    Load(load::LoadArgs),
    /// Run a read query and print its rows.
    Query(query::QueryArgs),
    /// Run a mutation (insert/update/delete statements) as one atomic change.
    Mutate(mutate::MutateArgs),
    /// Show the graph's schema.
    Schema {
        #[command(subcommand)]
        command: schema::SchemaCommand,
    },
    /// Show the graph version and every table's version and row count.
    Snapshot(snapshot::SnapshotArgs),
    /// Write the graph as JSONL (the load format) to stdout.
    Export(export::ExportArgs),
    /// Create, list, delete and merge branches.
    Branch {
        #[command(subcommand)]
        command: branch::BranchCommand,
    },
    /// Create, list, show and delete tags (commits that cleanup keeps).
    Tag {
        #[command(subcommand)]
        command: tag::TagCommand,
    },
    /// Show a branch's commits, newest first (or one commit with --id).
    Commits(commits::CommitsArgs),
    /// Compact the tables of a branch that have many small files (workers do it by themselves).
    Compact(compact::CompactArgs),
    /// Delete old graph versions and the files only they use (workers do it by themselves).
    Cleanup(cleanup::CleanupArgs),
    /// Serve graphs over HTTP (a data-plane worker).
    Serve(serve::ServeArgs),
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Init(a) => init::run(a).await,
        Command::Load(a) => load::run(a).await,
        Command::Query(a) => query::run(a).await,
        Command::Mutate(a) => mutate::run(a).await,
        Command::Schema { command } => schema::run(command).await,
        Command::Snapshot(a) => snapshot::run(a).await,
        Command::Export(a) => export::run(a).await,
        Command::Branch { command } => branch::run(command).await,
        Command::Tag { command } => tag::run(command).await,
        Command::Commits(a) => commits::run(a).await,
        Command::Compact(a) => compact::run(a).await,
        Command::Cleanup(a) => cleanup::run(a).await,
        Command::Serve(a) => serve::run(a).await,
    }
}

/// The actor recorded in versions published from the command line.
pub const CLI_ACTOR: &str = "cli";

pub fn read_file(path: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })
}

pub fn print_json(v: &impl serde::Serialize) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{s}");
    Ok(())
}
