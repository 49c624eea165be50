//! The evidence collector: one per deployment (a PostgreSQL advisory lock elects it, like
//! the warning scanner). It discards unfinished uploads idle longer than the grace period
//! or begun by a device since revoked (revocation itself drops their rows), chunk objects
//! no upload records (a process killed mid-write, a revoked device's upload), and blobs no
//! existing case holds.

use std::time::Duration;

use futures_util::StreamExt;
use object_store::ObjectStoreExt;

use super::{Evidence, Refused, store};
use crate::db::evidence::lead_collector;
use crate::state::Center;

/// A chunk object no upload records is removed once it is this old.
const STRAY_AFTER_MS: i64 = 3_600_000;

/// What one pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Unfinished uploads discarded (idle, or of a revoked device).
    pub uploads: usize,
    /// Chunk objects no upload records.
    pub stray_chunks: usize,
    /// Blobs no case holds.
    pub blobs: usize,
}

/// One pass.
pub async fn collect_once(center: &Center, evidence: &Evidence) -> Result<Collected, Refused> {
    let now = center.clock.now().0;
    let grace = i64::try_from(evidence.limits.grace.as_millis()).unwrap_or(i64::MAX);
    let before = now.saturating_sub(grace);
    let mut out = Collected::default();
    for (case_id, sha256) in center.db.stale_evidence_uploads(before).await? {
        evidence.discard(center, &case_id, &sha256).await?;
        out.uploads += 1;
    }
    // Objects under uploads/ that no upload records: a chunk is recorded milliseconds
    // after its object appears, so an hour-old one is a leftover (a request cut off
    // mid-commit, a process killed, a revoked device's upload). Store times are
    // wall-clock, like the center's clock outside tests.
    let cutoff = now.saturating_sub(STRAY_AFTER_MS);
    let mut listing = evidence.store.list(Some(&store::uploads()));
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        if meta.last_modified.timestamp_millis() >= cutoff {
            continue;
        }
        if !center
            .db
            .evidence_chunk_known(meta.location.as_ref())
            .await?
        {
            let _ = evidence.store.delete(&meta.location).await;
            out.stray_chunks += 1;
        }
    }
    for sha256 in center.db.unreferenced_evidence(before).await? {
        if center.db.forget_evidence_blob(&sha256).await? {
            let _ = evidence.store.delete(&store::blob(&sha256)).await;
            let _ = evidence.store.delete(&store::thumb(&sha256)).await;
            out.blobs += 1;
        }
    }
    Ok(out)
}

/// The collector loop: one leader per deployment.
pub async fn run(center: Center, evidence: Evidence, every: Duration) {
    loop {
        let lease = match lead_collector(&center.db).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tokio::time::sleep(every).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "evidence collector: cannot reach the database");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        loop {
            match collect_once(&center, &evidence).await {
                Ok(c) if c != Collected::default() => tracing::info!(
                    uploads = c.uploads,
                    stray_chunks = c.stray_chunks,
                    blobs = c.blobs,
                    "evidence collected"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "evidence collection failed");
                    break;
                }
            }
            tokio::time::sleep(every).await;
        }
        drop(lease);
    }
}
