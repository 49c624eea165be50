//! The last stage of a sync (DESIGN §5): everything in the device's scope it has not seen.
//! Cases newly in scope arrive whole (numbered, so a lost answer is sent again); then the
//! changes after the cursor of the cases the device holds, minus its own; `revoked` lists
//! cases that left its scope (repeated for a while). Every delivery is audited.

use gridsync_core::case::CaseId;
use gridsync_core::protocol::{DocChanges, SyncRequest, SyncResponse};

use crate::caller::{Caller, PHONE_RETENTION_MS, REVOKED_REPEAT_MS};
use crate::db::cases;
use crate::db::feed::{self, DeviceRow, DeviceScope};
use crate::error::Result;
use crate::state::Center;

/// Upper bound on what one response carries, whatever the phone asks for.
const MAX_PULL_BYTES: u64 = 8 << 20;
/// Cases sent whole in one response, at most (then `more`).
const NEWLY_PAGE: i64 = 1000;
/// Changes considered in one response, at most (then `more`).
const CHANGES_PAGE: i64 = 5000;

/// Every delivery of cases (and so of their parties' personal data) to a device is in the
/// audit chain before the answer leaves: one entry per sync, naming the cases.
async fn audit_delivery(center: &Center, caller: &Caller, response: &SyncResponse) -> Result<()> {
    if response.pull.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<String> = response.pull.iter().map(|d| d.doc_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let changes: usize = response.pull.iter().map(|d| d.changes.len()).sum();
    crate::audit::append(
        center,
        crate::audit::Entry::by(
            caller,
            crate::audit::CASES_SYNCED,
            None,
            serde_json::json!({ "device": caller.device_id, "cases": ids, "changes": changes }),
        ),
    )
    .await
}

pub(crate) async fn pull(
    center: &Center,
    caller: &Caller,
    device_row: &DeviceRow,
    request: &SyncRequest,
    response: &mut SyncResponse,
    now: i64,
) -> Result<()> {
    let budget = request.max_bytes.clamp(1, MAX_PULL_BYTES);
    let mut bytes = 0u64;
    let device = caller.device_id.as_str();
    // A device that holds no cases has an empty scope: nothing arrives, what it held leaves.
    let at = DeviceScope {
        scope: caller.device_scope(),
        cutoff: now - PHONE_RETENTION_MS,
        device,
    };
    let dialect = center.db.dialect;

    // 1. Cases newly in scope (drafts stay with their author), whole. Only cases changed
    // since the cursor can have entered the scope, unless the scope itself changed (the
    // user moved) or the store is fresh.
    // Cases sent whole in a response the device never applied (the answer was lost on the
    // way) are not held after all: they go out whole again, from a full scan because their
    // last change may lie before the cursor.
    let applied = i64::try_from(request.applied_whole).unwrap_or(i64::MAX);
    let lost = device_row.whole_no > applied
        && feed::forget_lost_whole_sends(&center.db.writer, device, applied).await?;
    let rescan = lost
        || request.cursor == 0
        || device_row.scope_org.as_deref() != Some(caller.org.id.as_str());
    let since = (!rescan).then(|| i64::try_from(request.cursor).unwrap_or(i64::MAX));
    let mut conn = center.db.pool.acquire().await?;
    let newly = feed::newly_in_scope(&mut conn, dialect, &at, since, NEWLY_PAGE).await?;
    if newly.len() as i64 == NEWLY_PAGE {
        response.more = true;
    }
    let mut sent_whole = Vec::new();
    for case_id in newly {
        let rows = feed::case_changes(&mut conn, &case_id).await?;
        let size: u64 = rows.iter().map(|(_, b)| b.len() as u64).sum();
        if bytes > 0 && bytes + size > budget {
            response.more = true;
            break;
        }
        let Ok(doc_id) = case_id.parse::<CaseId>() else {
            continue;
        };
        let max_pos = rows.iter().map(|(p, _)| *p).max().unwrap_or(0);
        bytes += size;
        response.pull.push(DocChanges {
            signatures: Vec::new(),
            doc_id,
            changes: rows.into_iter().map(|(_, b)| b).collect(),
        });
        sent_whole.push((case_id, max_pos));
    }
    drop(conn);
    if !sent_whole.is_empty() {
        let no = feed::record_whole_send(&center.db.writer, device, &sent_whole).await?;
        response.whole_no = u64::try_from(no).unwrap_or(0);
    }

    // 2. New changes of held cases after the cursor, in feed order, minus the device's own.
    let mut conn = center.db.pool.acquire().await?;
    let feed_end = cases::current_pos(&mut conn).await?;
    let mut cursor = request.cursor;
    if !response.more {
        let from = i64::try_from(request.cursor).unwrap_or(i64::MAX);
        let rows = feed::changes_after(&mut conn, device, from, feed_end, CHANGES_PAGE).await?;
        let full_page = rows.len() as i64 == CHANGES_PAGE;
        let mut stopped = false;
        for (pos, case_id, change) in rows {
            if bytes > 0 && bytes + change.len() as u64 > budget {
                stopped = true;
                break;
            }
            bytes += change.len() as u64;
            let Ok(doc_id) = case_id.parse::<CaseId>() else {
                continue;
            };
            match response.pull.iter_mut().rev().find(|d| d.doc_id == doc_id) {
                Some(d) => d.changes.push(change),
                None => response.pull.push(DocChanges {
                    signatures: Vec::new(),
                    doc_id,
                    changes: vec![change],
                }),
            }
            cursor = u64::try_from(pos).unwrap_or(cursor);
        }
        if stopped || full_page {
            response.more = true;
        } else {
            // Everything up to the feed's end has been considered.
            cursor = cursor.max(u64::try_from(feed_end).unwrap_or(0));
        }
    }
    response.cursor = cursor;

    // 3. Cases that left the scope (repeated for a while, in case a response was lost).
    let leaving = feed::leaving(&mut conn, dialect, &at).await?;
    drop(conn);
    if !leaving.is_empty() {
        feed::revoke(&center.db.writer, device, &leaving, now).await?;
    }
    let revoked = feed::revoked_since(&center.db.pool, device, now - REVOKED_REPEAT_MS).await?;
    response.revoked = revoked.iter().filter_map(|id| id.parse().ok()).collect();
    audit_delivery(center, caller, response).await?;
    if rescan && !response.more {
        feed::set_scope_org(&center.db.writer, device, &caller.org.id).await?;
    }
    Ok(())
}
