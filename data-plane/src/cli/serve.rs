//! `serve`: run the data-plane worker.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{FalseyValueParser, TypedValueParser};
use clap::Args;

use super::CliError;
use crate::server::admission::{DEFAULT_MAX_WRITES_PER_ACTOR, MAX_WRITES_PER_ACTOR_ENV};
use crate::server::maintenance::MaintenanceOptions;
use crate::server::query_limits::{
    QueryLimits, DEFAULT_MAX_CONCURRENT_READS, DEFAULT_MAX_QUERY_ROWS,
    DEFAULT_MAX_QUERY_TIMEOUT_MS, DEFAULT_MAX_RESULT_ROWS_WITHOUT_LIMIT, DEFAULT_QUERY_TIMEOUT_MS,
    MAX_CONCURRENT_READS_ENV, MAX_QUERY_ROWS_ENV, MAX_QUERY_TIMEOUT_MS_ENV,
    MAX_RESULT_ROWS_WITHOUT_LIMIT_ENV, QUERY_TIMEOUT_MS_ENV,
};
use crate::server::{serve, ServeError, ServeOptions, ServeSource};
use omnigraph_engine::cleanup::RetentionPolicy;
use omnigraph_engine::maintenance::CompactionPolicy;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Serve the graphs of this omnigraph.yaml (no control plane).
    #[arg(long, conflicts_with = "control_plane")]
    pub config: Option<PathBuf>,
    /// Register with this control plane and serve its registry.
    #[arg(long)]
    pub control_plane: Option<String>,
    /// URL the control plane reaches this worker at; `http://<bound address>` by default.
    #[arg(long, requires = "control_plane")]
    pub advertise_url: Option<String>,
    /// This worker's id; a random one by default.
    #[arg(long)]
    pub worker_id: Option<String>,
    /// Open mode (local development only): no bearer tokens, every request allowed.
    #[arg(long, env = "OMNIGRAPH_UNAUTHENTICATED", value_parser = FalseyValueParser::new())]
    pub unauthenticated: bool,
    /// Writes (changes, loads, schema applies, branch operations) one actor may have in
    /// flight on this worker; more answer 429 with Retry-After.
    #[arg(
        long,
        env = MAX_WRITES_PER_ACTOR_ENV,
        default_value_t = DEFAULT_MAX_WRITES_PER_ACTOR,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize)
    )]
    pub max_writes_per_actor: usize,
    /// Time limit of a read that asks for none (`timeout_ms`), in milliseconds; past it
    /// the read is stopped and answers 408 `query_timeout`.
    #[arg(long, env = QUERY_TIMEOUT_MS_ENV, default_value_t = DEFAULT_QUERY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub query_timeout_ms: u64,
    /// The longest `timeout_ms` a read may ask for, in milliseconds (more is a 400).
    #[arg(long, env = MAX_QUERY_TIMEOUT_MS_ENV, default_value_t = DEFAULT_MAX_QUERY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_query_timeout_ms: u64,
    /// Rows a read may hold in memory while it runs (result rows, groups, rows to sort);
    /// over it: 422 `row_budget_exceeded`.
    #[arg(long, env = MAX_QUERY_ROWS_ENV, default_value_t = DEFAULT_MAX_QUERY_ROWS,
          value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize))]
    pub max_query_rows: usize,
    /// Rows a read without `limit` may return; over it: 422 `result_too_large`.
    #[arg(long, env = MAX_RESULT_ROWS_WITHOUT_LIMIT_ENV,
          default_value_t = DEFAULT_MAX_RESULT_ROWS_WITHOUT_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize))]
    pub max_result_rows_without_limit: usize,
    /// Reads this worker runs at once; more answer 429 `too_many_reads` with Retry-After.
    #[arg(long, env = MAX_CONCURRENT_READS_ENV, default_value_t = DEFAULT_MAX_CONCURRENT_READS,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_concurrent_reads: usize,
    /// The token a scrape of GET /metrics must bear (at least 16 bytes). Without one, a
    /// worker with bearer tokens refuses every scrape and an open-mode worker answers anyone.
    #[arg(long, env = omnigraph_http::metrics::METRICS_TOKEN_ENV, hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Seconds between the worker's maintenance rounds (compaction of the graphs it has
    /// opened); 0 turns maintenance off.
    #[arg(
        long,
        env = "OMNIGRAPH_MAINTENANCE_INTERVAL_SECS",
        default_value_t = 300
    )]
    pub maintenance_interval_secs: u64,
    /// A table's small fragments (under 4,096 rows) are merged once it has at least this
    /// many fragments; bigger ones by size tier, and fragments with deleted rows, regardless.
    #[arg(long, env = "OMNIGRAPH_COMPACT_MIN_FRAGMENTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..).map(|n| n as usize))]
    pub compact_min_fragments: usize,
    /// A write that leaves a table with at least this many fragments starts a maintenance
    /// round of its graph at once instead of at the next interval; 0: only timed rounds.
    #[arg(long, env = "OMNIGRAPH_COMPACT_AT_FRAGMENTS", default_value_t = 64)]
    pub compact_at_fragments: usize,
    /// After this many versions published through this worker on a graph since its last
    /// round, a maintenance round of the graph starts at once; 0: only timed rounds.
    #[arg(
        long,
        env = "OMNIGRAPH_MAINTAIN_EVERY_VERSIONS",
        default_value_t = 1000
    )]
    pub maintain_every_versions: u64,
    /// Days of graph history each maintenance round keeps (older versions, and the files
    /// only they use, are deleted); with --keep-versions. Reads of a deleted version: 410.
    #[arg(long, env = "OMNIGRAPH_RETENTION_DAYS", default_value_t = 7.0)]
    pub retention_days: f64,
    /// Versions of each branch always kept, however old.
    #[arg(long, env = "OMNIGRAPH_KEEP_VERSIONS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_versions: u64,
    /// Files younger than this are never deleted (writes in flight); 0 turns cleanup off.
    #[arg(long, env = "OMNIGRAPH_CLEANUP_GRACE_SECS", default_value_t = 3600)]
    pub cleanup_grace_secs: u64,
    /// Seconds a worker's maintenance lease on a graph lasts without renewal (another worker
    /// takes over after it runs out); default three maintenance intervals.
    #[arg(long, env = "OMNIGRAPH_MAINTENANCE_LEASE_SECS")]
    pub maintenance_lease_secs: Option<u64>,
    /// Time limit of one POST /maintenance, in milliseconds: past it the request stops
    /// between tables, batches and deletions, publishes nothing unfinished, and answers
    /// what it did with `deadline_reached`.
    #[arg(long, env = "OMNIGRAPH_MAINTENANCE_TIMEOUT_MS", default_value_t = 600_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub maintenance_timeout_ms: u64,
    /// Most bytes (after decompression) one streamed load (POST /load/ndjson) may send;
    /// past it the load fails with 413 and nothing is loaded.
    #[arg(long, env = "OMNIGRAPH_MAX_LOAD_BYTES", default_value_t = 64 << 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_load_bytes: u64,
    /// Seconds a streamed load waits for the next part of its body before it fails.
    #[arg(long, env = "OMNIGRAPH_LOAD_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub load_idle_timeout_secs: u64,
    /// Seconds a streamed load's whole body may take to arrive before the load fails.
    #[arg(long, env = "OMNIGRAPH_LOAD_TIMEOUT_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub load_timeout_secs: u64,
}

pub async fn run(a: ServeArgs) -> Result<(), CliError> {
    omnigraph_http::init_logging("omnigraph-data-plane");
    let source = match (a.config, a.control_plane) {
        (Some(path), None) => ServeSource::Config(path),
        (None, Some(url)) => ServeSource::ControlPlane {
            url,
            advertise_url: a.advertise_url,
        },
        _ => return Err(ServeError::Source.into()),
    };
    if a.maintenance_interval_secs > 0 {
        omnigraph_engine::maintenance::set_triggers(
            a.compact_at_fragments,
            a.maintain_every_versions,
        );
    }
    serve(ServeOptions {
        bind: a.bind,
        source,
        worker_id: a.worker_id,
        unauthenticated: a.unauthenticated,
        max_writes_per_actor: a.max_writes_per_actor,
        query_limits: QueryLimits {
            default_timeout: Duration::from_millis(a.query_timeout_ms),
            max_timeout: Duration::from_millis(a.max_query_timeout_ms.max(a.query_timeout_ms)),
            max_rows: a.max_query_rows,
            max_result_rows_without_limit: a.max_result_rows_without_limit,
            max_concurrent_reads: a.max_concurrent_reads,
        },
        metrics_token: a.metrics_token,
        maintenance: MaintenanceOptions {
            interval: (a.maintenance_interval_secs > 0)
                .then(|| Duration::from_secs(a.maintenance_interval_secs)),
            compaction: CompactionPolicy {
                min_fragments: a.compact_min_fragments,
            },
            retention: (a.cleanup_grace_secs > 0).then(|| RetentionPolicy {
                keep_last: a.keep_versions,
                keep_for: Duration::from_secs_f64(a.retention_days.max(0.0) * 86_400.0),
                grace: Duration::from_secs(a.cleanup_grace_secs),
            }),
            lease: Duration::from_secs(
                a.maintenance_lease_secs
                    .unwrap_or(3 * a.maintenance_interval_secs)
                    .max(1),
            ),
            request_timeout: Duration::from_millis(a.maintenance_timeout_ms),
        },
        load: crate::server::state::LoadSettings {
            max_bytes: a.max_load_bytes,
            idle: Duration::from_secs(a.load_idle_timeout_secs),
            total: Duration::from_secs(a.load_timeout_secs),
        },
    })
    .await?;
    Ok(())
}
