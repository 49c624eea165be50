//! Center-side edits of case documents: workflow steps taken by staff (or by the server's
//! own `system` actor) through `sync-core`'s typed operations, logged exactly like pushed
//! changes so they reach the phones at their next sync.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author};

use crate::db::cases::{self, Projection};
use crate::error::{Error, Result};
use crate::state::AppState;

/// Takes a workflow step on a case as `by` (staff through the API, or the server's
/// `system` actor: auto-dispatch, automatic supervision) and records it in the audit log;
/// returns the event id.
pub async fn act(state: &AppState, id: CaseId, action: &Action, by: &Author) -> Result<String> {
    let mut events = act_all(state, id, std::slice::from_ref(action), None, by).await?;
    Ok(events.pop().unwrap_or_default())
}

/// Takes several workflow steps on a case as `by`, in order, in one transaction with their
/// audit entries: one commit for all (auto-dispatch's accept and dispatch, which ride on a
/// phone's sync). With `number_in` (a county's six digits) an `Accept` among the steps takes
/// that county's next case number inside the same transaction. Returns the event ids.
pub async fn act_all(
    state: &AppState,
    id: CaseId,
    steps: &[Action],
    number_in: Option<&str>,
    by: &Author,
) -> Result<Vec<String>> {
    use gridsync_core::workflow::EventKind;
    // A step that changes the tier brings the time limits configured for the new tier.
    let rules = if steps.iter().any(|a| {
        matches!(
            a.kind(),
            EventKind::Accept | EventKind::Dispatch | EventKind::Escalate
        )
    }) {
        Some(crate::warnings::limit_rules(&state.db).await?)
    } else {
        None
    };
    let mut tx = state.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, state.db.dialect, &[id]).await?;
    let mut steps = steps.to_vec();
    if let Some(county6) = number_in {
        let no = next_case_no_in(&mut tx, county6, state.clock.now()).await?;
        for step in &mut steps {
            if let Action::Accept { case_no, .. } = step {
                case_no.clone_from(&no);
            }
        }
    }
    let events = edit_in(&mut tx, state, id, |doc, now| {
        let mut events = Vec::with_capacity(steps.len());
        for action in &steps {
            events.push(doc.act(action, by, now)?);
            if let Some(rules) = &rules {
                let case = doc.case();
                let tier = doc.state(&state.limits, now).tier;
                let limits = crate::warnings::limits_for(rules, tier, case.category.as_code());
                if limits
                    != case
                        .time_limits
                        .clone()
                        .unwrap_or_else(|| state.limits.clone())
                {
                    doc.set_time_limits(&limits, now)?;
                }
            }
        }
        Ok(events)
    })
    .await?;
    for (action, event) in steps.iter().zip(&events) {
        let entry = crate::audit::Entry {
            user_id: by.user.clone(),
            role: by.role.as_code().to_owned(),
            org_id: by.org.clone(),
            action: crate::audit::CASE_ACTION.to_owned(),
            case_id: Some(id.to_string()),
            detail: serde_json::json!({ "kind": action.kind().as_code(), "event_id": event }),
        };
        crate::audit::append_in(&mut tx, state, entry).await?;
    }
    tx.commit().await?;
    Ok(events)
}

/// Loads a case under its lock, applies `op`, logs the new changes and refreshes the
/// projection, in one transaction.
pub async fn edit<T>(
    state: &AppState,
    id: CaseId,
    op: impl FnOnce(&mut CaseDoc, gridsync_core::case::Timestamp) -> Result<T>,
) -> Result<T> {
    let mut tx = state.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, state.db.dialect, &[id]).await?;
    let out = edit_in(&mut tx, state, id, op).await?;
    tx.commit().await?;
    Ok(out)
}

/// [`edit`] inside the caller's transaction, which holds the case's lock.
async fn edit_in<T>(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    id: CaseId,
    op: impl FnOnce(&mut CaseDoc, gridsync_core::case::Timestamp) -> Result<T>,
) -> Result<T> {
    let now = state.clock.now();
    let loaded = match cases::load(&mut *tx, id, &state.actor).await {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Err(Error::NotFound("case")),
        Err(e @ Error::Database(_)) => return Err(e),
        // Reported by the read that precedes every step ([`load`]); this transaction holds
        // the writer, so it only refuses.
        Err(_) => return Err(Error::CaseUnavailable(id)),
    };
    let mut doc = loaded.doc;
    let before = doc.heads();
    let out = op(&mut doc, now)?;
    let changes = doc.changes_since(&before);
    if !changes.is_empty() {
        let last = log_changes(&mut *tx, state, id, &changes, now.0).await?;
        let projection = Projection::of(&doc.case(), &doc.state(&state.limits, now));
        let snapshot = (loaded.replayed + changes.len() >= cases::SNAPSHOT_EVERY
            && doc.missing_deps().is_empty())
        .then(|| doc.save_checked().ok())
        .flatten();
        cases::upsert(
            &mut *tx,
            id,
            &projection,
            snapshot.as_deref().map(|b| (b, last)),
            last,
            now.0,
        )
        .await?;
    }
    Ok(out)
}

/// A case's document as the center holds it. A stored case that does not open is reported
/// (`/metrics`, the administrator's list) and answered `CaseUnavailable`, for it alone.
pub async fn load(state: &AppState, id: CaseId) -> Result<Option<CaseDoc>> {
    let mut conn = state.db.pool.acquire().await?;
    match cases::load(&mut conn, id, &state.actor).await {
        Ok(loaded) => Ok(loaded.map(|l| l.doc)),
        Err(e) => {
            drop(conn);
            Err(unavailable(state, id, e).await)
        }
    }
}

/// Reports a case whose stored document does not open; the error to answer with.
async fn unavailable(state: &AppState, id: CaseId, e: Error) -> Error {
    if let Error::Database(_) = e {
        return e;
    }
    let report = async {
        let mut conn = state.db.writer.acquire().await?;
        crate::ingest::report_unavailable(&mut conn, id, &e, state.clock.now().0).await
    };
    if let Err(failed) = report.await {
        tracing::error!(case = %id, error = %failed, "could not record an unavailable case");
    }
    Error::CaseUnavailable(id)
}

/// The next case number `{county6}-{yyyymmdd}-{seq}` of a county for the day of `now`
/// (China time), taken from the `case_numbers` counter in one atomic statement. A number
/// whose accept then fails is not reused (a gap, as with paper registers); the unique index
/// on `case_no` remains the last guard against a number a dispatcher typed: the console's
/// accept retries with the next one, auto-dispatch leaves the case to a dispatcher.
pub async fn next_case_no(
    state: &AppState,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let mut conn = state.db.writer.acquire().await?;
    next_case_no_in(&mut conn, county6, now).await
}

/// [`next_case_no`] on the caller's connection (inside its transaction, if any).
async fn next_case_no_in(
    conn: &mut sqlx::AnyConnection,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let first = gridsync_core::case::format_case_no(county6, now, 1);
    let prefix = &first[..first.len() - 6];
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO case_numbers (prefix, last_seq) VALUES ($1, 1)
         ON CONFLICT (prefix) DO UPDATE SET last_seq = case_numbers.last_seq + 1
         RETURNING last_seq",
    )
    .bind(prefix)
    .fetch_one(&mut *conn)
    .await?;
    let seq = u32::try_from(seq).map_err(|_| Error::Conflict("case numbers exhausted".into()))?;
    Ok(gridsync_core::case::format_case_no(county6, now, seq))
}

/// Records a case at the center (walk-in, hotline, ...) and submits it, in one transaction.
pub async fn intake(
    state: &AppState,
    new: &gridsync_core::case::NewCase,
    by: &Author,
) -> Result<CaseId> {
    let now = state.clock.now();
    let mut doc = CaseDoc::record(new, by, "center", now, state.actor.clone())?;
    doc.act(&Action::Submit {}, by, now)?;
    let id = doc.id();
    let changes = doc.changes_since(&[]);
    let mut tx = state.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, state.db.dialect, &[id]).await?;
    if cases::load(&mut tx, id, &state.actor).await?.is_some() {
        return Err(Error::Conflict(format!("case {id} exists")));
    }
    let last = log_changes(&mut tx, state, id, &changes, now.0).await?;
    let projection = Projection::of(&doc.case(), &doc.state(&state.limits, now));
    let snapshot = doc.save_checked()?;
    cases::upsert(
        &mut tx,
        id,
        &projection,
        Some((&snapshot, last)),
        last,
        now.0,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Appends changes made at the center (no device) to the log through the one change-log
/// writer; returns the last feed position given.
async fn log_changes(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    id: CaseId,
    changes: &[Vec<u8>],
    now: i64,
) -> Result<i64> {
    let parsed: Vec<(String, String)> = changes
        .iter()
        .map(|bytes| {
            let change = automerge::Change::from_bytes(bytes.clone())
                .map_err(|e| Error::Invalid(format!("change: {e}")))?;
            Ok((
                hex::encode(change.hash().0),
                change.actor_id().to_hex_string(),
            ))
        })
        .collect::<Result<_>>()?;
    let rows: Vec<cases::NewChange<'_>> = parsed
        .iter()
        .zip(changes)
        .map(|((hash, actor), bytes)| cases::NewChange {
            case: id,
            hash,
            actor,
            bytes,
        })
        .collect();
    let inserted = cases::append_changes(tx, state.db.dialect, &rows, None, now).await?;
    Ok(inserted.iter().map(|(_, pos)| *pos).max().unwrap_or(0))
}
