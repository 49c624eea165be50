//! Center-side edits of case documents: workflow steps taken by staff (or by the server's
//! own `system` actor) through `sync-core`'s typed operations, logged exactly like pushed
//! changes so they reach the phones at their next sync.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author, EventKind, OrgRef, Tier, may_author};

use crate::caller::Caller;
use crate::db::case_list;
use crate::db::cases::{self, Projection};
use crate::error::{Error, Result};
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// A case as the center's list shows it: the projection's columns (party names only, for
/// search; no personal data beyond them).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CaseRow {
    pub id: String,
    pub case_no: Option<String>,
    pub title: String,
    pub status: String,
    pub category: String,
    pub risk_level: String,
    pub high_risk: bool,
    /// How the case reached the system (来源: `GRID_VISIT`, `WALK_IN`, ...).
    pub source: String,
    pub area_code: String,
    pub tier: String,
    pub handling_org: Option<String>,
    pub assigned_orgs: Vec<String>,
    pub supervision: String,
    pub due_kind: Option<String>,
    pub due_at: Option<crate::county_time::Stamp>,
    pub party_names: String,
    pub updated_pos: i64,
}

impl CaseRow {
    fn of(l: case_list::Listed, time: &crate::county_time::CountyTime) -> CaseRow {
        CaseRow {
            id: l.id,
            case_no: l.case_no,
            title: l.title,
            status: l.status,
            category: l.category,
            risk_level: l.risk_level,
            high_risk: l.high_risk,
            source: l.source,
            area_code: l.area_code,
            tier: l.tier,
            handling_org: l.handling_org,
            assigned_orgs: l.assigned_orgs,
            supervision: l.supervision,
            due_kind: l.due_kind,
            due_at: time.stamp_opt(l.due_at),
            party_names: l.party_names,
            updated_pos: l.updated_pos,
        }
    }
}

/// Which cases [`list`] returns, inside the caller's scope; empty strings: any.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    pub status: String,
    pub category: String,
    pub risk: String,
    /// In the title, the party names or the case number.
    pub text: String,
    /// Page size, clamped to 1..=500.
    pub limit: i64,
    /// `updated_pos` of the last row of the previous page.
    pub before: Option<i64>,
    /// An area-code prefix (digits).
    pub area: String,
    /// An organisation the case is dispatched to or handled by.
    pub org: String,
    /// Only cases past a running deadline.
    pub overdue: bool,
    /// A source code (`WALK_IN`, ...): how the case reached the system.
    pub source: String,
}

/// The cases in the caller's scope matching `filter`, newest change first, with the
/// `before` of the next page (none on the last page).
pub async fn list(
    center: &Center,
    caller: &Caller,
    filter: &CaseFilter,
) -> Result<(Vec<CaseRow>, Option<i64>), Refusal> {
    let limit = filter.limit.clamp(1, 500);
    if !filter.area.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::invalid(
            "invalid_area",
            "area",
            "an area-code prefix (digits)",
        ));
    }
    if !filter.source.is_empty() && gridsync_core::case::Source::from_code(&filter.source).is_none()
    {
        return Err(Refusal::invalid(
            "invalid_query",
            "source",
            "a source code (GRID_VISIT, WALK_IN, HOTLINE, POLICE, COURT_REFERRAL, PETITION, \
             ONLINE, OTHER)",
        ));
    }
    let query = case_list::Query {
        scope: caller.scope(),
        status: &filter.status,
        category: &filter.category,
        risk: &filter.risk,
        text: filter.text.trim(),
        before: filter.before,
        limit,
        area: &filter.area,
        org: &filter.org,
        overdue_at: filter.overdue.then(|| center.clock.now().0),
        source: &filter.source,
    };
    let items: Vec<CaseRow> = case_list::list(&center.db, &query)
        .await?
        .into_iter()
        .map(|l| CaseRow::of(l, &center.county_time))
        .collect();
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.updated_pos))
        .flatten();
    Ok((items, next))
}

/// A case by its id or its case number (`330182-20261205-000001`), if it is in the
/// caller's scope (else 404: its existence is not told).
pub async fn find_in_scope(
    center: &Center,
    caller: &Caller,
    id: &str,
) -> Result<(CaseId, CaseDoc), Refusal> {
    let not_found = || Refusal::NotFound("case_not_found", "no such case in your scope".into());
    let id: CaseId = if gridsync_core::case::is_case_no(id) {
        cases::id_by_case_no(&center.db, id)
            .await?
            .ok_or_else(not_found)?
            .parse()
            .map_err(|_| not_found())?
    } else {
        id.parse().map_err(|_| not_found())?
    };
    let doc = load(center, id).await?.ok_or_else(not_found)?;
    let wf = doc.state(&center.limits, center.clock.now());
    let p = Projection::of(&doc.case(), &wf);
    if !caller.scope().contains(&p) {
        return Err(not_found());
    }
    Ok((id, doc))
}

/// A case's fields unmasked, for a caller whose role needs personal data and who works the
/// case: a dispatcher (any case in scope), a department handler of an organisation
/// handling or assigned the case, a village mediator of the case's village. Audited
/// before it is returned: no entry, no data.
pub async fn reveal(
    center: &Center,
    caller: &Caller,
    id: CaseId,
    doc: &CaseDoc,
) -> Result<gridsync_core::case::Case, Refusal> {
    policy::require(caller, Permission::ReadPersonalData)?;
    let case = doc.case();
    let wf = doc.state(&center.limits, center.clock.now());
    if !works_on(caller, &case, &wf) {
        return Err(Refusal::NotPermitted(Permission::ReadPersonalData));
    }
    // Field names only.
    crate::audit::append(
        center,
        crate::audit::Entry::by(
            caller,
            crate::audit::PERSONAL_DATA_READ,
            Some(id.to_string()),
            serde_json::json!({
                "fields": ["parties.id_number", "parties.phone", "parties.address", "address", "notes.text"],
                "parties": case.parties.len(),
            }),
        ),
    )
    .await?;
    Ok(case)
}

/// Whether the caller works the case (the case in their scope is judged before): a
/// dispatcher (any case in scope), a department handler of an organisation handling or
/// assigned the case, a village mediator of the case's village. The one relation for
/// personal data ([`reveal`]) and case work (notes, corrections, payments).
pub fn works_on(
    caller: &Caller,
    case: &gridsync_core::case::Case,
    wf: &gridsync_core::workflow::WorkflowState,
) -> bool {
    use gridsync_core::workflow::Role;
    let org = caller.org.id.as_str();
    match caller.user.role {
        Role::Dispatcher => true,
        Role::DepartmentHandler => {
            wf.handling_org.as_deref() == Some(org) || wf.assigned_orgs.iter().any(|o| o.id == org)
        }
        Role::VillageMediator => case.area_code == caller.org.area_code,
        _ => false,
    }
}

/// A workflow step taken by center staff through the API, checked before it is taken:
/// the case in the caller's scope (404), a known kind the role may author (400, 403), a
/// well-formed payload (400 `invalid_action` naming the field), an ACCEPT without a
/// `case_no` (the center numbers it, inside the step's transaction, so a refused step uses
/// no number), DISPATCH targets registered and within the caller's reach, their names from
/// the registry ([`dispatch_targets`]). Then the state machine judges it (409
/// `invalid_transition`). Returns the case id, the event id and the document after.
pub async fn take_step(
    center: &Center,
    caller: &Caller,
    id: &str,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(CaseId, String, CaseDoc), Refusal> {
    let (id, _) = find_in_scope(center, caller, id).await?;
    let kind = super::steps::kind_of(kind)?;
    super::steps::refuse_case_no(kind, &payload)?;
    if !may_author(caller.user.role, kind) {
        return Err(gridsync_core::Error::NotPermitted {
            role: caller.user.role,
            kind,
        }
        .into());
    }
    let step = super::steps::payload_of(kind, payload)?;
    let (mut action, tier_given) = step.into_action(caller.org.tier);
    if kind != EventKind::Accept
        && let Some((field, message)) = action.problem()
    {
        return Err(Refusal::invalid(
            "invalid_action",
            field,
            format!("{kind} payload: {field}: {message}"),
        ));
    }
    match &mut action {
        Action::Dispatch { .. } => check_dispatch(center, caller, &mut action, tier_given).await?,
        // Only the server's own steps are automatic.
        Action::Supervise { auto, .. } => *auto = false,
        _ => {}
    }
    let mut events = steps_by(center, caller, id, std::slice::from_ref(&action)).await?;
    let event = events.pop().unwrap_or_default();
    let doc = load(center, id).await?.ok_or(Error::NotFound("case"))?;
    Ok((id, event, doc))
}

/// Takes checked steps as the caller, in one transaction with their audit entries; an
/// ACCEPT among them takes the caller's county's next case number in it. Returns the event
/// ids.
pub(super) async fn steps_by(
    center: &Center,
    caller: &Caller,
    id: CaseId,
    steps: &[Action],
) -> Result<Vec<String>, Refusal> {
    let author = Author {
        user: caller.user.id.clone(),
        role: caller.user.role,
        org: caller.org.id.clone(),
    };
    let county: String = caller.org.area_code.chars().take(6).collect();
    let number_in = steps
        .iter()
        .any(|a| a.kind() == EventKind::Accept)
        .then_some(county.as_str());
    // A number already taken (an ACCEPT pushed by a dispatcher's phone names its own): the
    // unique index refuses it, and the step is taken again past it.
    for _ in 0..3 {
        match act_all(center, id, steps, number_in, &author).await {
            Ok(events) => return Ok(events),
            Err(e) if e.is_unique_violation() && number_in.is_some() => {
                // Past the taken number: the step's rollback had returned it to the counter.
                next_case_no(center, &county, center.clock.now()).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("could not assign a case number; try again".into()).into())
}

/// A dispatcher's DISPATCH made good: its targets registered and within the caller's reach,
/// under their registered names; the lead target's tier unless the payload named one; an
/// assignee only among the targets' users; never marked automatic.
async fn check_dispatch(
    center: &Center,
    caller: &Caller,
    action: &mut Action,
    tier_given: Option<Tier>,
) -> Result<(), Refusal> {
    let Action::Dispatch {
        to,
        assignee,
        tier,
        auto,
        ..
    } = action
    else {
        return Ok(());
    };
    let ids: Vec<String> = to.iter().map(|o| o.id.clone()).collect();
    let orgs =
        super::reach::dispatch_targets(&center.db, &caller.org, &ids, "invalid_action", "to")
            .await?;
    *to = orgs
        .iter()
        .map(|o| OrgRef::new(o.id.clone(), o.name.clone()))
        .collect();
    *tier = tier_given.unwrap_or(orgs[0].tier);
    if let Some(user) = assignee.as_deref() {
        let known = center.db.user(user).await?;
        if !known.is_some_and(|u| u.active && orgs.iter().any(|o| o.id == u.org_id)) {
            return Err(Refusal::invalid(
                "invalid_action",
                "assignee",
                "the assignee is not an active user of a target",
            ));
        }
    }
    *auto = false;
    Ok(())
}

/// Takes a workflow step on a case as `by` (staff through the API, or the server's
/// `system` actor: auto-dispatch, automatic supervision) and records it in the audit log;
/// returns the event id.
pub async fn act(center: &Center, id: CaseId, action: &Action, by: &Author) -> Result<String> {
    let mut events = act_all(center, id, std::slice::from_ref(action), None, by).await?;
    Ok(events.pop().unwrap_or_default())
}

/// Takes several workflow steps on a case as `by`, in order, in one transaction with their
/// audit entries: one commit for all (auto-dispatch's accept and dispatch, which ride on a
/// phone's sync). With `number_in` (a county's six digits) an `Accept` among the steps takes
/// that county's next case number inside the same transaction. Returns the event ids.
pub async fn act_all(
    center: &Center,
    id: CaseId,
    steps: &[Action],
    number_in: Option<&str>,
    by: &Author,
) -> Result<Vec<String>> {
    // A step that changes the tier brings the time limits configured for the new tier.
    let rules = if steps.iter().any(|a| {
        matches!(
            a.kind(),
            EventKind::Accept | EventKind::Dispatch | EventKind::Escalate
        )
    }) {
        Some(super::limits::limit_rules(&center.db).await?)
    } else {
        None
    };
    let mut tx = center.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, center.db.dialect, &[id]).await?;
    let mut steps = steps.to_vec();
    if let Some(county6) = number_in {
        let no = next_case_no_in(&mut tx, center, county6, center.clock.now()).await?;
        for step in &mut steps {
            if let Action::Accept { case_no, .. } = step {
                case_no.clone_from(&no);
            }
        }
    }
    let events = edit_in(&mut tx, center, id, |doc, now| {
        let mut events = Vec::with_capacity(steps.len());
        for action in &steps {
            events.push(doc.act(action, by, now)?);
            if let Some(rules) = &rules {
                let case = doc.case();
                let tier = doc.state(&center.limits, now).tier;
                let limits = super::limits::limits_for(
                    rules,
                    tier,
                    case.category.as_code(),
                    &case.area_code,
                );
                if limits
                    != case
                        .time_limits
                        .clone()
                        .unwrap_or_else(|| center.limits.clone())
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
        crate::audit::append_in(&mut tx, center, entry).await?;
    }
    tx.commit().await?;
    // The phones of the organisations dispatched to sync now, not at their next schedule
    // (queued after the commit, in the background: never the step's failure).
    for action in &steps {
        if let Action::Dispatch { to, .. } = action {
            let orgs = to.iter().map(|o| o.id.clone()).collect();
            let now = center.clock.now().0;
            crate::notify::wake_orgs(center.db.clone(), center.notify.clone(), id, orgs, now);
        }
    }
    Ok(events)
}

/// Loads a case under its lock, applies `op`, logs the new changes and refreshes the
/// projection, in one transaction.
pub async fn edit<T>(
    center: &Center,
    id: CaseId,
    op: impl FnOnce(&mut CaseDoc, gridsync_core::case::Timestamp) -> Result<T>,
) -> Result<T> {
    let mut tx = center.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, center.db.dialect, &[id]).await?;
    let out = edit_in(&mut tx, center, id, op).await?;
    tx.commit().await?;
    Ok(out)
}

/// [`edit`] inside the caller's transaction, which holds the case's lock.
pub(super) async fn edit_in<T>(
    tx: &mut crate::db::Conn,
    center: &Center,
    id: CaseId,
    op: impl FnOnce(&mut CaseDoc, gridsync_core::case::Timestamp) -> Result<T>,
) -> Result<T> {
    let now = center.clock.now();
    let loaded = match cases::load(&mut *tx, id, &center.actor).await {
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
        let last = log_changes(&mut *tx, center, id, &changes, now.0).await?;
        let projection = Projection::of(&doc.case(), &doc.state(&center.limits, now));
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

/// The display names of the users a case's record names (who took each step, wrote each
/// note, gave co-handling feedback, is assigned the case), by user id: staff names, not personal data of the
/// parties. Ids that name no account (the center's `SYSTEM`) are left out.
pub async fn people(
    center: &Center,
    case: &gridsync_core::case::Case,
    state: &gridsync_core::workflow::WorkflowState,
) -> Result<std::collections::BTreeMap<String, String>> {
    let ids: std::collections::BTreeSet<&str> = state
        .timeline
        .iter()
        .map(|t| t.by_user.as_str())
        .chain(case.notes.iter().map(|n| n.author.as_str()))
        .chain(state.co_feedback.iter().map(|f| f.by_user.as_str()))
        .chain(state.assignee.as_deref())
        .filter(|id| !id.is_empty())
        .collect();
    let mut names = std::collections::BTreeMap::new();
    for id in ids {
        if let Some(user) = center.db.user(id).await? {
            names.insert(id.to_owned(), user.display_name);
        }
    }
    Ok(names)
}

/// A case's document as the center holds it. A stored case that does not open is reported
/// (`/metrics`, the administrator's list) and answered `CaseUnavailable`, for it alone.
pub async fn load(center: &Center, id: CaseId) -> Result<Option<CaseDoc>> {
    let mut conn = center.db.pool.acquire().await?;
    match cases::load(&mut conn, id, &center.actor).await {
        Ok(loaded) => Ok(loaded.map(|l| l.doc)),
        Err(e) => {
            drop(conn);
            Err(unavailable(center, id, e).await)
        }
    }
}

/// Reports a case whose stored document does not open; the error to answer with.
async fn unavailable(center: &Center, id: CaseId, e: Error) -> Error {
    if let Error::Database(_) = e {
        return e;
    }
    let report = async {
        let mut conn = center.db.writer.acquire().await?;
        cases::mark_unavailable(&mut conn, id, &e, center.clock.now().0).await
    };
    if let Err(failed) = report.await {
        tracing::error!(case = %id, error = %failed, "could not record an unavailable case");
    }
    Error::CaseUnavailable(id)
}

/// The next case number `{county6}-{yyyymmdd}-{seq}` of a county for the day of `now`
/// (the county's time zone), taken from the `case_numbers` counter in one atomic statement, outside any
/// step (tests, tools). Steps number inside their own transaction ([`act_all`]'s
/// `number_in`), so a refused accept uses no number.
pub async fn next_case_no(
    center: &Center,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let mut conn = center.db.writer.acquire().await?;
    next_case_no_in(&mut conn, center, county6, now).await
}

/// [`next_case_no`] on the caller's connection (inside its transaction, if any).
async fn next_case_no_in(
    conn: &mut crate::db::Conn,
    center: &Center,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let today = center.county_time.date(now);
    let first = gridsync_core::case::format_case_no(county6, today, 1);
    let prefix = &first[..first.len() - 6];
    let seq = cases::next_case_seq(conn, prefix).await?;
    let seq = u32::try_from(seq).map_err(|_| Error::Conflict("case numbers exhausted".into()))?;
    Ok(gridsync_core::case::format_case_no(county6, today, seq))
}

/// Appends changes made at the center (no device) to the log through the one change-log
/// writer, each signed with the center's key; returns the last feed position given.
pub(super) async fn log_changes(
    tx: &mut crate::db::Conn,
    center: &Center,
    id: CaseId,
    changes: &[Vec<u8>],
    now: i64,
) -> Result<i64> {
    // Every change the center writes is signed with its own key (issue 17), as a phone's
    // are with the phone's: a bundle shows who wrote each.
    let key = center.key.signer();
    let signer = hex::encode(key.public_key());
    let parsed: Vec<(String, String, [u8; 64])> = changes
        .iter()
        .map(|bytes| {
            let change = automerge::Change::from_bytes(bytes.clone())
                .map_err(|e| Error::Invalid(format!("change: {e}")))?;
            let hash = change.hash();
            Ok((
                hex::encode(hash.0),
                change.actor_id().to_hex_string(),
                key.sign_change(&hash.0),
            ))
        })
        .collect::<Result<_>>()?;
    let rows: Vec<cases::NewChange<'_>> = parsed
        .iter()
        .zip(changes)
        .map(|((hash, actor, signature), bytes)| cases::NewChange {
            case: id,
            hash,
            actor,
            bytes,
            signed: Some((&signature[..], signer.as_str())),
        })
        .collect();
    let inserted = cases::append_changes(tx, center.db.dialect, &rows, None, now).await?;
    Ok(inserted.iter().map(|(_, pos)| *pos).max().unwrap_or(0))
}
