//! The maintenance lease of a graph, kept in the graph's own storage, so that one worker
//! across all hosts maintains a graph at a time and a dead worker's lease runs out.
//!
//! A lease is a file `_maintenance/lease-<seq>.json` (`holder`, `expires_at`), written with
//! create-if-absent (no-clobber locally, `If-None-Match` on S3): taking or renewing the
//! lease writes the next sequence number, so of two workers that both find the newest
//! lease expired only one can write the next one. The holder renews it each round; when
//! it stops (crash, kill -9, partition), the lease runs out after its time to live and
//! another worker takes it.
//!
//! The lease saves duplicate work; it is not what keeps maintenance safe. A worker whose
//! lease ran out mid-compaction still publishes through the manifest compare-and-swap
//! (shared/engine/src/maintenance.rs), so two maintainers at once cost work, never data.
//! Expiry compares wall clocks of different hosts: a skew shortens or lengthens a lease by
//! the skew.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::location::GraphLocation;

/// The folder of the lease files and of the last round's record.
pub const LEASE_DIR: &str = "_maintenance";

/// One lease file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub seq: u64,
    /// The worker id of the holder.
    pub holder: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

impl Lease {
    /// Expired, or unreadable (a lease nobody can read holds nothing).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        DateTime::parse_from_rfc3339(&self.expires_at).map_or(true, |t| t <= now)
    }
}

fn lease_path(seq: u64) -> String {
    format!("{LEASE_DIR}/lease-{seq:020}.json")
}

/// The newest lease of the graph, if any was ever taken.
pub async fn current(loc: &GraphLocation) -> Result<Option<Lease>> {
    let prefix = loc.path(LEASE_DIR);
    let listed: Vec<object_store::ObjectMeta> = loc.store.list(Some(&prefix)).try_collect().await?;
    let newest = listed
        .iter()
        .filter_map(|m| {
            m.location
                .filename()?
                .strip_prefix("lease-")?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max();
    let Some(seq) = newest else {
        return Ok(None);
    };
    let bytes = match loc.store.get(&loc.path(&lease_path(seq))).await {
        Ok(found) => found.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Takes or renews the lease for `holder` for `ttl`; false when another worker holds an
/// unexpired one, or took it first.
pub async fn acquire(loc: &GraphLocation, holder: &str, ttl: Duration) -> Result<bool> {
    let now = Utc::now();
    let current = current(loc).await?;
    if let Some(lease) = &current {
        if lease.holder != holder && !lease.expired(now) {
            return Ok(false);
        }
    }
    let seq = current.as_ref().map_or(1, |l| l.seq + 1);
    let lease = Lease {
        seq,
        holder: holder.to_string(),
        expires_at: (now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    if !loc.create_json(&lease_path(seq), &lease).await? {
        return Ok(false);
    }
    // Older lease files are history; keep the previous one, delete the rest (best effort).
    if seq > 2 {
        let _ = loc.store.delete(&loc.path(&lease_path(seq - 2))).await;
    }
    Ok(true)
}

/// Whether `file` (in [`LEASE_DIR`]) is a lease file or the record of the last round: what
/// a purge deletes there (shared/storage/src/tombstone.rs).
pub fn is_lease_file(file: &str) -> bool {
    file == "last-run.json"
        || file
            .strip_prefix("lease-")
            .and_then(|f| f.strip_suffix(".json"))
            .is_some_and(|seq| seq.len() == 20 && seq.bytes().all(|b| b.is_ascii_digit()))
}

fn last_run_path() -> String {
    format!("{LEASE_DIR}/last-run.json")
}

/// Records what the latest maintenance round of the graph did (any JSON the maintainer
/// chooses; the data plane writes its `MaintenanceRun`), for the control plane to show.
pub async fn write_last_run(loc: &GraphLocation, run: &serde_json::Value) -> Result<()> {
    let body = serde_json::to_vec(run).unwrap_or_default();
    loc.store
        .put(
            &loc.path(&last_run_path()),
            PutPayload::from(Bytes::from(body)),
        )
        .await?;
    Ok(())
}

/// What [`write_last_run`] recorded last, if anything.
pub async fn read_last_run(loc: &GraphLocation) -> Result<Option<serde_json::Value>> {
    match loc.store.get(&loc.path(&last_run_path())).await {
        Ok(found) => Ok(serde_json::from_slice(&found.bytes().await?).ok()),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
