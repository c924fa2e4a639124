//! Command line (section 8): `serve`, the admin client `graphs list|create`, and
//! `policy test`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "omnigraph-control-plane",
    version,
    about = "Omnigraph control plane: owns omnigraph.yaml, the /graphs API and the registry"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the management API and the registry.
    Serve(ServeArgs),
    /// Manage the graphs of a running control plane (token from
    /// OMNIGRAPH_SERVER_BEARER_TOKEN).
    #[command(subcommand)]
    Graphs(GraphsCommand),
    /// Policy file tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The deployment's omnigraph.yaml; this process becomes its only writer.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Listen address; defaults to `server.bind` of the config, else 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Open mode without bearer tokens (local development only); also
    /// OMNIGRAPH_UNAUTHENTICATED=1.
    #[arg(long)]
    pub unauthenticated: bool,
}

#[derive(Debug, Subcommand)]
pub enum GraphsCommand {
    /// List the registered graphs.
    List(ListArgs),
    /// Create a graph: storage, omnigraph.yaml entry, registry, push to workers.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the control plane, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The new graph's id (`^[a-zA-Z0-9-]{1,64}$`).
    #[arg(long, value_name = "ID")]
    pub graph_id: String,
    /// Storage location: an absolute path or s3://bucket/prefix.
    #[arg(long, value_name = "URI")]
    pub uri: String,
    /// Schema file (.pg) to send.
    #[arg(long, value_name = "FILE")]
    pub schema: PathBuf,
    /// A policy file on the control plane's host (relative to its omnigraph.yaml).
    #[arg(long, value_name = "PATH", conflicts_with = "policy_upload")]
    pub policy_file: Option<String>,
    /// A local policy file whose content is sent; the control plane stores it.
    #[arg(long, value_name = "FILE")]
    pub policy_upload: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run a policy's test cases (`<policy>.tests.yaml` beside it unless --tests).
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// The policy file.
    #[arg(value_name = "FILE")]
    pub policy: PathBuf,
    /// The test cases; defaults to the sibling `<name>.tests.yaml`.
    #[arg(long, value_name = "FILE")]
    pub tests: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
