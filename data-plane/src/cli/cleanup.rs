//! `cleanup`: delete a local graph's old versions and the files only they use, now (what a
//! worker does by itself each maintenance round; shared/engine/src/cleanup.rs).

use std::time::Duration;

use clap::Args;
use omnigraph_engine::cleanup::{cleanup, RetentionPolicy};
use omnigraph_engine::Graph;

use super::{print_json, CliError};

#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[arg(long)]
    pub store: String,
    /// Keep versions younger than this many days.
    #[arg(long, default_value_t = 7.0)]
    pub retention_days: f64,
    /// Versions of each branch always kept.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_versions: u64,
    /// Never delete files younger than this (writes in flight).
    #[arg(long, default_value_t = 3600)]
    pub grace_secs: u64,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: CleanupArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let policy = RetentionPolicy {
        keep_last: a.keep_versions,
        keep_for: Duration::from_secs_f64(a.retention_days.max(0.0) * 86_400.0),
        grace: Duration::from_secs(a.grace_secs),
    };
    let report = cleanup(&graph, &policy).await?;
    if a.json {
        return print_json(&report);
    }
    println!(
        "deleted {} graph version(s), {} file(s) ({} bytes); oldest kept version of main: {}",
        report.graph_versions_deleted,
        report.files_deleted,
        report.bytes_deleted,
        report.oldest_kept_version
    );
    Ok(())
}
