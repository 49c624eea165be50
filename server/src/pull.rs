//! The last stage of a sync (DESIGN §5): everything in the device's scope it has not seen.
//! Cases newly in scope arrive whole (numbered, so a lost answer is sent again); then the
//! changes after the cursor of the cases the device holds, minus its own; `revoked` lists
//! cases that left its scope (repeated for a while). Every delivery is audited.

use gridsync_core::case::CaseId;
use gridsync_core::protocol::{DocChanges, SyncRequest, SyncResponse};
use sqlx::Row;

use crate::db::cases;
use crate::error::Result;
use crate::scope::{Caller, NOT_EXPIRED, PHONE_RETENTION_MS, REVOKED_REPEAT_MS, Scope};
use crate::state::AppState;
use crate::sync::DeviceRow;

/// Upper bound on what one response carries, whatever the phone asks for.
const MAX_PULL_BYTES: u64 = 8 << 20;

/// Every delivery of cases (and so of their parties' personal data) to a device is in the
/// audit chain before the answer leaves: one entry per sync, naming the cases.
async fn audit_delivery(state: &AppState, caller: &Caller, response: &SyncResponse) -> Result<()> {
    if response.pull.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<String> = response.pull.iter().map(|d| d.doc_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let changes: usize = response.pull.iter().map(|d| d.changes.len()).sum();
    crate::audit::append(
        state,
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
    state: &AppState,
    caller: &Caller,
    device_row: &DeviceRow,
    request: &SyncRequest,
    response: &mut SyncResponse,
    now: i64,
) -> Result<()> {
    let budget = request.max_bytes.clamp(1, MAX_PULL_BYTES);
    let mut bytes = 0u64;
    // A device that holds no cases has an empty scope: nothing arrives, what it held leaves.
    let (area_from, area_to, org) = caller.device_scope().params();
    let cutoff = now - PHONE_RETENTION_MS;
    let in_scope = format!("{} AND {NOT_EXPIRED}", Scope::sql(state.db.dialect, "k", 1));
    let mut conn = state.db.pool.acquire().await?;
    let device = caller.device_id.as_str();

    // 1. Cases newly in scope (drafts stay with their author), whole. Only cases changed
    // since the cursor can have entered the scope, unless the scope itself changed (the
    // user moved) or the store is fresh.
    let (scope_org, issued) = (&device_row.scope_org, device_row.whole_no);
    // Cases sent whole in a response the device never applied (the answer was lost on the
    // way) are not held after all: they go out whole again, from a full scan because their
    // last change may lie before the cursor.
    let applied = i64::try_from(request.applied_whole).unwrap_or(i64::MAX);
    let mut lost = false;
    if issued > applied {
        let mut tx = state.db.writer.begin().await?;
        lost = sqlx::query(
            "DELETE FROM device_cases
             WHERE device_id = $1 AND whole_no > $2 AND revoked_at IS NULL",
        )
        .bind(device)
        .bind(applied)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        tx.commit().await?;
    }
    let rescan =
        lost || request.cursor == 0 || scope_org.as_deref() != Some(caller.org.id.as_str());
    let since: i64 = if rescan {
        -1
    } else {
        i64::try_from(request.cursor).unwrap_or(i64::MAX)
    };
    // Since the cursor, the `updated_pos` index finds the few candidates. A rescan looks at
    // the whole scope instead, as the union of its two index lookups: written as an `OR`
    // with the `updated_pos` bound left at -1, PostgreSQL walked that index over every case
    // in the county (20 ms a fresh phone at 30,000 cases, 0.6 ms this way).
    let candidates = if rescan {
        // `$6 = $6`: the cursor is bound either way, and every bound parameter must appear.
        format!(
            "$6 = $6 AND k.id IN ({}) AND {NOT_EXPIRED}",
            Scope::ids_sql(state.db.dialect, 1)
        )
    } else {
        format!("k.updated_pos > $6 AND {in_scope}")
    };
    // Audited: built from constants only; values are bound.
    let newly: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT k.id FROM cases k WHERE {candidates} AND k.status <> 'DRAFT'
           AND NOT EXISTS (SELECT 1 FROM device_cases d
                           WHERE d.device_id = $5 AND d.case_id = k.id AND d.revoked_at IS NULL)
         ORDER BY k.updated_pos LIMIT 1000"
    )))
    .bind(&area_from)
    .bind(&area_to)
    .bind(&org)
    .bind(cutoff)
    .bind(device)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut sent_whole = Vec::new();
    if newly.len() == 1000 {
        response.more = true;
    }
    for case_id in newly {
        let rows = sqlx::query("SELECT pos, bytes FROM changes WHERE case_id = $1 ORDER BY pos")
            .bind(&case_id)
            .fetch_all(&mut *conn)
            .await?;
        let size: u64 = rows
            .iter()
            .map(|r| {
                r.try_get::<Vec<u8>, _>("bytes")
                    .map(|b| b.len() as u64)
                    .unwrap_or(0)
            })
            .sum();
        if bytes > 0 && bytes + size > budget {
            response.more = true;
            break;
        }
        let Ok(doc_id) = case_id.parse::<CaseId>() else {
            continue;
        };
        let mut changes = Vec::with_capacity(rows.len());
        let mut max_pos = 0i64;
        for r in &rows {
            changes.push(r.try_get::<Vec<u8>, _>("bytes")?);
            max_pos = max_pos.max(r.try_get("pos")?);
        }
        bytes += size;
        response.pull.push(DocChanges { doc_id, changes });
        sent_whole.push((case_id, max_pos));
    }
    drop(conn);
    if !sent_whole.is_empty() {
        let mut tx = state.db.writer.begin().await?;
        let no: i64 = sqlx::query_scalar(
            "UPDATE devices SET whole_no = whole_no + 1 WHERE id = $1 RETURNING whole_no",
        )
        .bind(device)
        .fetch_one(&mut *tx)
        .await?;
        for (case_id, max_pos) in &sent_whole {
            cases::hold(&mut tx, device, case_id, *max_pos, no).await?;
        }
        tx.commit().await?;
        response.whole_no = u64::try_from(no).unwrap_or(0);
    }

    // 2. New changes of held cases after the cursor, in feed order, minus the device's own.
    let mut conn = state.db.pool.acquire().await?;
    let feed_end = cases::current_pos(&mut conn).await?;
    let mut cursor = request.cursor;
    if !response.more {
        let rows = sqlx::query(
            "SELECT c.pos, c.case_id, c.bytes FROM changes c
             JOIN device_cases d ON d.case_id = c.case_id AND d.device_id = $1 AND d.revoked_at IS NULL
             WHERE c.pos > $2 AND c.pos > d.since_pos AND c.pos <= $3
               AND (c.device_id IS NULL OR c.device_id <> $1)
             ORDER BY c.pos LIMIT 5000",
        )
        .bind(device)
        .bind(i64::try_from(request.cursor).unwrap_or(i64::MAX))
        .bind(feed_end)
        .fetch_all(&mut *conn)
        .await?;
        let full_page = rows.len() == 5000;
        let mut stopped = false;
        for r in rows {
            let pos: i64 = r.try_get("pos")?;
            let case_id: String = r.try_get("case_id")?;
            let change: Vec<u8> = r.try_get("bytes")?;
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
    // COALESCE: should any term be NULL, NOT NULL would keep the case on the phone (a NULL
    // handling_org once did exactly that).
    let leaving: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT d.case_id FROM device_cases d JOIN cases k ON k.id = d.case_id
         WHERE d.device_id = $5 AND d.revoked_at IS NULL AND NOT COALESCE(({in_scope}), FALSE)"
    )))
    .bind(&area_from)
    .bind(&area_to)
    .bind(&org)
    .bind(cutoff)
    .bind(device)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    if !leaving.is_empty() {
        let mut tx = state.db.writer.begin().await?;
        for case_id in &leaving {
            sqlx::query(
                "UPDATE device_cases SET revoked_at = $3 WHERE device_id = $1 AND case_id = $2",
            )
            .bind(device)
            .bind(case_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    let revoked: Vec<String> = sqlx::query_scalar(
        "SELECT case_id FROM device_cases WHERE device_id = $1 AND revoked_at IS NOT NULL AND revoked_at > $2
         ORDER BY case_id",
    )
    .bind(device)
    .bind(now - REVOKED_REPEAT_MS)
    .fetch_all(&state.db.pool)
    .await?;
    response.revoked = revoked.iter().filter_map(|id| id.parse().ok()).collect();
    audit_delivery(state, caller, response).await?;
    if rescan && !response.more {
        sqlx::query("UPDATE devices SET scope_org = $2 WHERE id = $1")
            .bind(device)
            .bind(&caller.org.id)
            .execute(&state.db.writer)
            .await?;
    }
    Ok(())
}
