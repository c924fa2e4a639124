//! Named points where a test can make a process crash, to prove that every state a crash
//! can leave converges afterwards (tests/tests/control_plane_lifecycle.rs,
//! tests/tests/maintenance_crash.rs). Only in builds with the `failpoints` feature of this
//! crate (turned on by `--features omnigraph-control-plane/failpoints` and
//! `omnigraph-data-plane/failpoints`, what `./dev.sh test` builds): there
//! `FAILPOINTS=<name>=abort` aborts the process at that point (no destructors, no
//! flushing: like `kill -9` there). In every other build a crash point compiles to nothing
//! and the variable is never read.
//!
//! The points:
//! - `delete:tombstoned`, `delete:rewritten`, `delete:published`: the steps of a graph
//!   delete in the control plane (control-plane/src/graphs/delete.rs);
//! - `compact:table-written`: a compaction has written a table's new data files and has
//!   not published the graph version naming them (shared/engine/src/maintenance.rs);
//! - `cleanup:versions-deleted`: a cleanup has deleted the graph versions it reclaims and
//!   none of their files yet (shared/engine/src/cleanup.rs);
//! - `cleanup:files-deleted`: a cleanup has deleted some of the files only those versions
//!   read, not all.

/// Environment variable naming the points to abort at: `name=abort[;name=abort...]`.
#[cfg(feature = "failpoints")]
pub const FAILPOINTS_ENV: &str = "FAILPOINTS";

/// Aborts the process when this is a `failpoints` build and `FAILPOINTS` sets this point
/// to `abort`.
#[cfg(feature = "failpoints")]
pub fn crash_point(name: &str) {
    let Ok(spec) = std::env::var(FAILPOINTS_ENV) else {
        return;
    };
    let armed = spec
        .split(';')
        .filter_map(|entry| entry.split_once('='))
        .any(|(point, action)| point.trim() == name && action.trim() == "abort");
    if armed {
        eprintln!("{FAILPOINTS_ENV}: {name}: aborting here");
        std::process::abort();
    }
}

/// Nothing: this build has no failure injection.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn crash_point(_name: &str) {}
