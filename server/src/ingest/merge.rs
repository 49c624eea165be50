//! Stages one to three of the push path, for one case, in memory: decode the pushed
//! changes, drop what the center holds, check that each new change is under one of the
//! device's actors, then judge each by its operations against the document as its author saw
//! it and apply it, in causal order; changes still missing a dependency are parked. Nothing
//! is written here. [`premerge`] runs this ahead of the committer, on the blocking pool.

use std::collections::{HashMap, HashSet};

use automerge::{Change, ChangeHash};
use gridsync_core::case::{CaseDoc, CaseId, Refusal as OpRefusal, Writer};
use gridsync_core::protocol::{DocChanges, RejectCode};
use gridsync_core::workflow::{Event, fold};

use super::Refusal;
use crate::caller::{Caller, revoked_after};
use crate::db::cases::{self, Projection, SNAPSHOT_EVERY};
use crate::error::Result;
use crate::state::Center;

/// A merged case waiting to be written.
pub(super) struct Merge {
    pub(super) id: CaseId,
    /// The document's heads after the merge (the document itself is dropped once merged:
    /// merges wait for the committer, and two hundred phones' documents add up).
    pub(super) heads: Vec<[u8; 32]>,
    /// Some pushed changes wait for dependencies the center does not have yet.
    pub(super) partial: bool,
    /// Those changes (hash hex, actor hex, bytes): kept aside, never applied or served.
    pub(super) parked: Vec<(String, String, Vec<u8>)>,
    pub(super) new: Vec<Fresh>,
    pub(super) projection: Projection,
    /// The new snapshot, when one is due and reopens (checked in `merge`).
    pub(super) snapshot: Option<Vec<u8>>,
    pub(super) existed: bool,
    pub(super) held: bool,
    /// The center did not list the case before this push (new, or a draft): listed now if
    /// it left the draft (`case_new` on the live feed).
    pub(super) unlisted_before: bool,
}

/// A change new to the log, as it is written there.
pub(super) struct Fresh {
    pub(super) hash: String,
    pub(super) actor: String,
    pub(super) bytes: Vec<u8>,
    /// Its signature and the signer's public key (hex); `None`: pushed unsigned.
    pub(super) signed: Option<([u8; 64], String)>,
}

/// A push merged ahead of the committer (see [`premerge`]), case by case.
pub(crate) struct Premerged {
    pub(super) cases: HashMap<CaseId, Prepared>,
    /// The changes this device had parked (by hash, when first parked), read with the
    /// cases: almost always none, and read here it costs the commit nothing. A row missed
    /// by a race is harmless (it is deleted or expires on a later push).
    pub(super) parked: HashMap<String, i64>,
}

pub(super) struct Prepared {
    /// The case's version (`updated_pos`) merged against; `None`: it did not exist.
    pub(super) version: Option<i64>,
    /// Whether the device held the case then.
    pub(super) held: bool,
    pub(super) outcome: std::result::Result<Merge, Refusal>,
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
pub(super) async fn premerge(
    ingest: &super::Ingest,
    caller: &Caller,
    actors: &super::Actors,
    push: std::sync::Arc<Vec<DocChanges>>,
) -> Result<Premerged> {
    let center = &ingest.center;
    let ids: Vec<CaseId> = distinct(&push).iter().map(|p| p.doc_id).collect();
    let mut conn = center.db.pool.acquire().await?;
    let mut stored = cases::fetch_many(&mut conn, &ids).await?;
    let held = cases::held_many(
        &mut conn,
        &caller.device_id,
        &ids,
        revoked_after(center.clock.now().0),
    )
    .await?;
    let parked = cases::parked_of(&mut conn, &caller.device_id).await?;
    drop(conn);
    let slot = ingest.merge_slot().await?;
    let (center, caller, actors) = (center.clone(), caller.clone(), actors.clone());
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
            let prior = match prior.map(|s| s.open(&center.actor)).transpose() {
                Ok(prior) => prior,
                Err(e) => {
                    tracing::warn!(case = %push.doc_id, error = %e, "a case did not open for the merge ahead; the committer merges it");
                    continue;
                }
            };
            let outcome = merge(&center, &caller, &actors, push, prior, held);
            cases.insert(
                push.doc_id,
                Prepared {
                    version,
                    held,
                    outcome,
                },
            );
        }
        Ok(Premerged { cases, parked })
    })
    .await
    .map_err(|e| crate::error::Error::Config(format!("the merge task failed: {e}")))?
}

/// The pushed cases, one entry per case, in id order (the order locks are taken in).
pub(super) fn distinct(push: &[DocChanges]) -> Vec<&DocChanges> {
    let mut pushes: Vec<&DocChanges> = push.iter().collect();
    pushes.sort_by_key(|p| p.doc_id);
    pushes.dedup_by_key(|p| p.doc_id);
    pushes
}

/// Merges one pushed case in memory and checks it. Nothing is written here.
///
/// The push path for one case, in order: parse; drop what the center holds; actor binding;
/// then each new change in causal order is judged by its operations against the document
/// as its author saw it ([`CaseDoc::judge`]) and applied; changes whose dependencies the
/// center lacks are parked (never applied, never served); finally the result is checked
/// (events, time limits, area moves, scope) and folded.
pub(super) fn merge(
    center: &Center,
    caller: &Caller,
    actors: &super::Actors,
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
    // Signatures first (issue 17): nothing of a change is looked at before its author is.
    let signatures = signatures(center, actors, &parsed, push)?;
    let existed = prior.is_some();
    let now = center.clock.now();
    // What the case was before this push, read once: the scope check, the time limits, the
    // area and the events the push may not alter all come from it.
    let mut before: Option<(gridsync_core::case::Case, gridsync_core::workflow::Status)> = None;
    let mut events_before: HashMap<String, Event> = HashMap::new();
    let (mut doc, replayed) = match prior {
        Some(l) => {
            let case = l.doc.case();
            let events = l.doc.events();
            let wf = fold(&case, &events, &center.limits, now);
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
        None => (CaseDoc::empty(id, center.actor.clone()), 0),
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
        if !actors.contains_key(&actor) {
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
    let refused = |hash: &ChangeHash, refusal: OpRefusal| {
        let code = match &refusal {
            OpRefusal::Operation(_) => RejectCode::OperationNotPermitted,
            OpRefusal::Event(_) => RejectCode::EventNotPermitted,
            OpRefusal::Value(_) => RejectCode::InvalidValue,
            OpRefusal::Malformed(_) => RejectCode::MalformedChange,
        };
        (
            code,
            format!(
                "change {} (or one after it) refused: {refusal}",
                short(hash)
            ),
        )
    };
    let mut new = Vec::with_capacity(fresh.len());
    let chain: Vec<Change> = if fresh.len() > 1 {
        fresh.iter().map(|(c, _, _)| c.clone()).collect()
    } else {
        Vec::new()
    };
    if !chain.is_empty() && doc.is_chain_from_heads(&chain) {
        // The usual push, a phone's successive edits: judged as a chain, applied at once
        // (applying change by change cost a sixth more per new case).
        if let Err(refusal) = doc.judge_chain(&chain, &writer) {
            return Err(refused(&chain[0].hash(), refusal));
        }
        if let Err(e) = doc.apply_parsed(chain) {
            return Err((RejectCode::MalformedChange, e.to_string()));
        }
        new.extend(
            fresh
                .drain(..)
                .map(|(c, actor, bytes)| fresh_row(&c.hash(), actor, bytes, &signatures)),
        );
    }
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
                return Err(refused(&hash, refusal));
            }
            if let Err(e) = doc.apply_parsed(vec![change]) {
                return Err((RejectCode::MalformedChange, e.to_string()));
            }
            new.push(fresh_row(&hash, actor, bytes, &signatures));
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

    let projection =
        super::check::result(center, caller, &doc, &events_before, before.as_ref(), now)?;
    let unlisted_before = before
        .as_ref()
        .is_none_or(|(_, status)| *status == gridsync_core::workflow::Status::Draft);
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
        unlisted_before,
    })
}

/// Checks the push's signatures against the keys the device registered for each change's
/// actor: one per change, each verifying over the change's hash. A signature by another
/// device's key, one replayed from another change, or altered bytes all fail here. An
/// unsigned push passes unless the center requires signatures. A change under an actor
/// the device registered before it had a key (an app updated while signed in) counts as
/// unsigned: nothing could verify it, and refusing it would stop that phone until it signs
/// in again. Returns each verified change's signature and signer (hex) by hash.
fn signatures(
    center: &Center,
    actors: &super::Actors,
    parsed: &[Change],
    push: &DocChanges,
) -> std::result::Result<HashMap<ChangeHash, ([u8; 64], String)>, Refusal> {
    let unsigned = |why: &str| -> std::result::Result<(), Refusal> {
        if center.require_signatures {
            Err((RejectCode::SignatureRequired, why.to_owned()))
        } else {
            Ok(())
        }
    };
    if push.signatures.is_empty() {
        unsigned("this center requires every change to be signed; update the app")?;
        return Ok(HashMap::new());
    }
    if push.signatures.len() != parsed.len() {
        return Err((
            RejectCode::BadSignature,
            format!(
                "{} signatures for {} changes: one per change, in order",
                push.signatures.len(),
                parsed.len()
            ),
        ));
    }
    let mut out = HashMap::with_capacity(parsed.len());
    for (change, signature) in parsed.iter().zip(&push.signatures) {
        let hash = change.hash();
        let actor = change.actor_id().to_hex_string();
        let key = match actors.get(&actor) {
            Some(Some(key)) => key,
            Some(None) => {
                unsigned(
                    "this center requires signed changes, and this device has not registered \
                     its signing key: sign in again",
                )?;
                continue;
            }
            // Not this device's actor: refused as such by the actor binding below, unless
            // the center holds the change already.
            None => continue,
        };
        if !gridsync_core::signing::verify_change(key, &hash.0, signature) {
            return Err((
                RejectCode::BadSignature,
                format!(
                    "change {}: the signature does not verify with the key this device registered",
                    short(&hash)
                ),
            ));
        }
        out.insert(hash, (*signature, hex::encode(key)));
    }
    Ok(out)
}

fn fresh_row(
    hash: &ChangeHash,
    actor: String,
    bytes: &[u8],
    signatures: &HashMap<ChangeHash, ([u8; 64], String)>,
) -> Fresh {
    Fresh {
        hash: hex::encode(hash.0),
        actor,
        bytes: bytes.to_vec(),
        signed: signatures.get(hash).cloned(),
    }
}

fn short(hash: &ChangeHash) -> String {
    hex::encode(&hash.0[..6])
}
