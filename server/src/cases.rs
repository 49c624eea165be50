//! Center-side edits of case documents: workflow steps taken by staff (or by the server's
//! own `system` actor) through `sync-core`'s typed operations, logged exactly like pushed
//! changes so they reach the phones at their next sync.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author};

use crate::db::Dialect;
use crate::db::cases::{self, Projection};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::sync::FEED_LOCK;

/// Takes a workflow step on a case as `by`; returns the event id.
pub async fn act(state: &AppState, id: CaseId, action: &Action, by: &Author) -> Result<String> {
    edit(state, id, |doc, now| Ok(doc.act(action, by, now)?)).await
}

/// Loads a case under its lock, applies `op`, logs the new changes and refreshes the
/// projection, in one transaction.
pub async fn edit<T>(
    state: &AppState,
    id: CaseId,
    op: impl FnOnce(&mut CaseDoc, gridsync_core::case::Timestamp) -> Result<T>,
) -> Result<T> {
    let now = state.clock.now();
    let mut tx = state.db.writer.begin().await?;
    if state.db.dialect == Dialect::Postgres {
        crate::sync::lock_case(&mut tx, id).await?;
    }
    let loaded = cases::load(&mut tx, id, &state.actor)
        .await?
        .ok_or(Error::NotFound("case"))?;
    let mut doc = loaded.doc;
    let before = doc.heads();
    let out = op(&mut doc, now)?;
    let changes = doc.changes_since(&before);
    if !changes.is_empty() {
        if state.db.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(FEED_LOCK)
                .execute(&mut *tx)
                .await?;
        }
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
            .zip(&changes)
            .map(|((hash, actor), bytes)| cases::NewChange {
                case: id,
                hash,
                actor,
                bytes,
            })
            .collect();
        let inserted = cases::insert_changes(&mut tx, &rows, None, now.0).await?;
        let last = inserted.iter().map(|(_, pos)| *pos).max().unwrap_or(0);
        let projection = Projection::of(&doc.case(), &doc.state(&state.limits, now));
        let snapshot = (loaded.replayed + changes.len() >= crate::sync::SNAPSHOT_EVERY
            && doc.missing_deps().is_empty())
        .then(|| doc.save());
        cases::upsert(
            &mut tx,
            id,
            &projection,
            snapshot.as_deref().map(|b| (b, last)),
            last,
            now.0,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// A case's document as the center holds it.
pub async fn load(state: &AppState, id: CaseId) -> Result<Option<CaseDoc>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(cases::load(&mut conn, id, &state.actor)
        .await?
        .map(|l| l.doc))
}
