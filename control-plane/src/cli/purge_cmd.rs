//! `purge --uri URI [--grace-hours H]`: delete the storage of a deleted graph once its
//! grace period is over. Runs against storage directly (no control plane needed), with
//! this host's credentials; refuses a graph that is not tombstoned.

use omnigraph_storage::{purge, StorageError};

use crate::cli::PurgeArgs;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("--grace-hours must be a non-negative number of hours, not {0}")]
    Grace(f64),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub async fn run(args: PurgeArgs) -> Result<(), PurgeError> {
    if !(args.grace_hours.is_finite() && args.grace_hours >= 0.0) {
        return Err(PurgeError::Grace(args.grace_hours));
    }
    let grace = chrono::Duration::milliseconds((args.grace_hours * 3_600_000.0) as i64);
    let report = purge(&args.uri, Some(grace)).await?;
    println!(
        "purged {}: {} objects deleted",
        args.uri, report.objects_deleted
    );
    Ok(())
}
