//! Named points where a test can make the control plane crash, to prove that every
//! state a crash can leave converges after a restart. Only in builds with the
//! `failpoints` feature (`cargo build --features omnigraph-control-plane/failpoints`, what
//! `./dev.sh test` builds): there `FAILPOINTS=<name>=return` aborts the process at that
//! point (no destructors, no flushing: like `kill -9` there). In every other build a crash
//! point compiles to nothing.

/// Aborts the process when this is a `failpoints` build and `FAILPOINTS` sets this point
/// to `return`.
#[cfg(feature = "failpoints")]
pub fn crash_point(name: &str) {
    fail::fail_point!(name, |_| {
        eprintln!("FAILPOINTS: {name}: aborting here");
        std::process::abort()
    });
}

/// Nothing: this build has no failure injection.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn crash_point(_name: &str) {}

/// Reads `FAILPOINTS` (a `failpoints` build only); kept for the life of the process.
#[cfg(feature = "failpoints")]
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}
