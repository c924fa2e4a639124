//! Group commit: the mutations that reach one branch of a graph while a publish is in flight
//! are applied one after another to one overlay and published together as ONE graph version
//! (docs/architecture.md, "Writes").
//!
//! Each branch that takes mutations in this process has one committer task fed by a bounded
//! queue. The committer takes every mutation waiting (at most [`MAX_GROUP`]), applies them in
//! arrival order to one [`Mutator`] (so each sees the ones before it, exactly as if they had
//! been published one by one), and publishes the result:
//!
//! - a mutation that fails its checks is rolled back to the savepoint taken before it and
//!   refused alone; the others go on;
//! - the published version holds all the accepted mutations or none of them (one manifest
//!   compare-and-swap), and each caller hears only after that publish;
//! - when another process published a change to a table the group wrote or read
//!   (`EngineError::Conflict`), the group is planned again on the new head, for up to
//!   [`REPLAN_BUDGET`]: a mutation is refused only for its own rows (a duplicate key on
//!   the new head, say), not because another writer was faster. Between attempts it waits
//!   a random few milliseconds, growing with the attempts: when another process publishes
//!   without pause, it starts its next plan before this one learns it lost, and only a
//!   shifted start lets this group land between two of its publishes;
//! - a mutation compiled against another schema than the head's (a schema apply published
//!   between its compilation and its plan) is refused with a schema conflict (409
//!   `manifest_conflict`), never applied under a schema it was not checked against.
//!
//! The costs of a publish (one Lance commit per table, the manifest, the freshness checks)
//! are paid once per group instead of once per mutation, and the rows a group inserts into
//! one table land in one data file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use omnigraph_lang::query::typed::MutationStmt;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::{MutationReport, Mutator};
use crate::error::{EngineError, Result};
use crate::graph::{Graph, Snapshot};
use crate::manifest::GraphManifest;
use crate::query::params::BoundParams;

/// The most mutations published as one graph version.
pub const MAX_GROUP: usize = 64;
/// How long a group goes on planning again after other processes moved tables it used
/// (then its callers get the conflict, 409).
pub const REPLAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);
/// Mutations waiting for one branch's committer; a caller beyond it waits to enqueue.
const QUEUE_DEPTH: usize = 4096;

/// One mutation waiting for its group.
struct Submission {
    stmts: Vec<MutationStmt>,
    /// The manifest whose schema the statements were compiled against.
    compiled_on: Arc<GraphManifest>,
    params: BoundParams,
    actor: String,
    /// The request kind its object-store requests are counted under (storage_metrics.rs):
    /// a group's are counted under its first mutation's.
    kind: &'static str,
    span: tracing::Span,
    reply: oneshot::Sender<Result<MutationReport>>,
}

/// The committers of one graph handle, by branch.
#[derive(Default)]
pub(crate) struct Committers {
    queues: Mutex<HashMap<String, mpsc::Sender<Submission>>>,
}

impl Committers {
    fn queue(&self, graph: &Arc<Graph>, branch: &str) -> mpsc::Sender<Submission> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queues.get(branch).filter(|q| !q.is_closed()) {
            return q.clone();
        }
        // The task holds the graph weakly: dropping the last handle closes the queue and
        // ends the task.
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_committer(Arc::downgrade(graph), branch.to_string(), rx));
        queues.insert(branch.to_string(), tx.clone());
        tx
    }
}

/// Queue `stmts` (compiled against `compiled_on`'s schema) for the next group of
/// `compiled_on`'s branch and wait until that group is published (or this mutation is
/// refused).
pub(crate) async fn submit(
    compiled_on: &Snapshot,
    stmts: &[MutationStmt],
    params: BoundParams,
    actor: &str,
) -> Result<MutationReport> {
    let (graph, branch) = (compiled_on.graph(), compiled_on.branch.as_str());
    let (reply, answer) = oneshot::channel();
    let mut submission = Submission {
        stmts: stmts.to_vec(),
        compiled_on: compiled_on.manifest.clone(),
        params,
        actor: actor.to_string(),
        kind: crate::storage_metrics::current_kind(),
        span: tracing::Span::current(),
        reply,
    };
    // A committer whose runtime ended (a test's, say) has closed its queue: start another.
    for _ in 0..2 {
        let queue = graph.write_queues::<Committers>().queue(graph, branch);
        match queue.send(submission).await {
            Ok(()) => {
                return answer.await.unwrap_or_else(|_| {
                    Err(EngineError::Corrupt(
                        "the group commit stopped before answering (the server is shutting down?); the change may or may not have been published".into(),
                    ))
                })
            }
            Err(mpsc::error::SendError(back)) => submission = back,
        }
    }
    Err(EngineError::Corrupt(
        "no group committer could be started for this branch".into(),
    ))
}

async fn run_committer(graph: Weak<Graph>, branch: String, mut queue: mpsc::Receiver<Submission>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let batch = std::mem::take(&mut group);
        let Some(graph) = graph.upgrade() else {
            for s in batch {
                let _ = s.reply.send(Err(EngineError::Deleted(
                    "the graph handle was closed before this change was published".into(),
                )));
            }
            return;
        };
        // The group runs in its first mutation's request kind and tracing span.
        let (kind, span) = batch
            .first()
            .map(|s| (s.kind, s.span.clone()))
            .unwrap_or((crate::storage_metrics::UNATTRIBUTED, tracing::Span::none()));
        let group = commit_group(&graph, &branch, batch).instrument(span);
        crate::storage_metrics::with_request_kind(kind, group).await;
    }
}

/// Plan, publish and answer one group.
async fn commit_group(graph: &Arc<Graph>, branch: &str, mut pending: Vec<Submission>) {
    crate::metrics::WRITES
        .group_size
        .observe(pending.len() as f64);
    let mut replans: u32 = 0;
    let started = std::time::Instant::now();
    loop {
        let planned = plan(graph, branch, pending).await;
        let (accepted, publish_result) = match planned {
            Planned::Nothing => return,
            Planned::Failed(batch, e) => return answer_all(batch, &e),
            Planned::Ready {
                base,
                change,
                accepted,
                lock,
            } => {
                let actor = actors_of(&accepted);
                let result = graph.publish(&base, change, &actor).await;
                drop(lock);
                (accepted, result)
            }
        };
        match publish_result {
            Ok(manifest) => {
                for (s, mut report) in accepted {
                    report.version = manifest.version;
                    report.affected_nodes =
                        report.nodes_inserted + report.nodes_updated + report.nodes_deleted;
                    report.affected_edges = report.edges_inserted + report.edges_deleted;
                    let _ = s.reply.send(Ok(report));
                }
                return;
            }
            // Another process moved a table the group used: plan again on its version.
            Err(EngineError::Conflict { ref table_key, .. })
                if table_key != "schema" && started.elapsed() < REPLAN_BUDGET =>
            {
                replans += 1;
                tokio::time::sleep(replan_delay(replans)).await;
                crate::metrics::WRITES.replans.inc();
                tracing::debug!(
                    branch,
                    replans,
                    "group commit planned again after a conflict"
                );
                pending = accepted.into_iter().map(|(s, _)| s).collect();
            }
            Err(e) => {
                let batch = accepted.into_iter().map(|(s, _)| s).collect();
                return answer_all(batch, &e);
            }
        }
    }
}

enum Planned {
    /// Every mutation was refused (and told so).
    Nothing,
    /// Nothing could be planned (the head could not be read, staging failed).
    Failed(Vec<Submission>, EngineError),
    Ready {
        base: crate::graph::Snapshot,
        change: crate::graph::Change,
        accepted: Vec<(Submission, MutationReport)>,
        /// The branch's write lock, held until the publish is done.
        lock: tokio::sync::OwnedMutexGuard<()>,
    },
}

/// Apply every pending mutation on the branch head, refusing (and answering) those that
/// fail, and stage the rest as one change.
async fn plan(graph: &Arc<Graph>, branch: &str, pending: Vec<Submission>) -> Planned {
    let lock = graph.branch_lock(branch).lock_owned().await;
    let base = match graph.head_for_write(branch).await {
        Ok(base) => base,
        Err(e) => return Planned::Failed(pending, e),
    };
    let mut mutator = Mutator::new(base.clone(), BoundParams::default());
    let mut accepted = Vec::with_capacity(pending.len());
    for s in pending {
        if !same_schema(&s.compiled_on, &base.manifest) {
            let _ = s.reply.send(Err(EngineError::Conflict {
                table_key: "schema".into(),
                expected: s.compiled_on.version,
                actual: base.manifest.version,
            }));
            continue;
        }
        let saved = mutator.savepoint();
        mutator.params = s.params.clone();
        let mut outcome = Ok(());
        for stmt in &s.stmts {
            outcome = mutator.apply(stmt).await;
            if outcome.is_err() {
                break;
            }
        }
        match outcome {
            Ok(()) => {
                let report = std::mem::take(&mut mutator.counts);
                accepted.push((s, report));
            }
            Err(e) => {
                mutator.restore(saved);
                let e = graph.explain_write_error(e).await;
                let _ = s.reply.send(Err(e));
            }
        }
    }
    if accepted.is_empty() {
        return Planned::Nothing;
    }
    match mutator.finish().await {
        Ok((change, _)) => Planned::Ready {
            base,
            change,
            accepted,
            lock,
        },
        Err(e) => Planned::Failed(accepted.into_iter().map(|(s, _)| s).collect(), e),
    }
}

/// A random wait before attempt `replans + 1`: up to 4 ms after the first loss, doubling
/// up to 128 ms.
fn replan_delay(replans: u32) -> std::time::Duration {
    let cap_ms = 4u64 << replans.min(5);
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    std::time::Duration::from_micros(random % (cap_ms * 1000 + 1))
}

/// Whether a mutation compiled against `compiled_on` can be applied on `head`.
fn same_schema(compiled_on: &Arc<GraphManifest>, head: &Arc<GraphManifest>) -> bool {
    Arc::ptr_eq(compiled_on, head) || compiled_on.schema_source == head.schema_source
}

fn answer_all(batch: Vec<Submission>, e: &EngineError) {
    for s in batch {
        let _ = s.reply.send(Err(e.duplicate()));
    }
}

/// Who published a group: its actors, each once, in arrival order, comma-separated.
fn actors_of(accepted: &[(Submission, MutationReport)]) -> String {
    let mut actors: Vec<&str> = vec![];
    for (s, _) in accepted {
        if !actors.contains(&s.actor.as_str()) {
            actors.push(&s.actor);
        }
    }
    actors.join(", ")
}
