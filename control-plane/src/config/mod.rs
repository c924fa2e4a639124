//! `omnigraph.yaml` as the control plane owns it: the file with its drift detection and
//! atomic rewrites, and the watcher that notices outside edits.

pub mod file;
pub mod watch;
