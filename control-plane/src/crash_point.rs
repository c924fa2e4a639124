//! Named points where a test can make the control plane crash, to prove that every
//! state a crash can leave converges after a restart. Only in builds with the
//! `failpoints` feature (`cargo build --features omnigraph-control-plane/failpoints`, what
//! `./dev.sh test` builds): there `FAILPOINTS=<name>=abort` aborts the process at that
//! point (no destructors, no flushing: like `kill -9` there). In every other build a crash
//! point compiles to nothing and the variable is never read.

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
