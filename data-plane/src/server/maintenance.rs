//! The worker's own storage upkeep: every `interval`, each graph this worker has opened is
//! compacted on main and on every branch where a table needs it
//! (shared/engine/src/maintenance.rs), then old versions and the files only they use are
//! deleted (shared/engine/src/cleanup.rs). Nobody runs a job beside the server.
//!
//! Writes do not wait for the timer when they cross a threshold: a publish that leaves a
//! table it wrote with `--compact-at-fragments` fragments, or this worker's
//! `--maintain-every-versions`-th version of a graph since its last round, starts a round
//! for that graph at once (half a second later, so a burst is maintained once). Each
//! Lance version lists every fragment of its table, so keeping fragments few keeps every
//! version the retention holds small.
//!
//! Several workers may serve one graph: each runs this loop, but only the holder of the
//! graph's maintenance lease (kept in the graph's storage, renewed each round, running out
//! when its holder stops) maintains it. Should two compact at once all the same (a lease
//! that ran out mid-round), one publishes and the other gives way. A user's write is never
//! refused because of a compaction (see the engine module).

use std::sync::Arc;
use std::time::Duration;

use omnigraph_api::{CleanupResult, CompactedTable, CompactionResult, MaintenanceRun};
use omnigraph_engine::cleanup::{cleanup, CleanupReport, RetentionPolicy};
use omnigraph_engine::lease;
use omnigraph_engine::maintenance::{compact, CompactionPolicy, CompactionReport};
use omnigraph_engine::storage_metrics::with_request_kind;

use super::metrics::maintenance_run;
use omnigraph_engine::EngineError;

use super::state::ServerState;

/// How often maintenance runs, and what it compacts.
#[derive(Debug, Clone, Copy)]
pub struct MaintenanceOptions {
    /// `None`: maintenance is off.
    pub interval: Option<Duration>,
    pub compaction: CompactionPolicy,
    /// What version cleanup keeps; `None`: no cleanup.
    pub retention: Option<RetentionPolicy>,
    /// How long a worker's maintenance lease on a graph lasts without renewal.
    pub lease: Duration,
    /// The time limit of one `POST /maintenance` (handlers/maintenance.rs).
    pub request_timeout: Duration,
}

/// Runs forever (until the task is aborted at shutdown).
pub async fn run(state: Arc<ServerState>, options: MaintenanceOptions) {
    let Some(interval) = options.interval else {
        return;
    };
    // A random first delay within one interval spreads the workers of a deployment.
    let offset = interval.mul_f64(rand_fraction());
    let mut timed = wait_for_round(offset).await;
    loop {
        for (graph_id, graph) in state.registry.opened_graphs() {
            // A round that writes asked for maintains only the graphs that asked.
            if !graph.take_maintenance_request() && !timed {
                continue;
            }
            // One maintainer per graph across all workers (shared/storage/src/lease.rs).
            match lease::acquire(graph.location(), &state.worker_id, options.lease).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(graph_id, error = %e, "maintenance: lease check failed");
                    continue;
                }
            }
            let mut branches = vec![omnigraph_engine::MAIN.to_string()];
            match graph.branches().await {
                Ok(refs) => branches.extend(refs.into_iter().map(|b| b.name)),
                Err(e) => {
                    tracing::warn!(graph_id, error = %e, "maintenance: listing branches failed")
                }
            }
            let mut compactions = Vec::new();
            let mut cleaned_up = None;
            for branch in branches {
                let started = std::time::Instant::now();
                // Its object-store requests are counted as kind `maintenance`.
                let compacted =
                    with_request_kind("maintenance", compact(&graph, &branch, &options.compaction))
                        .await;
                let outcome = match &compacted {
                    Ok(report) if report.gave_way => "gave_way",
                    Ok(report) if report.tables.is_empty() => "nothing_to_do",
                    Ok(_) => "done",
                    Err(EngineError::Conflict { .. } | EngineError::VersionTaken(_)) => "gave_way",
                    Err(_) => "failed",
                };
                maintenance_run(&graph_id, "compact", outcome, started.elapsed());
                if let Ok(report) = &compacted {
                    compactions.push(compaction_result(report.clone()));
                }
                match compacted {
                    Ok(report) if report.gave_way => {
                        tracing::debug!(graph_id, branch, "maintenance: gave way to writers")
                    }
                    Ok(report) if report.tables.is_empty() => {}
                    Ok(report) => tracing::info!(
                        graph_id,
                        branch,
                        version = report.version,
                        tables = report.tables.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "maintenance: compacted"
                    ),
                    // Another writer published first: give way, plan again next round.
                    Err(e @ (EngineError::Conflict { .. } | EngineError::VersionTaken(_))) => {
                        tracing::debug!(graph_id, branch, error = %e, "maintenance: gave way")
                    }
                    Err(e) => {
                        tracing::warn!(graph_id, branch, error = %e, "maintenance: compaction failed")
                    }
                }
            }
            // A long compaction must not outlive the lease unnoticed: renew it before the
            // cleanup, and leave the cleanup to the new holder if it was lost.
            let still_held = lease::acquire(graph.location(), &state.worker_id, options.lease)
                .await
                .unwrap_or(false);
            if let (Some(retention), true) = (&options.retention, still_held) {
                let started = std::time::Instant::now();
                let cleaned = with_request_kind("maintenance", cleanup(&graph, retention)).await;
                let outcome = match &cleaned {
                    Ok(report) if report.files_deleted + report.graph_versions_deleted > 0 => {
                        "done"
                    }
                    Ok(_) => "nothing_to_do",
                    Err(_) => "failed",
                };
                maintenance_run(&graph_id, "cleanup", outcome, started.elapsed());
                if let Ok(report) = &cleaned {
                    cleaned_up = Some(cleanup_result(report.clone()));
                }
                match cleaned {
                    Ok(report) if report.files_deleted + report.graph_versions_deleted > 0 => {
                        tracing::info!(
                            graph_id,
                            graph_versions = report.graph_versions_deleted,
                            files = report.files_deleted,
                            bytes = report.bytes_deleted,
                            oldest_kept_version = report.oldest_kept_version,
                            "maintenance: cleaned up"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(graph_id, error = %e, "maintenance: cleanup failed"),
                }
            }
            record_run(&graph, &state.worker_id, compactions, cleaned_up).await;
        }
        timed = wait_for_round(interval).await;
    }
}

/// Waits until the next round: `timeout` passed (true), or a write crossed a trigger
/// (shared/engine/src/maintenance.rs; false), then [`TRIGGER_GAP`] more so that a burst of
/// writes is maintained once.
async fn wait_for_round(timeout: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(timeout) => true,
        _ = omnigraph_engine::maintenance::wanted().notified() => {
            tokio::time::sleep(TRIGGER_GAP).await;
            false
        }
    }
}

/// The least time between the start of a triggered round and the previous round's end.
const TRIGGER_GAP: Duration = Duration::from_millis(500);

/// The wire form of a compaction report.
pub fn compaction_result(report: CompactionReport) -> CompactionResult {
    CompactionResult {
        branch: report.branch,
        manifest_version: report.version,
        tables: report
            .tables
            .into_iter()
            .map(|t| CompactedTable {
                table_key: t.table_key,
                fragments_before: t.fragments_before as u64,
                fragments_after: t.fragments_after as u64,
                rows: t.rows,
                rows_rewritten: t.rows_rewritten,
            })
            .collect(),
        gave_way: report.gave_way,
        deadline_reached: report.deadline_reached,
    }
}

/// The wire form of a cleanup report.
pub fn cleanup_result(report: CleanupReport) -> CleanupResult {
    CleanupResult {
        graph_versions_deleted: report.graph_versions_deleted,
        files_deleted: report.files_deleted,
        bytes_deleted: report.bytes_deleted,
        oldest_kept_version: report.oldest_kept_version,
        deadline_reached: report.deadline_reached,
    }
}

/// Records a finished round in the graph's storage for the control plane to show
/// (`GET /graphs/{graph_id}`); a failure to record costs nothing but the record.
pub async fn record_run(
    graph: &omnigraph_engine::Graph,
    worker_id: &str,
    compactions: Vec<CompactionResult>,
    cleanup: Option<CleanupResult>,
) {
    let run = MaintenanceRun {
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        worker_id: worker_id.to_string(),
        compactions,
        cleanup,
    };
    let value = serde_json::to_value(&run).unwrap_or_default();
    if let Err(e) = lease::write_last_run(graph.location(), &value).await {
        tracing::warn!(error = %e, "maintenance: could not record the round");
    }
}

/// A random fraction in [0, 1).
fn rand_fraction() -> f64 {
    uuid::Uuid::new_v4().as_u128() as f64 / u128::MAX as f64
}
