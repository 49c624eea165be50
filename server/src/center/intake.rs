//! One-stop intake (一站式受理): a walk-in or hotline case recorded at the center, then
//! through the high-risk alerts and auto-dispatch like a case from a phone.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author};

use super::cases;
use crate::caller::Caller;
use crate::db::{self, cases::Projection};
use crate::error::{Error, Result};
use crate::policy::Refusal;
use crate::state::Center;

/// One-stop intake (一站式受理) by center staff: the area must lie in the caller's scope; the
/// case is recorded and submitted, then goes through the high-risk alerts and
/// auto-dispatch like a case from a phone.
pub async fn intake_by(
    center: &Center,
    caller: &Caller,
    new: &gridsync_core::case::NewCase,
) -> Result<(CaseId, CaseDoc), Refusal> {
    if !caller
        .org
        .scope_prefix
        .as_deref()
        .is_some_and(|p| new.area_code.starts_with(p))
    {
        return Err(Refusal::OutOfScope(
            "the area is outside your organisation's scope".into(),
        ));
    }
    let author = Author {
        user: caller.user.id.clone(),
        role: caller.user.role,
        org: caller.org.id.clone(),
    };
    let id = intake(center, new, &author).await?;
    super::warnings::alert_high_risk(center, &[id]).await?;
    super::rules::auto_dispatch(center, &[id]).await?;
    let doc = cases::load(center, id)
        .await?
        .ok_or(Error::NotFound("case"))?;
    Ok((id, doc))
}

/// Records a case at the center (walk-in, hotline, ...) and submits it, in one transaction.
pub async fn intake(
    center: &Center,
    new: &gridsync_core::case::NewCase,
    by: &Author,
) -> Result<CaseId> {
    let now = center.clock.now();
    let mut doc = CaseDoc::record(new, by, "center", now, center.actor.clone())?;
    doc.act(&Action::Submit {}, by, now)?;
    let id = doc.id();
    let changes = doc.changes_since(&[]);
    let mut tx = center.db.writer.begin().await?;
    db::cases::lock_for_merge(&mut tx, center.db.dialect, &[id]).await?;
    if db::cases::load(&mut tx, id, &center.actor).await?.is_some() {
        return Err(Error::Conflict(format!("case {id} exists")));
    }
    let last = super::cases::log_changes(&mut tx, center, id, &changes, now.0).await?;
    let projection = Projection::of(&doc.case(), &doc.state(&center.limits, now));
    let snapshot = doc.save_checked()?;
    db::cases::upsert(
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
