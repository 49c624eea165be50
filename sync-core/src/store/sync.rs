//! The sans-IO sync client: [`FieldStore::prepare_sync`] gives the bytes of one request,
//! the app carries them over whatever HTTP stack it has (OkHttp, URLSession, the built-in
//! transport), and [`FieldStore::apply_sync_response`] takes the answer. One exchange moves
//! the whole outbox up and everything new down; `more` says ask again.
//!
//! ```
//! use gridsync_core::case::{CaseDoc, NewCase};
//! use gridsync_core::protocol::{Ack, DecodeLimits, SyncRequest, SyncResponse};
//! use gridsync_core::store::{FieldStore, StoreKey};
//! use gridsync_core::workflow::{Author, Role};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! // An app keeps its key in the Android Keystore or the iOS Keychain.
//! let key = StoreKey::generate();
//! let mut phone = FieldStore::open(dir.path().join("field.db"), "phone-1", &key)?;
//! phone.set_identity(&Author::new("u-wang", Role::GridWorker, "330182101201"))?;
//! let id = phone.record(&NewCase {
//!     title: "拖欠工资 / unpaid wages".into(),
//!     area_code: "330182101201".into(),
//!     ..NewCase::default()
//! })?;
//! assert_eq!(phone.pending()?.changes, 1);
//!
//! // The phone's HTTP stack posts these bytes to /v1/sync ...
//! let body = phone.prepare_sync()?;
//!
//! // ... a center merges them and answers with its heads (here, a stand-in center).
//! let request = SyncRequest::from_body(&body, &DecodeLimits::default())?;
//! let pushed = &request.push[0];
//! let mut merged = CaseDoc::from_changes(&pushed.changes, automerge::ActorId::random())?;
//! let heads = merged.heads().iter().map(|h| h.0).collect();
//! let mut response = SyncResponse::new(1);
//! response.acks.push(Ack { doc_id: pushed.doc_id, heads });
//!
//! // ... and the phone applies the answer: acknowledged changes leave the outbox.
//! let report = phone.apply_sync_response(&response.to_body())?;
//! assert_eq!(report.acked_changes, 1);
//! assert_eq!(phone.pending()?.changes, 0);
//! assert_eq!(id, pushed.doc_id);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashSet};

use automerge::ChangeHash;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{FieldStore, load_doc, schema, write_doc};
use crate::case::{CaseDoc, CaseId};
use crate::protocol::{DecodeLimits, DocChanges, SyncRequest, SyncResponse};
use crate::{Error, Result};

/// How much of the outbox one request carries; the rest goes in the next round.
const MAX_PUSH_BYTES: u64 = 4 << 20;
/// How much the phone asks the center to send per response (2G links: keep it modest).
const MAX_PULL_BYTES: u64 = 1 << 20;

/// A case the center refused (scope, permission, actor binding). Its changes stay in the
/// outbox: nothing is dropped on the phone's side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedCase {
    pub case_id: CaseId,
    pub code: String,
    pub message: String,
}

/// What one exchange did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Outbox changes the center acknowledged (they left the outbox).
    pub acked_changes: u32,
    /// Changes received from the center.
    pub pulled_changes: u32,
    /// Cases that changed through pulled changes.
    pub updated_cases: Vec<CaseId>,
    /// Cases that arrived for the first time (newly in scope).
    pub new_cases: Vec<CaseId>,
    pub rejected: Vec<RejectedCase>,
    /// Cases that left this device's scope and were purged.
    pub purged: Vec<CaseId>,
    /// Cases that left the scope but still have unsent work; purged once it is sent.
    pub purge_pending: Vec<CaseId>,
    /// Ask again: the center has more, or the outbox did not fit in one request.
    pub more: bool,
    /// Outbox changes still unacknowledged after this exchange.
    pub unsent_changes: u32,
    /// Cases some of whose changes the center acknowledged in this exchange.
    #[serde(default)]
    pub sent_cases: Vec<CaseId>,
}

impl FieldStore {
    /// Builds the next sync request: the outbox (up to 4 MiB of changes), the cursor, and
    /// how much to send back. Returns the HTTP body: CBOR, zstd-compressed. Send it with
    /// `Content-Type: application/cbor` and `Content-Encoding: zstd`. Calling it again
    /// before applying a response is harmless: pushes are idempotent.
    pub fn prepare_sync(&self) -> Result<Vec<u8>> {
        Ok(self.build_request()?.0.to_body())
    }

    /// The request itself, and whether part of the outbox was left for the next round.
    pub fn build_request(&self) -> Result<(SyncRequest, bool)> {
        let mut request = SyncRequest::new(self.device_id.clone(), self.cursor()?, MAX_PULL_BYTES);
        request.applied_whole = schema::get_meta(&self.conn, "applied_whole")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT case_id, change, seq, hash FROM outbox ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut by_case: BTreeMap<String, DocChanges> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut bytes = 0u64;
        let mut truncated = false;
        while let Some(row) = rows.next()? {
            let case_id: String = row.get(0)?;
            let change: Vec<u8> = row.get(1)?;
            let len = change.len() as u64;
            if bytes > 0 && bytes + len > MAX_PUSH_BYTES {
                truncated = true;
                break;
            }
            bytes += len;
            // A prefix of the outbox: everything up to this sequence number is in the push.
            request.pushed_through = u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0);
            let Ok(doc_id) = case_id.parse::<CaseId>() else {
                continue;
            };
            // Signed here, not when recorded: the outbox keeps no signatures, and an
            // Ed25519 signature costs ~20 µs, far less than the bytes it rides with.
            let hash: Vec<u8> = row.get(3)?;
            let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
                continue;
            };
            let doc = by_case.entry(case_id.clone()).or_insert_with(|| {
                order.push(case_id);
                DocChanges::new(doc_id, Vec::new())
            });
            doc.changes.push(change);
            doc.signatures.push(self.signing.sign_change(&hash));
        }
        for case_id in order {
            if let Some(doc) = by_case.remove(&case_id) {
                request.push.push(doc);
            }
        }
        Ok((request, truncated))
    }

    /// Applies the center's answer (the HTTP response body, zstd or plain CBOR) in one
    /// transaction: pulled changes merge, acknowledged changes leave the outbox, the cursor
    /// moves, cases that left the scope are purged once nothing of theirs is unsent.
    pub fn apply_sync_response(&mut self, body: &[u8]) -> Result<SyncReport> {
        let response = SyncResponse::from_body(body, &DecodeLimits::default())?;
        self.apply_response(&response)
    }

    /// [`Self::apply_sync_response`] for an already decoded response.
    pub fn apply_response(&mut self, response: &SyncResponse) -> Result<SyncReport> {
        let now = self.clock.now();
        let mut report = SyncReport {
            more: response.more,
            ..SyncReport::default()
        };
        let tx = self.conn.transaction()?;
        let mut resync = false;

        // Pulled changes first, so acks can be checked against the merged history.
        for pulled in &response.pull {
            let id = pulled.doc_id;
            report.pulled_changes += u32::try_from(pulled.changes.len()).unwrap_or(u32::MAX);
            let mut doc = match load_doc(&tx, id, &self.actor) {
                Ok(mut doc) => {
                    doc.apply_changes(&pulled.changes)?;
                    report.updated_cases.push(id);
                    doc
                }
                Err(Error::CaseNotFound(_)) => {
                    match CaseDoc::from_changes(&pulled.changes, self.actor.clone()) {
                        Ok(doc) if doc.id() == id => {
                            report.new_cases.push(id);
                            doc
                        }
                        // Changes of a case this store never got whole: the center believes
                        // it sent the case (that answer was lost on the way). Ask for
                        // everything again from position 0, which the center answers with
                        // every case whole; merging what is here already is harmless.
                        _ => {
                            resync = true;
                            continue;
                        }
                    }
                }
                Err(e) => return Err(e),
            };
            write_doc(&tx, &mut doc, &self.limits, now)?;
            // Back in scope (e.g. dispatched to us again): not revoked any more.
            tx.execute(
                "UPDATE cases SET revoked = 0 WHERE id = ?1",
                [id.to_string()],
            )?;
        }

        for ack in &response.acks {
            let id = ack.doc_id;
            let mut doc = match load_doc(&tx, id, &self.actor) {
                Ok(doc) => doc,
                Err(Error::CaseNotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let heads: Vec<ChangeHash> = ack.heads.iter().map(|h| ChangeHash(*h)).collect();
            let known: Vec<ChangeHash> = heads.into_iter().filter(|h| doc.has_change(h)).collect();
            if known.is_empty() {
                continue;
            }
            // Everything not after the center's heads is held by the center.
            let not_covered: HashSet<ChangeHash> =
                doc.change_hashes_since(&known).into_iter().collect();
            let mut stmt = tx.prepare_cached("SELECT seq, hash FROM outbox WHERE case_id = ?1")?;
            let entries: Vec<(i64, Vec<u8>)> = stmt
                .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let acked_before = report.acked_changes;
            for (seq, hash) in entries {
                let Ok(hash) = ChangeHash::try_from(hash.as_slice()) else {
                    continue;
                };
                if doc.has_change(&hash) && !not_covered.contains(&hash) {
                    tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
                    report.acked_changes += 1;
                }
            }
            if report.acked_changes > acked_before {
                report.sent_cases.push(id);
            }
            tx.execute(
                "UPDATE cases SET rejection_code = NULL, rejection_message = NULL WHERE id = ?1",
                [id.to_string()],
            )?;
        }

        // The compact form: every pushed case neither refused nor listed above was merged in
        // full, so its outbox entries up to the push's last one leave.
        if response.acked_through > 0 {
            let through = i64::try_from(response.acked_through).unwrap_or(i64::MAX);
            let kept: HashSet<String> = response
                .rejected
                .iter()
                .map(|r| r.doc_id)
                .chain(response.acks.iter().map(|a| a.doc_id))
                .map(|id| id.to_string())
                .collect();
            let entries: Vec<(i64, String)> = tx
                .prepare_cached("SELECT seq, case_id FROM outbox WHERE seq <= ?1")?
                .query_map([through], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut acked_cases = HashSet::new();
            for (seq, case_id) in entries {
                if kept.contains(&case_id) {
                    continue;
                }
                tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
                report.acked_changes += 1;
                acked_cases.insert(case_id);
            }
            for case_id in acked_cases {
                if let Ok(id) = case_id.parse() {
                    report.sent_cases.push(id);
                }
                tx.execute(
                    "UPDATE cases SET rejection_code = NULL, rejection_message = NULL WHERE id = ?1",
                    [case_id],
                )?;
            }
        }

        for rejection in &response.rejected {
            tx.execute(
                "UPDATE cases SET rejection_code = ?2, rejection_message = ?3 WHERE id = ?1",
                params![
                    rejection.doc_id.to_string(),
                    rejection.code.as_str(),
                    rejection.message
                ],
            )?;
            report.rejected.push(RejectedCase {
                case_id: rejection.doc_id,
                code: rejection.code.as_str().to_owned(),
                message: rejection.message.clone(),
            });
        }

        for id in &response.revoked {
            tx.execute(
                "UPDATE cases SET revoked = 1 WHERE id = ?1",
                [id.to_string()],
            )?;
        }
        // Purge every revoked case with nothing left to send (including earlier ones whose
        // last changes were acknowledged just now).
        let revoked: Vec<(String, i64)> = tx
            .prepare_cached(
                "SELECT c.id, (SELECT COUNT(*) FROM outbox o WHERE o.case_id = c.id)
                 FROM cases c WHERE c.revoked = 1",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, unsent) in revoked {
            let Ok(case_id) = id.parse::<CaseId>() else {
                continue;
            };
            if unsent == 0 {
                tx.execute("DELETE FROM cases WHERE id = ?1", [&id])?;
                report.purged.push(case_id);
            } else {
                report.purge_pending.push(case_id);
            }
        }

        let cursor = if resync { 0 } else { response.cursor };
        report.more |= resync;
        schema::set_meta(&tx, "cursor", &cursor.to_string())?;
        // In the same transaction as the cases it carried: the center learns they arrived.
        if response.whole_no != 0 {
            schema::set_meta(&tx, "applied_whole", &response.whole_no.to_string())?;
        }
        let unsent: i64 = tx.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
        tx.commit()?;
        report.unsent_changes = u32::try_from(unsent).unwrap_or(u32::MAX);
        Ok(report)
    }

    /// Syncs through `transport` (a function that posts the body and returns the response
    /// body) until the center has nothing more and the outbox has been offered in full.
    /// At most `max_rounds` exchanges. The reports of all rounds are merged.
    pub fn sync_via<E>(
        &mut self,
        max_rounds: u32,
        mut transport: impl FnMut(Vec<u8>) -> std::result::Result<Vec<u8>, E>,
    ) -> std::result::Result<SyncReport, SyncError<E>> {
        let mut total = SyncReport::default();
        for _ in 0..max_rounds.max(1) {
            let (request, truncated) = self.build_request().map_err(SyncError::Store)?;
            let body = transport(request.to_body()).map_err(SyncError::Transport)?;
            let report = self.apply_sync_response(&body).map_err(SyncError::Store)?;
            let again = report.more || (truncated && report.acked_changes > 0);
            total.merge(report);
            if !again {
                total.more = false;
                return Ok(total);
            }
        }
        total.more = true;
        Ok(total)
    }

    /// Whether a case is still held here (not purged).
    pub fn has_case(&self, id: CaseId) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM cases WHERE id = ?1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

impl SyncReport {
    fn merge(&mut self, next: SyncReport) {
        self.acked_changes += next.acked_changes;
        self.pulled_changes += next.pulled_changes;
        self.updated_cases.extend(next.updated_cases);
        self.new_cases.extend(next.new_cases);
        self.rejected.extend(next.rejected);
        self.purged.extend(next.purged);
        self.purge_pending = next.purge_pending;
        self.more = next.more;
        self.unsent_changes = next.unsent_changes;
        self.sent_cases.extend(next.sent_cases);
    }
}

/// A failed [`FieldStore::sync_via`]: the store or the transport.
#[derive(Debug, thiserror::Error)]
pub enum SyncError<E> {
    #[error(transparent)]
    Store(Error),
    #[error("transport: {0}")]
    Transport(E),
}
