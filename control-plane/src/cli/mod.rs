//! Command line (section 8): `serve`, the admin client `graphs list|create|get|delete|update`,
//! `policy test` and `purge`.

pub mod client;
pub mod policy_cmd;
pub mod purge_cmd;

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
    /// Delete the storage of a deleted (tombstoned) graph, on this host's credentials.
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The deleted graph's storage uri (as `DELETE /graphs/{id}` answered it).
    #[arg(long, value_name = "URI")]
    pub uri: String,
    /// Refuse graphs deleted less than this many hours ago (in-flight readers of a
    /// deleted graph keep their files until then).
    #[arg(long, value_name = "HOURS", default_value_t = 24.0)]
    pub grace_hours: f64,
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
    /// The token a scrape of GET /metrics must bear (at least 16 bytes). Without one, a
    /// control plane with bearer tokens refuses every scrape and an open-mode one answers
    /// anyone.
    #[arg(long, env = omnigraph_http::metrics::METRICS_TOKEN_ENV, hide_env_values = true)]
    pub metrics_token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum GraphsCommand {
    /// List the registered graphs.
    List(ListArgs),
    /// Create a graph: storage, omnigraph.yaml entry, registry, push to workers.
    Create(CreateArgs),
    /// Describe one graph: uri, schema hash, policy, version, row counts, workers.
    Get(GraphArgs),
    /// Delete a graph (tombstone, omnigraph.yaml, registry, workers; `--purge` also
    /// deletes its storage).
    Delete(DeleteArgs),
    /// Replace a graph's policy.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[arg(long, value_name = "ID")]
    pub graph_id: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Delete the graph's storage too, now.
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Where a graph's policy comes from: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct PolicyArgs {
    /// A policy file on the control plane's host (relative to its omnigraph.yaml).
    #[arg(long, value_name = "PATH")]
    pub policy_file: Option<String>,
    /// A local policy file whose content is sent; the control plane stores it.
    #[arg(long, value_name = "FILE")]
    pub policy_upload: Option<PathBuf>,
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
    #[command(flatten)]
    pub policy: PolicyArgs,
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
