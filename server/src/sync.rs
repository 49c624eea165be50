//! The center's side of `POST /v1/sync` (DESIGN §5): merge what the phone pushed, then
//! answer with everything in its scope it has not seen.
//!
//! Push: all pushed cases merge in one transaction; each case is checked on its own (area
//! scope, actor binding, event permissions) and a refused case does not fail the others.
//! Acknowledgements are built only after the commit. Merges of one case are serialised (a
//! process-wide writer gate on SQLite, a row lock on PostgreSQL) and feed positions are
//! handed out in commit order (a transaction-scoped advisory lock on PostgreSQL), so a phone
//! that saw position `n` has seen everything before it.
//!
//! Pull: cases newly in scope arrive whole; then changes after the cursor for the cases the
//! device holds, minus its own; `revoked` lists cases that left its scope.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash};
use gridsync_core::case::{CaseDoc, CaseId, Refusal as OpRefusal, Writer};
use gridsync_core::protocol::{Ack, DocChanges, RejectCode, Rejection, SyncRequest, SyncResponse};
use gridsync_core::workflow::{Event, EventKind, fold, may_author};
use sqlx::{AnyConnection, Row};

use crate::db::Dialect;
use crate::db::accounts::{Org, User};
use crate::db::cases::{self, Projection};
use crate::error::Result;
use crate::state::AppState;

/// A snapshot is rewritten once this many changes pile up after the last one.
pub(crate) const SNAPSHOT_EVERY: usize = 16;
/// Phones drop archived cases after this long (DESIGN §5: 30 days by default).
pub(crate) const PHONE_RETENTION_MS: i64 = 30 * 24 * 3_600_000;
/// How long a revocation keeps being repeated, in case a response was lost.
const REVOKED_REPEAT_MS: i64 = 30 * 24 * 3_600_000;
/// Upper bound on what one response carries, whatever the phone asks for.
const MAX_PULL_BYTES: u64 = 8 << 20;
/// PostgreSQL advisory lock key for the feed (see module docs).
pub(crate) const FEED_LOCK: i64 = 0x6772_6964_7379_6e63; // "gridsync"

/// Who is syncing: the user as the database knows them now, their organisation, the device.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    pub org: Org,
    pub device_id: String,
    /// The organisation this device last synced under, when the user has since been moved:
    /// work recorded there before the move (in its scope, authored in its name) is still
    /// taken on the sync that carries the move, then its cases are revoked from the phone.
    pub former_org: Option<Org>,
}

impl Caller {
    /// Whether a case projected as `p` is in the device's scope (or the former one's).
    fn reaches(&self, p: &Projection) -> bool {
        self.holds_cases()
            && (p.in_scope_of(self.org.scope_prefix.as_deref(), &self.org.id)
                || self
                    .former_org
                    .as_ref()
                    .is_some_and(|o| p.in_scope_of(o.scope_prefix.as_deref(), &o.id)))
    }

    /// Whether this user's devices hold cases at all (docs/security.md, "What a device
    /// receives"). The field roles hold their cases in full: grid workers and village
    /// mediators their village's, department handlers and mediation rooms what is
    /// dispatched to them, a village or township dispatcher his area. A county dispatcher,
    /// a supervisor and an administrator work in the console: a phone of theirs would carry
    /// the county's personal data, so it holds none.
    pub(crate) fn holds_cases(&self) -> bool {
        use gridsync_core::workflow::{Role, Tier};
        match self.user.role {
            Role::GridWorker | Role::VillageMediator | Role::DepartmentHandler => true,
            Role::Dispatcher => self.org.tier != Tier::County,
            Role::Supervisor | Role::Admin | Role::System => false,
        }
    }
}

/// What one sync did, for logs and metrics (no personal data).
#[derive(Clone, Debug, Default)]
pub struct SyncStats {
    pub pushed_cases: usize,
    pub new_changes: usize,
    pub rejected: usize,
    pub pulled_changes: usize,
}

/// A merged case waiting to be written.
struct Merge {
    id: CaseId,
    /// The document's heads after the merge (the document itself is dropped once merged:
    /// merges wait for the committer, and two hundred phones' documents add up).
    heads: Vec<[u8; 32]>,
    /// Some pushed changes wait for dependencies the center does not have yet.
    partial: bool,
    /// Those changes (hash hex, actor hex, bytes): kept aside, never applied or served.
    parked: Vec<(String, String, Vec<u8>)>,
    new: Vec<(String, String, Vec<u8>)>, // hash hex, actor hex, bytes
    projection: Projection,
    /// The new snapshot, when one is due and reopens (checked in `merge`).
    snapshot: Option<Vec<u8>>,
    existed: bool,
    held: bool,
}

/// Runs one sync exchange.
pub async fn sync(
    state: &AppState,
    caller: &Caller,
    request: &SyncRequest,
) -> Result<(SyncResponse, SyncStats)> {
    let now = state.clock.now().0;
    let mut response = SyncResponse::new(request.cursor);
    let mut stats = SyncStats::default();
    let device = DeviceRow::read(state, &caller.device_id).await?;
    let moved;
    let caller = match former_org(state, caller, request, &device).await? {
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
        // Read before queueing: on PostgreSQL the writer is the shared pool, and a
        // transaction waiting for a second connection could starve it.
        let actors: HashSet<String> = if request.push.is_empty() {
            HashSet::new()
        } else {
            state
                .db
                .device_actors(&caller.device_id)
                .await?
                .into_iter()
                .collect()
        };
        // One copy of the pushed changes, shared by the merge ahead and the committer.
        let push = std::sync::Arc::new(request.push.clone());
        let premerged = if push.is_empty() {
            None
        } else {
            Some(premerge(state, caller, &actors, push.clone()).await?)
        };
        let pushed = state
            .ingest
            .push(
                state,
                crate::ingest::Job {
                    caller: caller.clone(),
                    actors,
                    push,
                    premerged,
                    fresh: request.cursor == 0,
                },
            )
            .await?;
        // The compact acknowledgement (DESIGN §5, keys 6 and 8) when the phone speaks it and
        // the push names each case once (a repeated case's later changes are not merged).
        let once = distinct(&request.push).len() == request.push.len();
        if request.pushed_through > 0 && once {
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
        stats = pushed.stats;
        crate::warnings::alert_high_risk(state, &pushed.submitted).await?;
        // Before the pull, so this very answer carries the accept and the dispatch.
        crate::rules::auto_dispatch(state, &pushed.submitted).await?;
    }

    pull(state, caller, &device, request, &mut response, now).await?;
    stats.pulled_changes = response.pull.iter().map(|d| d.changes.len()).sum();
    state.db.touch_device(&caller.device_id, now).await?;
    Ok((response, stats))
}

/// What a sync reads of the device's own row, once.
struct DeviceRow {
    /// The organisation whose scope the device last completed a pull under.
    scope_org: Option<String>,
    /// The last number given to a response carrying whole cases.
    whole_no: i64,
}

impl DeviceRow {
    async fn read(state: &AppState, device: &str) -> Result<DeviceRow> {
        let (scope_org, whole_no) =
            sqlx::query_as("SELECT scope_org, whole_no FROM devices WHERE id = $1")
                .bind(device)
                .fetch_optional(&state.db.pool)
                .await?
                .unwrap_or((None, 0));
        Ok(DeviceRow {
            scope_org,
            whole_no,
        })
    }
}

/// The organisation the device last synced under, if the user has moved since and the
/// request pushes work (see [`Caller::former_org`]).
async fn former_org(
    state: &AppState,
    caller: &Caller,
    request: &SyncRequest,
    device: &DeviceRow,
) -> Result<Option<Org>> {
    if request.push.is_empty() || request.cursor == 0 {
        return Ok(None);
    }
    match &device.scope_org {
        Some(id) if *id != caller.org.id => state.db.org(id).await,
        _ => Ok(None),
    }
}

type Refusal = (RejectCode, String);

/// What one device's push did, inside a (shared) transaction.
#[derive(Debug, Default)]
pub(crate) struct Pushed {
    pub(crate) acks: Vec<Ack>,
    /// Merged cases with changes the center holds but has not applied (their dependencies
    /// are missing): only heads tell the phone which of its changes are in.
    pub(crate) partial: HashSet<CaseId>,
    /// Accepted cases that now stand SUBMITTED (candidates for auto-dispatch).
    pub(crate) submitted: Vec<CaseId>,
    pub(crate) rejected: Vec<Rejection>,
    pub(crate) stats: SyncStats,
}

/// A push merged ahead of the committer (see [`premerge`]), case by case.
pub(crate) struct Premerged {
    cases: HashMap<CaseId, Prepared>,
}

struct Prepared {
    /// The case's version (`updated_pos`) merged against; `None`: it did not exist.
    version: Option<i64>,
    /// Whether the device held the case then.
    held: bool,
    outcome: std::result::Result<Merge, Refusal>,
}

impl std::fmt::Debug for Premerged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Premerged")
            .field("cases", &self.cases.len())
            .finish()
    }
}

/// Merges a push against the cases as they stand now, outside any write transaction: the
/// reads on a pooled connection, the merging (parse, apply, fold, snapshot) on the blocking
/// pool. Pushes thus merge in parallel, and the committer (one task on SQLite) mostly only
/// writes: it re-reads each case's version inside its transaction and merges again there
/// only the cases that moved in between (another phone's push, a center action).
pub(crate) async fn premerge(
    state: &AppState,
    caller: &Caller,
    actors: &HashSet<String>,
    push: std::sync::Arc<Vec<DocChanges>>,
) -> Result<Premerged> {
    let ids: Vec<CaseId> = distinct(&push).iter().map(|p| p.doc_id).collect();
    let mut conn = state.db.pool.acquire().await?;
    let mut stored = cases::fetch_many(&mut conn, &ids).await?;
    let held = cases::held_many(&mut conn, &caller.device_id, &ids, revoked_after(state)).await?;
    drop(conn);
    let slot = state.ingest.merge_slot().await?;
    let (state, caller, actors) = (state.clone(), caller.clone(), actors.clone());
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let pushes = distinct(&push);
        let mut cases = HashMap::with_capacity(pushes.len());
        for push in pushes {
            let prior = stored.remove(&push.doc_id);
            let version = prior.as_ref().map(|s| s.version);
            let held = held.contains(&push.doc_id);
            // Merging ahead only saves the committer work: a case that does not open here is
            // left to the committer, which reads it inside its transaction and decides.
            let prior = match prior.map(|s| s.open(&state.actor)).transpose() {
                Ok(prior) => prior,
                Err(e) => {
                    tracing::warn!(case = %push.doc_id, error = %e, "a case did not open for the merge ahead; the committer merges it");
                    continue;
                }
            };
            let outcome = merge(&state, &caller, &actors, push, prior, held);
            cases.insert(
                push.doc_id,
                Prepared {
                    version,
                    held,
                    outcome,
                },
            );
        }
        Ok(Premerged { cases })
    })
    .await
    .map_err(|e| crate::error::Error::Config(format!("the merge task failed: {e}")))?
}

/// The pushed cases, one entry per case, in id order (the order locks are taken in).
fn distinct(push: &[DocChanges]) -> Vec<&DocChanges> {
    let mut pushes: Vec<&DocChanges> = push.iter().collect();
    pushes.sort_by_key(|p| p.doc_id);
    pushes.dedup_by_key(|p| p.doc_id);
    pushes
}

/// After the window in which the phone is told of a revocation, it has purged the case and
/// has no unsent work for it: an edit then comes from a copy it should not have.
fn revoked_after(state: &AppState) -> i64 {
    state.clock.now().0 - REVOKED_REPEAT_MS
}

/// Merges one device's push inside `tx` (which may carry other devices' pushes too: group
/// commit). The case locks must already be held. `premerged` merges still valid are taken
/// as they are; the others are merged here. Returns the acknowledgements to send once the
/// transaction commits.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn merge_push(
    tx: &mut AnyConnection,
    state: &AppState,
    caller: &Caller,
    actors: &HashSet<String>,
    push: &[DocChanges],
    premerged: Option<Premerged>,
    fresh: bool,
    now: i64,
) -> Result<Pushed> {
    let mut out = Pushed::default();
    if fresh {
        // A fresh store (new install, or data lost): everything comes whole again.
        sqlx::query("DELETE FROM device_cases WHERE device_id = $1")
            .bind(&caller.device_id)
            .execute(&mut *tx)
            .await?;
    }
    if push.is_empty() {
        return Ok(out);
    }
    let pushes = distinct(push);
    let ids: Vec<CaseId> = pushes.iter().map(|p| p.doc_id).collect();
    let held = cases::held_many(tx, &caller.device_id, &ids, revoked_after(state)).await?;
    let mut prepared = premerged.map(|p| p.cases).unwrap_or_default();
    let premerged_any = !prepared.is_empty();
    let versions = if premerged_any {
        cases::versions(tx, &ids).await?
    } else {
        HashMap::new()
    };
    let mut ready = HashMap::new();
    let mut again = Vec::new();
    for id in &ids {
        match prepared.remove(id) {
            Some(p) if p.version == versions.get(id).copied() && p.held == held.contains(id) => {
                ready.insert(*id, p.outcome);
            }
            _ => again.push(*id),
        }
    }
    if premerged_any && !again.is_empty() {
        // Merged ahead against a version that moved since: merged again here.
        metrics::counter!("gridsync_ingest_remerged_cases").increment(again.len() as u64);
    }
    let mut loaded = if again.is_empty() {
        HashMap::new()
    } else {
        cases::load_many(tx, &again, &state.actor).await?
    };
    // Changes this device has parked (usually none): when each was first parked.
    let parked_before = cases::parked_of(tx, &caller.device_id).await?;
    let mut merges = Vec::new();
    for push in pushes {
        out.stats.pushed_cases += 1;
        let outcome = match ready.remove(&push.doc_id) {
            Some(outcome) => outcome,
            None => match loaded.remove(&push.doc_id).transpose() {
                Ok(prior) => merge(
                    state,
                    caller,
                    actors,
                    push,
                    prior,
                    held.contains(&push.doc_id),
                ),
                // One case that no longer opens fails only itself (and is reported).
                Err(e) => {
                    crate::sync::report_unavailable(tx, push.doc_id, &e, now).await?;
                    Err((
                        RejectCode::CaseUnavailable,
                        "the center cannot open this case; an administrator has been told".into(),
                    ))
                }
            },
        };
        let outcome = outcome.and_then(|m| expire_parked(m, &parked_before, now));
        match outcome {
            Ok(m) => merges.push(m),
            Err((code, message)) => {
                out.stats.rejected += 1;
                out.rejected.push(Rejection {
                    doc_id: push.doc_id,
                    code,
                    message,
                });
            }
        }
    }
    if !parked_before.is_empty() {
        // Parked changes that have now been judged and applied leave the quarantine.
        let accepted: Vec<&str> = merges
            .iter()
            .flat_map(|m| m.new.iter().map(|(hash, _, _)| hash.as_str()))
            .filter(|h| parked_before.contains_key(*h))
            .collect();
        cases::unpark(tx, &accepted).await?;
    }
    out.stats.new_changes = write(tx, state, caller, &mut merges, now).await?;
    // Heads now; they are sent only after the commit.
    for m in &mut merges {
        out.acks.push(Ack {
            doc_id: m.id,
            heads: std::mem::take(&mut m.heads),
        });
        if m.partial {
            out.partial.insert(m.id);
        }
        if m.projection.status == gridsync_core::workflow::Status::Submitted {
            out.submitted.push(m.id);
        }
    }
    Ok(out)
}

/// How long a change may wait for dependencies the center never receives: then its case is
/// refused `missing_dependencies`, so the phone shows it instead of retrying for ever.
const PARK_LIMIT_MS: i64 = 7 * 24 * 3_600_000;

/// Refuses a merge whose parked changes have waited past [`PARK_LIMIT_MS`].
fn expire_parked(
    m: Merge,
    parked_before: &HashMap<String, i64>,
    now: i64,
) -> std::result::Result<Merge, Refusal> {
    let oldest = m
        .parked
        .iter()
        .filter_map(|(hash, _, _)| parked_before.get(hash))
        .min();
    match oldest {
        Some(first) if now - first > PARK_LIMIT_MS => Err((
            RejectCode::MissingDependencies,
            format!(
                "{} change(s) waited more than {} days for changes the center never received",
                m.parked.len(),
                PARK_LIMIT_MS / 86_400_000
            ),
        )),
        _ => Ok(m),
    }
}

/// Records a stored case that does not open (for the administrator's list and `/metrics`).
pub(crate) async fn report_unavailable(
    conn: &mut AnyConnection,
    id: CaseId,
    error: &crate::error::Error,
    now: i64,
) -> Result<()> {
    tracing::error!(case = %id, error = %error, "a stored case does not open");
    metrics::counter!("gridsync_cases_unavailable_total").increment(1);
    cases::mark_unavailable(conn, id, &error.to_string(), now).await
}

/// Merges one pushed case in memory and checks it. Nothing is written here.
///
/// The push path for one case, in order: parse; drop what the center holds; actor binding;
/// then each new change in causal order is judged by its operations against the document
/// as its author saw it ([`CaseDoc::judge`]) and applied; changes whose dependencies the
/// center lacks are parked (never applied, never served); finally the result is checked
/// (events, time limits, area moves, scope) and folded.
fn merge(
    state: &AppState,
    caller: &Caller,
    actors: &HashSet<String>,
    push: &DocChanges,
    prior: Option<cases::Loaded>,
    held: bool,
) -> std::result::Result<Merge, Refusal> {
    let id = push.doc_id;
    let mut parsed = Vec::with_capacity(push.changes.len());
    for bytes in &push.changes {
        match Change::from_bytes(bytes.clone()) {
            Ok(c) => parsed.push(c),
            Err(e) => {
                return Err((
                    RejectCode::MalformedChange,
                    format!("change does not parse: {e}"),
                ));
            }
        }
    }
    let existed = prior.is_some();
    let now = state.clock.now();
    // What the case was before this push, read once: the scope check, the time limits, the
    // area and the events the push may not alter all come from it.
    let mut before: Option<(gridsync_core::case::Case, gridsync_core::workflow::Status)> = None;
    let mut events_before: HashMap<String, Event> = HashMap::new();
    let (mut doc, replayed) = match prior {
        Some(l) => {
            let case = l.doc.case();
            let events = l.doc.events();
            let wf = fold(&case, &events, &state.limits, now);
            // Held before (even if since revoked: its unsent work is still welcome) or in scope.
            if !held && !caller.reaches(&Projection::of(&case, &wf)) {
                return Err((
                    RejectCode::OutOfScope,
                    "the case is outside your organisation's scope".into(),
                ));
            }
            before = Some((case, wf.status));
            events_before = events.into_iter().map(|e| (e.id.clone(), e)).collect();
            (l.doc, l.replayed)
        }
        None => (CaseDoc::empty(id, state.actor.clone()), 0),
    };

    // Actor binding: changes the center does not hold yet must come from this device's actors.
    let mut fresh = Vec::new();
    let mut seen = HashSet::new();
    for (change, bytes) in parsed.into_iter().zip(&push.changes) {
        let hash = change.hash();
        if !seen.insert(hash) || (existed && doc.has_change(&hash)) {
            continue;
        }
        let actor = change.actor_id().to_hex_string();
        if !actors.contains(&actor) {
            return Err((
                RejectCode::ActorNotBound,
                format!(
                    "change {} was made under actor {actor}, which is not this device's",
                    short(&hash)
                ),
            ));
        }
        fresh.push((change, actor, bytes));
    }

    // Judge and apply in causal order; what still lacks a dependency at the end is parked.
    let writer = Writer::new(caller.user.id.as_str(), caller.user.role);
    let mut new = Vec::with_capacity(fresh.len());
    loop {
        let mut progressed = false;
        let mut waiting = Vec::with_capacity(fresh.len());
        for (change, actor, bytes) in fresh {
            if !change.deps().iter().all(|d| doc.has_change(d)) {
                waiting.push((change, actor, bytes));
                continue;
            }
            let hash = change.hash();
            if let Err(refusal) = doc.judge(&change, &writer) {
                let (code, what) = match &refusal {
                    OpRefusal::Operation(_) => (RejectCode::OperationNotPermitted, "refused"),
                    OpRefusal::Event(_) => (RejectCode::EventNotPermitted, "refused"),
                    OpRefusal::Value(_) => (RejectCode::InvalidValue, "refused"),
                };
                return Err((code, format!("change {} {what}: {refusal}", short(&hash))));
            }
            if let Err(e) = doc.apply_parsed(vec![change]) {
                return Err((RejectCode::MalformedChange, e.to_string()));
            }
            new.push((hex::encode(hash.0), actor, bytes.clone()));
            progressed = true;
        }
        fresh = waiting;
        if !progressed || fresh.is_empty() {
            break;
        }
    }
    let parked: Vec<(String, String, Vec<u8>)> = fresh
        .into_iter()
        .map(|(c, actor, bytes)| (hex::encode(c.hash().0), actor, bytes.clone()))
        .collect();
    if !existed {
        if new.is_empty() {
            // Nothing of the case arrived whole: it waits (or was never a case).
            return Err((
                RejectCode::MissingDependencies,
                "the case's first change depends on changes the center does not have".into(),
            ));
        }
        if doc.recorded_id() != Some(id) {
            return Err((
                RejectCode::MalformedChange,
                format!("the changes do not record case {id}"),
            ));
        }
    }

    // Events are append-only, and each new one must be the caller's to author.
    let events_after = doc.events();
    for e in &events_after {
        match events_before.get(&e.id) {
            Some(old) if old != e => {
                return Err((
                    RejectCode::EventNotPermitted,
                    format!("event {} was altered; events are append-only", e.id),
                ));
            }
            Some(_) => {}
            None => {
                if let Err(why) = check_event(caller, e) {
                    return Err((RejectCode::EventNotPermitted, why));
                }
            }
        }
    }

    let case = doc.case();
    if case.time_limits != before.as_ref().and_then(|(c, _)| c.time_limits.clone()) {
        return Err((
            RejectCode::EventNotPermitted,
            "time limits are set by the center".into(),
        ));
    }
    if !case.grid_code.is_empty()
        && !gridsync_core::case::is_grid_code(&case.grid_code, &case.area_code)
    {
        return Err((
            RejectCode::InvalidValue,
            "grid_code: the area code followed by 3 digits".into(),
        ));
    }
    let wf = fold(&case, &events_after, &state.limits, now);
    let projection = Projection::of(&case, &wf);
    match &before {
        Some((old, status)) if old.area_code != case.area_code => {
            // After submission only the center moves a case; before it, only within the
            // author's own scope.
            use gridsync_core::workflow::Status;
            if !matches!(status, Status::Draft | Status::Returned) {
                return Err((
                    RejectCode::OutOfScope,
                    "a submitted case is moved by the center only".into(),
                ));
            }
            if !caller.reaches(&projection) {
                return Err((
                    RejectCode::OutOfScope,
                    format!(
                        "area {} is outside your organisation's scope",
                        projection.area_code
                    ),
                ));
            }
        }
        Some(_) => {}
        None if !caller.reaches(&projection) => {
            return Err((
                RejectCode::OutOfScope,
                format!(
                    "area {} is outside your organisation's scope",
                    projection.area_code
                ),
            ));
        }
        None => {}
    }
    // A new case starts without a snapshot (its first changes are replayed from the log, as
    // cheap as loading one): saving and checking one for every new case was a fifth of the
    // center's CPU in a sync (BENCHMARKS, issue 6).
    let snapshot_due = replayed + new.len() >= SNAPSHOT_EVERY;
    let snapshot = match snapshot_due.then(|| doc.save_checked()) {
        None => None,
        Some(Ok(bytes)) => Some(bytes),
        // The case keeps its last good snapshot (or none) and replays its log from there.
        Some(Err(e)) => {
            tracing::warn!(case = %id, error = %e, "snapshot does not reopen; the previous one is kept");
            None
        }
    };
    Ok(Merge {
        id,
        heads: doc.heads().iter().map(|h| h.0).collect(),
        partial: !parked.is_empty(),
        parked,
        new,
        projection,
        snapshot,
        existed,
        held,
    })
}

/// An event pushed from a phone: authored by the caller, in their role and organisation, of a
/// kind their role may author.
fn check_event(caller: &Caller, e: &Event) -> std::result::Result<(), String> {
    let Some(kind) = EventKind::from_code(&e.kind) else {
        return Err(format!("unknown event kind {:?}", e.kind));
    };
    let org_ok =
        e.org == caller.org.id || caller.former_org.as_ref().is_some_and(|o| e.org == o.id);
    if e.by_user != caller.user.id || e.by_role != caller.user.role.as_code() || !org_ok {
        return Err(format!(
            "event {} is not authored as the signed-in user",
            e.id
        ));
    }
    if !may_author(caller.user.role, kind) {
        return Err(format!(
            "role {} may not {}",
            caller.user.role.as_code(),
            kind.label_en()
        ));
    }
    Ok(())
}

/// Writes the merges: the organisations of the cases and that the device holds them, then
/// the new changes in multi-row inserts (feed positions in commit order), then each case's
/// projection and snapshot.
/// Returns how many changes were new to the log.
async fn write(
    conn: &mut AnyConnection,
    state: &AppState,
    caller: &Caller,
    merges: &mut [Merge],
    now: i64,
) -> Result<usize> {
    let rows: Vec<cases::NewChange<'_>> = merges
        .iter()
        .flat_map(|m| {
            m.new.iter().map(|(hash, actor, bytes)| cases::NewChange {
                case: m.id,
                hash,
                actor,
                bytes,
            })
        })
        .collect();
    // What does not depend on feed positions is written before the feed lock: on PostgreSQL
    // that lock is held to the commit, so every statement after it is one every other push
    // waits for (lock waits of 20-100 ms at 200 phones before this).
    let written: Vec<(CaseId, &Projection)> = merges
        .iter()
        .filter(|m| !m.new.is_empty() || !m.existed)
        .map(|m| (m.id, &m.projection))
        .collect();
    cases::set_orgs(conn, &written).await?;
    let newly_held: Vec<CaseId> = merges.iter().filter(|m| !m.held).map(|m| m.id).collect();
    cases::hold_many(conn, &caller.device_id, &newly_held).await?;
    for m in merges.iter().filter(|m| !m.parked.is_empty()) {
        cases::park(conn, m.id, &caller.device_id, &m.parked, now).await?;
    }
    if !rows.is_empty() && state.db.dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FEED_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let inserted = cases::insert_changes(conn, &rows, Some(&caller.device_id), now).await?;
    let mut last: HashMap<CaseId, i64> = HashMap::new();
    for (case, pos) in &inserted {
        let e = last.entry(*case).or_insert(*pos);
        *e = (*e).max(*pos);
    }
    let mut feed_end = None;
    // (merge index, updated_pos, snapshot) of the cases to write.
    let mut writes = Vec::with_capacity(merges.len());
    for (k, m) in merges.iter_mut().enumerate() {
        let updated_pos = match last.get(&m.id) {
            Some(p) => *p,
            None if m.existed => continue,
            None => match feed_end {
                Some(p) => p,
                None => *feed_end.insert(current_pos(conn).await?),
            },
        };
        // A document waiting for missing dependencies keeps snapshot position 0, so the
        // queued changes are replayed from the log until their dependencies arrive. A new
        // case without a snapshot gets the empty one: everything replays from the log.
        let snapshot = match m.snapshot.take() {
            Some(bytes) if !m.partial => Some((bytes, updated_pos)),
            Some(bytes) => Some((bytes, 0)),
            None if !m.existed => Some((Vec::new(), 0)),
            None => None,
        };
        writes.push((k, updated_pos, snapshot));
    }
    let rows: Vec<cases::Upsert<'_>> = writes
        .iter()
        .map(|(k, updated_pos, snapshot)| cases::Upsert {
            id: merges[*k].id,
            projection: &merges[*k].projection,
            snapshot: snapshot.as_ref().map(|(b, p)| (b.as_slice(), *p)),
            updated_pos: *updated_pos,
        })
        .collect();
    cases::upsert_projections(conn, &rows, now).await?;
    Ok(inserted.len())
}

async fn current_pos(conn: &mut AnyConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(pos) FROM changes")
            .fetch_one(&mut *conn)
            .await?
            .unwrap_or(0),
    )
}

fn short(hash: &ChangeHash) -> String {
    hex::encode(&hash.0[..6])
}

/// The scope condition on `cases k`, [`Projection::in_scope_of`] in SQL, with parameters
/// ($1, $2) the area range, $3 the organisation's id and $4 the archive cutoff. It suits a
/// check of given rows (cases changed since a cursor, cases a device holds); a rescan of the
/// whole scope uses the union of its index lookups instead (in `pull`). PostgreSQL compares
/// area codes byte by byte whatever the database's collation, as `starts_with` does.
fn in_scope(dialect: Dialect) -> String {
    let area = scope_area(dialect, "k");
    format!(
        "(({area} >= $1 AND {area} < $2)
          OR k.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = $3))
         AND {NOT_EXPIRED}"
    )
}

/// An archived case leaves the scope once it is older than the archive cutoff ($4).
const NOT_EXPIRED: &str = "NOT (k.status = 'ARCHIVED' AND k.archived_at < $4)";

/// The area code of the cases row `alias` as the scope's byte range compares it (on
/// PostgreSQL in the "C" collation, which the `cases_by_area_bytes` index uses).
fn scope_area(dialect: Dialect, alias: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{alias}.area_code"),
        Dialect::Postgres => format!("{alias}.area_code COLLATE \"C\""),
    }
}

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

async fn pull(
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
    let (prefix, org) = if caller.holds_cases() {
        (caller.org.scope_prefix.as_deref(), caller.org.id.as_str())
    } else {
        (None, "")
    };
    let (area_from, area_to) = cases::area_range(prefix);
    let cutoff = now - PHONE_RETENTION_MS;
    let in_scope = in_scope(state.db.dialect);
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
        let area = scope_area(state.db.dialect, "a");
        // `$6 = $6`: the cursor is bound either way, and every bound parameter must appear.
        format!(
            "$6 = $6 AND k.id IN (SELECT a.id FROM cases a WHERE {area} >= $1 AND {area} < $2
                                  UNION SELECT o.case_id FROM case_orgs o WHERE o.org_id = $3)
             AND {NOT_EXPIRED}"
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
    .bind(org)
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
    let feed_end = current_pos(&mut conn).await?;
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
    .bind(org)
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
