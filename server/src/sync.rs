//! `POST /v1/sync`, the center's side (DESIGN §5): one exchange carries the phone's outbox up
//! and the center's news down. The push runs through [`crate::ingest`] (judged, merged,
//! committed; a refused case does not fail the others), then the hooks that ride on it
//! (high-risk alerts, auto-dispatch, so this very answer carries the accept and the
//! dispatch), then [`crate::pull`]. Merges of one case are serialised (the writer on SQLite,
//! a row lock on PostgreSQL) and feed positions are handed out in commit order, so a phone
//! that saw position `n` has seen everything before it.

use gridsync_core::protocol::{SyncRequest, SyncResponse};

use crate::caller::Caller;
use crate::db::accounts::Org;
use crate::error::Result;
use crate::state::Center;

/// What one sync did, for logs and metrics (no personal data).
#[derive(Clone, Debug, Default)]
pub struct SyncStats {
    pub pushed_cases: usize,
    pub new_changes: usize,
    pub rejected: usize,
    pub pulled_changes: usize,
}

/// Runs one sync exchange.
pub async fn sync(
    center: &Center,
    ingest: &crate::ingest::Ingest,
    caller: &Caller,
    request: &SyncRequest,
) -> Result<(SyncResponse, SyncStats)> {
    let now = center.clock.now().0;
    let mut response = SyncResponse::new(request.cursor);
    let mut stats = SyncStats::default();
    let device = crate::db::feed::device_row(&center.db.pool, &caller.device_id).await?;
    let moved;
    let caller = match former_org(center, caller, request, &device).await? {
        Some(org) => {
            moved = Caller {
                former_org: Some(org),
                ..caller.clone()
            };
            &moved
        }
        None => caller,
    };
    if request.cursor == 0 || !request.push.is_empty() {
        let pushed = ingest
            .push(caller, &request.push, request.cursor == 0)
            .await?;
        // The compact acknowledgement (DESIGN §5, keys 6 and 8) when the phone speaks it and
        // the push names each case once (a repeated case's later changes are not merged).
        if request.pushed_through > 0 && crate::ingest::names_each_case_once(&request.push) {
            response.acked_through = request.pushed_through;
            response.acks = pushed
                .acks
                .into_iter()
                .filter(|a| pushed.partial.contains(&a.doc_id))
                .collect();
        } else {
            response.acks = pushed.acks;
        }
        response.rejected = pushed.rejected;
        stats = SyncStats {
            pushed_cases: pushed.counts.pushed_cases,
            new_changes: pushed.counts.new_changes,
            rejected: pushed.counts.rejected,
            pulled_changes: 0,
        };
        crate::center::warnings::alert_high_risk(center, &pushed.submitted).await?;
        // Before the pull, so this very answer carries the accept and the dispatch.
        crate::center::rules::auto_dispatch(center, &pushed.submitted).await?;
        // Committed: cases the center lists from now on appear on open consoles.
        for e in pushed.new_cases {
            let _ = center.live.send(e);
        }
    }

    crate::pull::pull(center, caller, &device, request, &mut response, now).await?;
    stats.pulled_changes = response.pull.iter().map(|d| d.changes.len()).sum();
    center.db.touch_device(&caller.device_id, now).await?;
    Ok((response, stats))
}

/// The organisation the device last synced under, if the user has moved since and the
/// request pushes work (see [`Caller::former_org`]).
async fn former_org(
    center: &Center,
    caller: &Caller,
    request: &SyncRequest,
    device: &crate::db::feed::DeviceRow,
) -> Result<Option<Org>> {
    if request.push.is_empty() || request.cursor == 0 {
        return Ok(None);
    }
    match &device.scope_org {
        Some(id) if *id != caller.org.id => center.db.org(id).await,
        _ => Ok(None),
    }
}
