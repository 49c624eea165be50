//! Stage five of the push path: the commit. On SQLite one task takes the pushes queued at
//! that moment and writes them in one transaction (one fsync for however many phones arrived
//! together: 3,900 → 5,600 changes/s in `BENCHMARKS.md`); on PostgreSQL, which commits on many
//! connections in parallel, each push keeps its own. Each case is still refused on its own,
//! and acknowledged only after the shared transaction commits. A database failure fails the
//! batch; the phones retry, which is harmless (pushes are idempotent).

use std::collections::{BTreeSet, HashMap};

use crate::db::Conn;
use gridsync_core::case::CaseId;
use gridsync_core::protocol::{Ack, DocChanges, RejectCode, Rejection};
use tokio::sync::mpsc;

use super::merge::{Merge, Premerged, distinct, merge};
use super::{Job, Pushed, Refusal, Reply};
use crate::caller::{Caller, revoked_after};
use crate::db::cases::{self, Projection};
use crate::error::{Error, Result};
use crate::state::Center;

/// At most this many pushes share a transaction (keeps one batch's latency bounded).
const MAX_BATCH: usize = 64;

/// The receiving end: [`run`] consumes it.
#[derive(Debug)]
pub struct Committer {
    pub(super) center: Center,
    pub(super) rx: mpsc::Receiver<(Job, Reply)>,
}

/// The committer loop: runs until every [`Ingest`] handle is gone.
pub async fn run(mut committer: Committer) {
    let center = committer.center.clone();
    while let Some(first) = committer.rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match committer.rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
        let count = jobs.len();
        // A task per batch: a panic fails this batch (its phones retry), not the committer,
        // which would otherwise leave every later push waiting for an answer that never
        // comes.
        let batch = tokio::spawn(commit(center.clone(), jobs));
        let outcome = match batch.await {
            Ok(outcome) => outcome,
            Err(e) => Err(Error::Config(format!("the ingest batch panicked: {e}"))),
        };
        match outcome {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = count, "ingest batch failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

pub(super) async fn commit(center: Center, jobs: Vec<Job>) -> Result<Vec<Pushed>> {
    let center = &center;
    let now = center.clock.now().0;
    let mut tx = center.db.writer.begin().await?;
    // Every case of the batch, locked up front in id order: batches of two server processes
    // cannot deadlock.
    let ids: BTreeSet<CaseId> = jobs
        .iter()
        .flat_map(|j| j.push.iter().map(|p| p.doc_id))
        .collect();
    let ids: Vec<CaseId> = ids.into_iter().collect();
    cases::lock_for_merge(&mut tx, center.db.dialect, &ids).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(
            merge_push(
                &mut tx,
                center,
                &job.caller,
                &job.actors,
                &job.push,
                job.premerged,
                job.fresh,
                now,
            )
            .await?,
        );
    }
    tx.commit().await?;
    metrics::histogram!("gridsync_ingest_batch_size").record(outcomes.len() as f64);
    Ok(outcomes)
}
/// Merges one device's push inside `tx` (which may carry other devices' pushes too: group
/// commit). The case locks must already be held. `premerged` merges still valid are taken
/// as they are; the others are merged here. Returns the acknowledgements to send once the
/// transaction commits.
#[allow(clippy::too_many_arguments)]
async fn merge_push(
    tx: &mut Conn,
    center: &Center,
    caller: &Caller,
    actors: &super::Actors,
    push: &[DocChanges],
    premerged: Option<Premerged>,
    fresh: bool,
    now: i64,
) -> Result<Pushed> {
    let mut out = Pushed::default();
    if fresh {
        // A fresh store (new install, or data lost): everything comes whole again.
        crate::db::feed::forget_held(tx, &caller.device_id).await?;
    }
    if push.is_empty() {
        return Ok(out);
    }
    let pushes = distinct(push);
    let ids: Vec<CaseId> = pushes.iter().map(|p| p.doc_id).collect();
    let held = cases::held_many(
        tx,
        &caller.device_id,
        &ids,
        revoked_after(center.clock.now().0),
    )
    .await?;
    let (mut prepared, parked_before) = premerged.map(|p| (p.cases, p.parked)).unwrap_or_default();
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
        cases::load_many(tx, &again, &center.actor).await?
    };
    // Changes this device has parked (usually none): when each was first parked.
    let mut merges = Vec::new();
    for push in pushes {
        out.counts.pushed_cases += 1;
        let outcome = match ready.remove(&push.doc_id) {
            Some(outcome) => outcome,
            None => match loaded.remove(&push.doc_id).transpose() {
                Ok(prior) => merge(
                    center,
                    caller,
                    actors,
                    push,
                    prior,
                    held.contains(&push.doc_id),
                ),
                // One case that no longer opens fails only itself (and is reported).
                Err(e) => {
                    cases::mark_unavailable(tx, push.doc_id, &e, now).await?;
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
                out.counts.rejected += 1;
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
            .flat_map(|m| m.new.iter().map(|c| c.hash.as_str()))
            .filter(|h| parked_before.contains_key(*h))
            .collect();
        cases::unpark(tx, &accepted).await?;
    }
    out.counts.new_changes = write(tx, center, caller, &mut merges, now).await?;
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
        if m.unlisted_before && m.projection.status != gridsync_core::workflow::Status::Draft {
            let p = &m.projection;
            let orgs = p.assigned_orgs.iter().chain(&p.handling_org).cloned();
            out.new_cases.push(crate::live::LiveEvent::case_new(
                m.id.to_string(),
                p.area_code.clone(),
                orgs.collect(),
            ));
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

/// Writes the merges: the organisations of the cases and that the device holds them, then
/// the new changes in multi-row inserts (feed positions in commit order), then each case's
/// projection and snapshot.
/// Returns how many changes were new to the log.
async fn write(
    conn: &mut Conn,
    center: &Center,
    caller: &Caller,
    merges: &mut [Merge],
    now: i64,
) -> Result<usize> {
    let rows: Vec<cases::NewChange<'_>> = merges
        .iter()
        .flat_map(|m| {
            m.new.iter().map(|c| cases::NewChange {
                case: m.id,
                hash: &c.hash,
                actor: &c.actor,
                bytes: &c.bytes,
                signed: c.signed.as_ref().map(|(sig, key)| (&sig[..], key.as_str())),
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
    let inserted =
        cases::append_changes(conn, center.db.dialect, &rows, Some(&caller.device_id), now).await?;
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
                None => *feed_end.insert(cases::current_pos(conn).await?),
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
