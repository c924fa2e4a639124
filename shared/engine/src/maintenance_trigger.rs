//! When a graph's writes ask for maintenance before the next timed round: the thresholds
//! and the process-wide signal. Kept apart from the compaction itself
//! (shared/engine/src/maintenance.rs) so that the graph handle, which counts its
//! publishes, does not depend on the code that maintains it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// When writes ask for maintenance before the next timed round of a worker
/// (data-plane/src/server/maintenance.rs): a publish that leaves one of the tables it wrote
/// with at least `fragments` fragments, or the `versions`-th version this process
/// published on a graph since its last round. 0 turns a trigger off; both are off until
/// [`set_triggers`] (a command-line run never asks).
static TRIGGER_FRAGMENTS: AtomicUsize = AtomicUsize::new(0);
static TRIGGER_VERSIONS: AtomicU64 = AtomicU64::new(0);

/// Sets the thresholds at which writes ask for maintenance (see [`wanted`]).
pub fn set_triggers(fragments: usize, versions: u64) {
    TRIGGER_FRAGMENTS.store(fragments, Ordering::Relaxed);
    TRIGGER_VERSIONS.store(versions, Ordering::Relaxed);
}

/// Notified when a graph of this process crossed a trigger; the graph itself says so
/// through `Graph::take_maintenance_request`.
pub fn wanted() -> &'static tokio::sync::Notify {
    static WANTED: OnceLock<tokio::sync::Notify> = OnceLock::new();
    WANTED.get_or_init(tokio::sync::Notify::new)
}

/// Called after each publish of a user's change: `versions` published by this process
/// since the graph's last maintenance, `most_fragments` the most fragments of a table the
/// change wrote. True when a trigger is crossed.
pub(crate) fn crosses_trigger(versions: u64, most_fragments: usize) -> bool {
    let fragments = TRIGGER_FRAGMENTS.load(Ordering::Relaxed);
    let every = TRIGGER_VERSIONS.load(Ordering::Relaxed);
    (fragments > 0 && most_fragments >= fragments) || (every > 0 && versions >= every)
}
