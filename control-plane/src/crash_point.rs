//! Named points where a test can make the control plane crash, to prove that every
//! state a crash can leave converges after a restart. `OMNIGRAPH_CRASH_AT=<name>` aborts
//! the process at that point (no destructors, no flushing: like `kill -9` there). Unset,
//! a crash point is one environment lookup on a rare management path.

/// Environment variable naming the crash point to abort at.
pub const CRASH_AT_ENV: &str = "OMNIGRAPH_CRASH_AT";

/// Aborts the process when `OMNIGRAPH_CRASH_AT` names this point.
pub fn crash_point(name: &str) {
    if std::env::var(CRASH_AT_ENV).is_ok_and(|v| v == name) {
        eprintln!("{CRASH_AT_ENV}={name}: aborting here");
        std::process::abort();
    }
}
