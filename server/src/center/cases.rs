//! Center-side edits of case documents: workflow steps taken by staff (or by the server's
//! own `system` actor) through `sync-core`'s typed operations, logged exactly like pushed
//! changes so they reach the phones at their next sync.

use gridsync_core::case::{CaseDoc, CaseId};
use gridsync_core::workflow::{Action, Author, EventKind, OrgRef, Tier, may_author};

use crate::caller::Caller;
use crate::db::Db;
use crate::db::accounts::Org;
use crate::db::cases::{self, Projection};
use crate::error::{Error, Result};
use crate::policy::{self, Permission, Refusal};
use crate::state::AppState;

/// Organisation kinds that handle cases, so may be dispatched to: departments, specialised
/// mediation rooms, and villages (the village's people's mediation committee, whose
/// village mediator signs for the case: the village tier of 三级联动). Not a center: none of
/// a center's roles may sign for a dispatch (`may_author`), so a case dispatched to one
/// would be stranded.
pub const HANDLING_KINDS: &[&str] = &["DEPARTMENT", "MEDIATION_ROOM", "VILLAGE"];

/// Whether `center` may dispatch to `target` (whose parent organisation is `parent`): its
/// reach. A center reaches the villages under its scope, and the departments and mediation
/// rooms attached to a center at, below or above it on its own branch of the tree (by
/// area: the attached center's scope and the dispatcher's are prefixes one of the other).
/// So the county center reaches every township's police station and judicial office, a
/// township center its own departments and the county's, never another township's.
pub fn in_reach(center: &Org, target: &Org, parent: Option<&Org>) -> bool {
    let Some(scope) = center.scope_prefix.as_deref() else {
        return false;
    };
    match target.kind.as_str() {
        "VILLAGE" => target.area_code.starts_with(scope),
        "DEPARTMENT" | "MEDIATION_ROOM" => parent.is_some_and(|p| {
            p.kind == "CENTER"
                && p.scope_prefix
                    .as_deref()
                    .is_some_and(|q| q.starts_with(scope) || scope.starts_with(q))
        }),
        _ => false,
    }
}

/// The registered organisations behind a dispatch's `to`, in order, each checked: known (400
/// `invalid_action` naming `to`), able to handle cases (400), within `center`'s reach
/// ([`in_reach`]; 403 `out_of_scope`). `code` is the 400 code of the caller's API.
pub async fn dispatch_targets(
    db: &Db,
    center: &Org,
    to: &[String],
    code: &'static str,
    field: &str,
) -> Result<Vec<Org>, Refusal> {
    if to.is_empty() {
        return Err(Refusal::invalid(
            code,
            field,
            "name at least one organisation",
        ));
    }
    let mut orgs: Vec<Org> = Vec::with_capacity(to.len());
    for id in to {
        if orgs.iter().any(|o| &o.id == id) {
            return Err(Refusal::invalid(
                code,
                field,
                format!("{id:?} is named twice"),
            ));
        }
        let Some(org) = db.org(id).await? else {
            return Err(Refusal::invalid(
                code,
                field,
                format!("no organisation {id:?}"),
            ));
        };
        if !HANDLING_KINDS.contains(&org.kind.as_str()) {
            return Err(Refusal::invalid(
                code,
                field,
                format!(
                    "{id:?} is a {}; cases go to one of {HANDLING_KINDS:?}",
                    org.kind
                ),
            ));
        }
        let parent = match &org.parent_id {
            Some(p) => db.org(p).await?,
            None => None,
        };
        if !in_reach(center, &org, parent.as_ref()) {
            return Err(Refusal::OutOfScope(format!(
                "{id:?} is outside the reach of {}",
                center.id
            )));
        }
        orgs.push(org);
    }
    Ok(orgs)
}

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
    pub area_code: String,
    pub tier: String,
    pub handling_org: Option<String>,
    pub assigned_orgs: Vec<String>,
    pub supervision: String,
    pub due_kind: Option<String>,
    pub due_at: Option<i64>,
    pub party_names: String,
    pub updated_pos: i64,
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
}

/// The cases in the caller's scope matching `filter`, newest change first, with the
/// `before` of the next page (none on the last page).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: &CaseFilter,
) -> Result<(Vec<CaseRow>, Option<i64>), Refusal> {
    use sqlx::Row;
    let limit = filter.limit.clamp(1, 500);
    let area = filter.area.as_str();
    if !area.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::invalid(
            "invalid_area",
            "area",
            "an area-code prefix (digits)",
        ));
    }
    let text = filter.text.trim();
    let text = if text.is_empty() {
        String::new()
    } else {
        format!("%{text}%")
    };
    let (scope_lo, scope_hi, scope_org) = caller.scope().params();
    // Drafts are the recorder's own work: the center lists cases from submission on.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM cases k
         WHERE {scope}
           AND k.status <> 'DRAFT'
           AND ($4 = '' OR k.status = $4) AND ($5 = '' OR k.category = $5) AND ($6 = '' OR k.risk_level = $6)
           AND ($7 = '' OR k.title LIKE $7 OR k.party_names LIKE $7 OR k.case_no LIKE $7)
           AND k.updated_pos < $8
           AND ($10 = '' OR (k.area_code >= $10 AND k.area_code < $11))
           AND ($12 = '' OR k.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = $12))
           AND ($13 = 0 OR (k.due_at IS NOT NULL AND k.due_at <= $14))
         ORDER BY k.updated_pos DESC LIMIT $9",
        scope = crate::db::scope::Scope::sql(state.db.dialect, "k", 1),
    )))
    .bind(scope_lo)
    .bind(scope_hi)
    .bind(scope_org)
    .bind(&filter.status)
    .bind(&filter.category)
    .bind(&filter.risk)
    .bind(text)
    .bind(filter.before.unwrap_or(i64::MAX))
    .bind(limit)
    .bind(area)
    .bind(format!("{area}:"))
    .bind(&filter.org)
    .bind(i64::from(filter.overdue))
    .bind(state.clock.now().0)
    .fetch_all(&state.db.pool())
    .await?;
    let row = |r: &sqlx::any::AnyRow| -> Result<CaseRow, sqlx::Error> {
        let assigned: String = r.try_get("assigned_orgs")?;
        Ok(CaseRow {
            id: r.try_get("id")?,
            case_no: r.try_get("case_no")?,
            title: r.try_get("title")?,
            status: r.try_get("status")?,
            category: r.try_get("category")?,
            risk_level: r.try_get("risk_level")?,
            high_risk: r.try_get::<i64, _>("high_risk")? != 0,
            area_code: r.try_get("area_code")?,
            tier: r.try_get("tier")?,
            handling_org: r.try_get("handling_org")?,
            assigned_orgs: assigned
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            supervision: r.try_get("supervision")?,
            due_kind: r.try_get("due_kind")?,
            due_at: r.try_get("due_at")?,
            party_names: r.try_get("party_names")?,
            updated_pos: r.try_get("updated_pos")?,
        })
    };
    let items: Vec<CaseRow> = rows.iter().map(row).collect::<Result<_, sqlx::Error>>()?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.updated_pos))
        .flatten();
    Ok((items, next))
}

/// A case by its id, if it is in the caller's scope (else 404: its existence is not told).
pub async fn find_in_scope(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(CaseId, CaseDoc), Refusal> {
    let not_found = || Refusal::NotFound("case_not_found", "no such case in your scope".into());
    let id: CaseId = id.parse().map_err(|_| not_found())?;
    let doc = load(state, id).await?.ok_or_else(not_found)?;
    let wf = doc.state(&state.limits, state.clock.now());
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
    state: &AppState,
    caller: &Caller,
    id: CaseId,
    doc: &CaseDoc,
) -> Result<gridsync_core::case::Case, Refusal> {
    use gridsync_core::workflow::Role;
    policy::require(caller, Permission::ReadPersonalData)?;
    let case = doc.case();
    let wf = doc.state(&state.limits, state.clock.now());
    let org = caller.org.id.as_str();
    let works_it = match caller.user.role {
        Role::Dispatcher => true,
        Role::DepartmentHandler => {
            wf.handling_org.as_deref() == Some(org) || wf.assigned_orgs.iter().any(|o| o.id == org)
        }
        Role::VillageMediator => case.area_code == caller.org.area_code,
        _ => false,
    };
    if !works_it {
        return Err(Refusal::NotPermitted(Permission::ReadPersonalData));
    }
    // Field names only.
    crate::audit::append(
        state,
        crate::audit::Entry::by(
            caller,
            crate::audit::PERSONAL_DATA_READ,
            Some(id.to_string()),
            serde_json::json!({
                "fields": ["parties.id_number", "parties.phone", "parties.address", "address"],
                "parties": case.parties.len(),
            }),
        ),
    )
    .await?;
    Ok(case)
}

/// A workflow step taken by center staff through the API, checked before it is taken:
/// the case in the caller's scope (404), a known kind the role may author (400, 403), a
/// well-formed payload (400 `invalid_action` naming the field), an ACCEPT without a
/// `case_no` (the center numbers it, inside the step's transaction, so a refused step uses
/// no number), DISPATCH targets registered and within the caller's reach, their names from
/// the registry ([`dispatch_targets`]). Then the state machine judges it (409
/// `invalid_transition`). Returns the case id, the event id and the document after.
pub async fn take_step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(CaseId, String, CaseDoc), Refusal> {
    let (id, _) = find_in_scope(state, caller, id).await?;
    let Some(kind) = EventKind::from_code(kind) else {
        return Err(Refusal::invalid(
            "invalid_action",
            "kind",
            format!("unknown action kind {kind:?}"),
        ));
    };
    if !may_author(caller.user.role, kind) {
        return Err(gridsync_core::Error::NotPermitted {
            role: caller.user.role,
            kind,
        }
        .into());
    }
    let (mut action, tier_given) = parse_step(kind, payload, caller.org.tier)?;
    match &mut action {
        Action::Dispatch { .. } => check_dispatch(state, caller, &mut action, tier_given).await?,
        // Only the server's own steps are automatic.
        Action::Supervise { auto, .. } => *auto = false,
        _ => {}
    }
    let author = Author {
        user: caller.user.id.clone(),
        role: caller.user.role,
        org: caller.org.id.clone(),
    };
    let county: String = caller.org.area_code.chars().take(6).collect();
    let number_in = (kind == EventKind::Accept).then_some(county.as_str());
    // A number already taken (an ACCEPT pushed by a dispatcher's phone names its own): the
    // unique index refuses it, and the step is taken again past it.
    for _ in 0..3 {
        match act_all(state, id, std::slice::from_ref(&action), number_in, &author).await {
            Ok(mut events) => {
                let event = events.pop().unwrap_or_default();
                let doc = load(state, id).await?.ok_or(Error::NotFound("case"))?;
                return Ok((id, event, doc));
            }
            Err(Error::Database(sqlx::Error::Database(e)))
                if e.is_unique_violation() && number_in.is_some() =>
            {
                // Past the taken number: the step's rollback had returned it to the counter.
                next_case_no(state, &county, state.clock.now()).await?;
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
    state: &AppState,
    caller: &Caller,
    action: &mut Action,
    tier_given: bool,
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
    let orgs = dispatch_targets(&state.db, &caller.org, &ids, "invalid_action", "to").await?;
    *to = orgs
        .iter()
        .map(|o| OrgRef::new(o.id.clone(), o.name.clone()))
        .collect();
    if !tier_given {
        *tier = orgs[0].tier;
    }
    if let Some(user) = assignee.as_deref() {
        let known = state.db.user(user).await?;
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

/// A step's payload read into an [`Action`], every refusal a 400 naming the field. An
/// ACCEPT gets a placeholder number (the transaction's) and, unless given, the accepting
/// center's tier. Returns whether the payload named a tier.
fn parse_step(
    kind: EventKind,
    payload: serde_json::Value,
    own_tier: Tier,
) -> Result<(Action, bool), Refusal> {
    use serde_json::Value;
    let invalid = |field: &str, message: &str| {
        Refusal::invalid(
            "invalid_action",
            field,
            format!("{kind} payload: {message}"),
        )
    };
    let mut payload = match payload {
        Value::Null => serde_json::json!({}),
        v @ Value::Object(_) => v,
        _ => return Err(invalid("payload", "the payload is a JSON object")),
    };
    let Some(obj) = payload.as_object_mut() else {
        return Err(invalid("payload", "the payload is a JSON object"));
    };
    let tier_given = obj.contains_key("tier");
    match kind {
        EventKind::Accept => {
            if obj.contains_key("case_no") {
                return Err(invalid(
                    "case_no",
                    "the center assigns the case number; leave case_no out",
                ));
            }
            obj.insert("case_no".into(), Value::String(String::new()));
            if !tier_given {
                obj.insert("tier".into(), own_tier.as_code().into());
            }
        }
        EventKind::Dispatch => {
            // Names come from the registry: a target may leave its name out.
            if let Some(Value::Array(to)) = obj.get_mut("to") {
                for t in to.iter_mut().filter_map(Value::as_object_mut) {
                    t.entry("name")
                        .or_insert_with(|| Value::String(String::new()));
                }
            }
        }
        _ => {}
    }
    // `kind` before `payload`, so the payload is read in place and errors carry its path.
    let doc = serde_json::json!({ "kind": kind.as_code(), "payload": payload });
    let action: Action = serde_path_to_error::deserialize(&doc).map_err(|e| {
        let path = e.path().to_string();
        let mut field = path
            .strip_prefix("payload")
            .unwrap_or(&path)
            .trim_start_matches('.')
            .to_owned();
        let message = e.inner().to_string();
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
        }
        if field.is_empty() {
            field = "payload".into();
        }
        invalid(&field, &message)
    })?;
    if kind != EventKind::Accept {
        action
            .validate()
            .map_err(|message| invalid(validated_field(&action, &message), &message))?;
    }
    Ok((action, tier_given))
}

/// The payload field `Action::validate` judged, for the message.
fn validated_field(action: &Action, message: &str) -> &'static str {
    match action {
        Action::Return { .. }
        | Action::Void { .. }
        | Action::SendBack { .. }
        | Action::Reopen { .. }
        | Action::Escalate { .. } => "reason",
        Action::ExtensionRequest { .. } if message.starts_with("days") => "days",
        Action::ExtensionRequest { .. } => "reason",
        Action::Dispatch { .. } => "to",
        Action::Resolve { .. } | Action::ResolveOnSite { .. } => "outcome",
        Action::FollowUp(_) => "satisfaction",
        Action::Supervise { .. } => "level",
        Action::Accept { .. } => "case_no",
        _ => "payload",
    }
}

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
    // A step that changes the tier brings the time limits configured for the new tier.
    let rules = if steps.iter().any(|a| {
        matches!(
            a.kind(),
            EventKind::Accept | EventKind::Dispatch | EventKind::Escalate
        )
    }) {
        Some(crate::center::warnings::limit_rules(&state.db).await?)
    } else {
        None
    };
    let mut tx = state.db.writer.begin().await?;
    cases::lock_for_merge(&mut tx, state.db.dialect, &[id]).await?;
    let mut steps = steps.to_vec();
    if let Some(county6) = number_in {
        let no = next_case_no_in(&mut tx, state, county6, state.clock.now()).await?;
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
                let limits = crate::center::warnings::limits_for(
                    rules,
                    tier,
                    case.category.as_code(),
                    &case.area_code,
                );
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
/// (the county's time zone), taken from the `case_numbers` counter in one atomic statement, outside any
/// step (tests, tools). Steps number inside their own transaction ([`act_all`]'s
/// `number_in`), so a refused accept uses no number.
pub async fn next_case_no(
    state: &AppState,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let mut conn = state.db.writer.acquire().await?;
    next_case_no_in(&mut conn, state, county6, now).await
}

/// [`next_case_no`] on the caller's connection (inside its transaction, if any).
async fn next_case_no_in(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    county6: &str,
    now: gridsync_core::case::Timestamp,
) -> Result<String> {
    let today = state.county_time.date(now);
    let first = gridsync_core::case::format_case_no(county6, today, 1);
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
    Ok(gridsync_core::case::format_case_no(county6, today, seq))
}

/// One-stop intake (一站式受理) by center staff: the area must lie in the caller's scope; the
/// case is recorded and submitted, then goes through the high-risk alerts and
/// auto-dispatch like a case from a phone.
pub async fn intake_by(
    state: &AppState,
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
    let id = intake(state, new, &author).await?;
    crate::center::warnings::alert_high_risk(state, &[id]).await?;
    crate::center::rules::auto_dispatch(state, &[id]).await?;
    let doc = load(state, id).await?.ok_or(Error::NotFound("case"))?;
    Ok((id, doc))
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
