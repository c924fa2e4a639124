//! Watching omnigraph.yaml so a hand edit is noticed at once: logged, reported on
//! `/healthz` as drift, and refused by the next `POST /graphs` (503).
//!
//! The directory is watched, not the file: the atomic rewrite replaces the file's
//! inode, which would end a watch on the file itself. Events only trigger a re-hash
//! (see `ConfigFile::check_drift`), and a periodic re-hash covers file systems where
//! notifications do not arrive (network mounts).

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::file::ConfigFile;

/// Re-hash period when no event arrives.
const FALLBACK_PERIOD: Duration = Duration::from_secs(5);

/// Starts the watch; it runs until the process ends.
pub fn spawn(config: Arc<ConfigFile>) -> Result<(), notify::Error> {
    let path = config.path().to_path_buf();
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = path.file_name().map(OsString::from).unwrap_or_default();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watcher =
        notify::recommended_watcher(move |result: notify::Result<Event>| match result {
            Ok(event) if concerns(&event, &name) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("config watch error: {e}"),
        })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tracing::info!(config = %path.display(), "watching the config file for hand edits");
    tokio::spawn(run(watcher, rx, config));
    Ok(())
}

/// Reads (our own hashing) show up as access events: ignoring them avoids a loop.
fn concerns(event: &Event, name: &OsString) -> bool {
    !matches!(event.kind, EventKind::Access(_))
        && event
            .paths
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == name.as_os_str()))
}

async fn run(
    _watcher: RecommendedWatcher,
    mut events: mpsc::UnboundedReceiver<()>,
    config: Arc<ConfigFile>,
) {
    let mut fallback = tokio::time::interval(FALLBACK_PERIOD);
    loop {
        tokio::select! {
            event = events.recv() => {
                if event.is_none() {
                    return;
                }
                // One re-hash for a burst of events (a rewrite emits several).
                while events.try_recv().is_ok() {}
            }
            _ = fallback.tick() => {}
        }
        let config = config.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || config.check_drift()).await {
            tracing::error!("config drift check failed: {e}");
        }
    }
}
