//! The device store: one SQLite file holding the phone's cases, the outbox of changes the
//! center has not acknowledged, and the sync cursor.
//!
//! The file is SQLCipher, encrypted with the app's 32-byte [`StoreKey`] (from the Android
//! Keystore or the iOS Keychain); its WAL and the evidence files are encrypted too (`key.rs`,
//! `evidence/seal.rs`). A wrong key is [`Error::WrongKey`].
//!
//! Every operation is one SQLite transaction: the case document, its outbox entry and its
//! list projection are written together or not at all, so a crash (or a battery pulled
//! mid-write) loses nothing that was reported done and corrupts nothing. The file runs in
//! WAL mode with `synchronous = FULL`: a returned call has reached the disk.
//!
//! Apps call typed operations (record, edit, add a note, take a workflow step), never raw
//! document edits. Lists and search read the projection, not the documents, so opening a
//! store of 10,000 cases and listing the first 50 is cheap.
//!
//! Sync is sans-IO (see [`FieldStore::prepare_sync`]); the app carries the bytes over its
//! own HTTP stack.

mod evidence;
mod key;
mod schema;
mod sync;

use std::path::Path;
use std::sync::Arc;

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::case::{
    AttachmentRef, Case, CaseDoc, CaseEdit, CaseId, Category, NewCase, NoteKind, PartyEdit,
    PartyInput, RiskLevel, Timestamp,
};
use crate::clock::{Clock, SystemClock};
use crate::workflow::{
    Action, Author, DeadlineKind, EventKind, Status, TimeLimits, WarningLevel, WorkflowState,
};
use crate::{Error, Result};

pub use evidence::{EvidenceDownload, NewAttachment, Upload, UploadState, hex};
pub use key::StoreKey;
pub use sync::{RejectedCase, SyncError, SyncReport};

/// A case with everything derived from it, for a detail screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    pub case: Case,
    pub state: WorkflowState,
    /// Changes of this case not yet acknowledged by the center.
    pub unsent_changes: u32,
    /// The center's last refusal of this case's changes, if any (code, message).
    pub rejection: Option<(String, String)>,
}

/// One row of a case list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: CaseId,
    pub case_no: Option<String>,
    pub title: String,
    pub category: Category,
    pub risk_level: RiskLevel,
    pub high_risk: bool,
    pub status: Status,
    pub area_code: String,
    /// Party names, comma-separated (names are not masked; ID numbers and phones never
    /// appear in lists).
    pub party_names: String,
    pub recorded_at: Timestamp,
    pub updated_at: Timestamp,
    pub next_deadline: Option<DeadlineKind>,
    pub due_at: Option<Timestamp>,
    /// The warning level of the nearest deadline, at the time of listing.
    pub warning: WarningLevel,
    pub unsent: bool,
}

/// What to list. Empty vectors and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFilter {
    pub statuses: Vec<Status>,
    pub categories: Vec<Category>,
    pub risk_levels: Vec<RiskLevel>,
    /// Only cases with a deadline due within this many milliseconds (overdue included).
    pub due_within: Option<i64>,
    /// Text in the title, the case number or a party's name.
    pub text: Option<String>,
    /// Leave out archived, void and followed-up cases.
    pub open_only: bool,
    /// 0 means the default page of 50.
    pub limit: u32,
    pub offset: u32,
}

/// Work not yet acknowledged by the center.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub cases: u32,
    pub changes: u32,
}

/// The device store. `Send`; wrap it in a `Mutex` to share it between threads.
#[derive(Debug)]
pub struct FieldStore {
    conn: Connection,
    /// The SQLite file's path; evidence files live beside it.
    path: std::path::PathBuf,
    device_id: String,
    actor: ActorId,
    /// This install's signing key (issue 17), kept in `meta` beside the actor.
    signing: crate::signing::KeyPair,
    clock: Arc<dyn Clock>,
    limits: TimeLimits,
    /// The keys sealing evidence files, derived from the data key kept in the store.
    evidence: Arc<evidence::EvidenceKeys>,
    /// After [`FieldStore::wipe`]: the files are gone and this is an empty store in memory.
    wiped: bool,
}

impl FieldStore {
    /// Opens (or creates) the store at `path` for this device, encrypted with `key`. A
    /// plaintext store written by an app version before encryption is encrypted in place
    /// first (its evidence files too). A key that does not open it: [`Error::WrongKey`].
    pub fn open(path: impl AsRef<Path>, device_id: &str, key: &StoreKey) -> Result<FieldStore> {
        Self::open_with_clock(path, device_id, key, Arc::new(SystemClock))
    }

    pub fn open_with_clock(
        path: impl AsRef<Path>,
        device_id: &str,
        key: &StoreKey,
        clock: Arc<dyn Clock>,
    ) -> Result<FieldStore> {
        if device_id.trim().is_empty() {
            return Err(Error::invalid("device_id", "a device id is required"));
        }
        let path = path.as_ref().to_path_buf();
        let mut conn = key::open_connection(&path, key)?;
        schema::prepare(&mut conn)?;
        let actor = schema::install_actor(&conn)?;
        let signing = schema::install_key(&conn)?;
        let evidence = Arc::new(evidence::EvidenceKeys::derive(&*schema::evidence_key(
            &conn,
        )?));
        let store = FieldStore {
            conn,
            path,
            device_id: device_id.to_owned(),
            actor,
            signing,
            clock,
            limits: TimeLimits::default(),
            evidence,
            wiped: false,
        };
        store.seal_plaintext_evidence()?;
        Ok(store)
    }

    /// Re-encrypts the store under `new` (SQLCipher `PRAGMA rekey`: every page rewritten).
    /// Evidence files need no rewrite: their data key lives inside the store. Keep the old
    /// key until this returns; after it, only `new` opens the store.
    pub fn rekey(&mut self, new: &StoreKey) -> Result<()> {
        if self.wiped {
            return Err(Error::Evidence(
                "the store was wiped: nothing to rekey".into(),
            ));
        }
        key::rekey(&self.conn, &self.path, new)
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// This install's Automerge actor id (random per install, never reused).
    pub fn actor_id(&self) -> &ActorId {
        &self.actor
    }

    /// This install's public signing key: registered at sign-in, it verifies every change
    /// this store pushes (a fresh one after [`Self::wipe`]).
    pub fn signing_key(&self) -> crate::signing::PublicKey {
        self.signing.public_key()
    }

    pub fn set_time_limits(&mut self, limits: TimeLimits) {
        self.limits = limits;
    }

    /// Who is signed in on this device; typed operations author their events as this.
    pub fn set_identity(&mut self, author: &Author) -> Result<()> {
        let json =
            serde_json::to_string(author).map_err(|e| Error::invalid("identity", e.to_string()))?;
        schema::set_meta(&self.conn, "identity", &json)?;
        Ok(())
    }

    pub fn identity(&self) -> Result<Option<Author>> {
        Ok(schema::get_meta(&self.conn, "identity")?.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// A free-form value the app or the bindings keep beside the data (tokens, server URL).
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        let key = format!("app.{key}");
        match value {
            Some(v) => schema::set_meta(&self.conn, &key, v)?,
            None => {
                self.conn
                    .execute("DELETE FROM meta WHERE key = ?1", [key])?;
            }
        }
        Ok(())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        schema::get_meta(&self.conn, &format!("app.{key}"))
    }

    fn author(&self) -> Result<Author> {
        self.identity()?.ok_or(Error::NoIdentity)
    }

    // ---- typed operations ----------------------------------------------------------------

    /// Records a new case (a draft) and returns its id.
    pub fn record(&mut self, new: &NewCase) -> Result<CaseId> {
        let author = self.author()?;
        let now = self.clock.now();
        let mut doc = CaseDoc::record(new, &author, &self.device_id, now, self.actor.clone())?;
        let id = doc.id();
        let tx = self.conn.transaction()?;
        if exists(&tx, id)? {
            return Err(Error::invalid("id", "a case with this id already exists"));
        }
        let changes = doc.changes_since(&[]);
        write_doc(&tx, &mut doc, &self.limits, now)?;
        enqueue(&tx, id, &changes)?;
        tx.commit()?;
        Ok(id)
    }

    pub fn edit(&mut self, id: CaseId, edit: &CaseEdit) -> Result<()> {
        self.write(id, |doc, _, at| doc.edit(edit, at))
    }

    pub fn add_party(&mut self, id: CaseId, party: &PartyInput) -> Result<String> {
        self.write(id, |doc, _, at| doc.add_party(party, at))
    }

    pub fn edit_party(&mut self, id: CaseId, party_id: &str, edit: &PartyEdit) -> Result<()> {
        self.write(id, |doc, _, at| doc.edit_party(party_id, edit, at))
    }

    pub fn add_note(&mut self, id: CaseId, kind: NoteKind, text: &str) -> Result<String> {
        self.write(id, |doc, by, at| doc.add_note(kind, text, by, at))
    }

    /// A note held with one party (a back-to-back session names its party).
    pub fn add_note_with(
        &mut self,
        id: CaseId,
        kind: NoteKind,
        party: Option<&str>,
        text: &str,
    ) -> Result<String> {
        self.write(id, |doc, by, at| {
            doc.add_note_with(kind, party, text, by, at)
        })
    }

    pub fn add_attachment(&mut self, id: CaseId, attachment: &AttachmentRef) -> Result<String> {
        self.write(id, |doc, _, at| doc.add_attachment(attachment, at))
    }

    pub fn mark_installment_paid(
        &mut self,
        id: CaseId,
        installment_id: &str,
        paid_at: Timestamp,
    ) -> Result<()> {
        self.write(id, |doc, _, at| {
            doc.mark_installment_paid(installment_id, paid_at, at)
        })
    }

    /// [`FieldStore::mark_installment_paid`] paid now, by the store's clock.
    pub fn mark_installment_paid_now(&mut self, id: CaseId, installment_id: &str) -> Result<()> {
        self.write(id, |doc, _, at| {
            doc.mark_installment_paid(installment_id, at, at)
        })
    }

    /// Takes a workflow step as the signed-in user (submit, resolve on the spot, follow-up,
    /// ...). Refused with [`Error::NotPermitted`] or [`Error::InvalidTransition`] where the
    /// fold would supersede it.
    /// Center steps (accept, dispatch, ...) are refused here as the center's judge would
    /// refuse them from a device ([`crate::workflow::may_push`]).
    pub fn act(&mut self, id: CaseId, action: &Action) -> Result<String> {
        let role = self.author()?.role;
        let kind = action.kind();
        if !crate::workflow::may_push(role, kind) {
            return Err(Error::NotPermitted { role, kind });
        }
        // Bad data is the step's fault whatever the case's state: say so, naming the field
        // (as the center does), rather than calling it a wrong transition.
        if let Some((field, reason)) = action.problem() {
            return Err(Error::InvalidInput { field, reason });
        }
        self.write(id, |doc, by, at| doc.act(action, by, at))
    }

    /// The steps the signed-in user may take on the case now, from this phone: the fold's
    /// [`WorkflowState::allowed`] (the center's own answer to the same question) less the
    /// steps only the center takes. Empty before anyone signed in. Offline: an app shows
    /// these as its buttons.
    pub fn allowed_actions(&self, id: CaseId) -> Result<Vec<EventKind>> {
        let Some(author) = self.identity()? else {
            return Ok(Vec::new());
        };
        let view = self.case(id)?;
        let mut kinds = view.state.allowed(&view.case, &author);
        kinds.retain(|k| crate::workflow::may_push(author.role, *k));
        Ok(kinds)
    }

    /// 上报: hand a draft (or a returned case) to the center.
    pub fn submit(&mut self, id: CaseId) -> Result<String> {
        self.act(id, &Action::Submit {})
    }

    /// Loads, changes and stores one case in one transaction; the new change joins the outbox.
    fn write<T>(
        &mut self,
        id: CaseId,
        op: impl FnOnce(&mut CaseDoc, &Author, Timestamp) -> Result<T>,
    ) -> Result<T> {
        let author = self.author()?;
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        let mut doc = load_doc(&tx, id, &self.actor)?;
        let before = doc.heads();
        let out = op(&mut doc, &author, now)?;
        let changes = doc.changes_since(&before);
        if !changes.is_empty() {
            write_doc(&tx, &mut doc, &self.limits, now)?;
            enqueue(&tx, id, &changes)?;
            tx.commit()?;
        }
        Ok(out)
    }

    // ---- reading -------------------------------------------------------------------------

    /// One case with its derived state.
    pub fn case(&self, id: CaseId) -> Result<CaseView> {
        let doc = load_doc(&self.conn, id, &self.actor)?;
        let case = doc.case();
        let state = crate::workflow::fold(&case, &doc.events(), &self.limits, self.clock.now());
        let (unsent, code, message): (u32, Option<String>, Option<String>) = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE case_id = ?1), rejection_code, rejection_message
             FROM cases WHERE id = ?1",
            [id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(CaseView {
            case,
            state,
            unsent_changes: unsent,
            rejection: code.zip(message),
        })
    }

    /// Lists cases through the projection: by status, category, risk, due-soon and text.
    pub fn cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        schema::list(
            &self.conn,
            filter,
            self.clock.now(),
            self.limits.yellow_percent,
        )
    }

    /// What the signed-in user must do now on the cases this phone holds (待办), overdue
    /// first, then by deadline: [`crate::workflow::task_for`] over every case still in
    /// the workflow. Empty before anyone signed in.
    pub fn tasks(&self) -> Result<Vec<crate::workflow::CaseTask>> {
        let Some(me) = self.identity()? else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM cases
                 WHERE revoked = 0 AND status NOT IN ('DRAFT', 'ARCHIVED', 'VOID')",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut tasks = Vec::new();
        for id in ids {
            let Ok(id) = id.parse::<CaseId>() else {
                continue;
            };
            let doc = load_doc(&self.conn, id, &self.actor)?;
            let case = doc.case();
            let state = crate::workflow::fold(&case, &doc.events(), &self.limits, now);
            if let Some(task) = crate::workflow::task_for(&state, &case, &me) {
                tasks.push(crate::workflow::CaseTask {
                    case_id: id,
                    case_no: state.case_no.clone(),
                    title: case.title.clone(),
                    status: state.status,
                    task,
                });
            }
        }
        crate::workflow::sort_tasks(&mut tasks);
        Ok(tasks)
    }

    /// Every case this phone holds, by id.
    pub fn case_ids(&self) -> Result<Vec<CaseId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM cases ORDER BY id")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Cases and changes waiting for the center.
    pub fn pending(&self) -> Result<Pending> {
        Ok(self.conn.query_row(
            "SELECT COUNT(DISTINCT case_id), COUNT(*) FROM outbox",
            [],
            |r| {
                Ok(Pending {
                    cases: r.get(0)?,
                    changes: r.get(1)?,
                })
            },
        )?)
    }

    /// The feed position up to which the center's changes are here.
    pub fn cursor(&self) -> Result<u64> {
        Ok(schema::get_meta(&self.conn, "cursor")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Destroys the store: the SQLite file, its WAL and journals and the evidence folder are
    /// deleted (what a revoked device does). The app then deletes its key from the Keystore
    /// or Keychain, which makes any copy of the files (flash keeps deleted blocks) unreadable.
    /// Until it is dropped, this `FieldStore` is an empty store in memory with a fresh actor
    /// and signing key (the old actor's sequence numbers are gone with the data), so an app can still show
    /// empty lists and the revocation; open the path again with a new key to work on.
    pub fn wipe(&mut self) -> Result<()> {
        let mut fresh = Connection::open_in_memory()?;
        schema::prepare(&mut fresh)?;
        let old = std::mem::replace(&mut self.conn, fresh);
        // Closed first: SQLite may write its WAL back on close.
        old.close().map_err(|(_, e)| Error::from(e))?;
        key::remove_store_files(&self.path)?;
        self.actor = schema::install_actor(&self.conn)?;
        // And a fresh signing key: whoever held the old store must not sign as this
        // install. The center keeps the old public key, so what it signed stays verifiable.
        self.signing = schema::install_key(&self.conn)?;
        self.evidence = Arc::new(evidence::EvidenceKeys::derive(&*schema::evidence_key(
            &self.conn,
        )?));
        self.wiped = true;
        Ok(())
    }

    /// Caps the store's file at about `max_bytes` (SQLite `max_page_count`; never below its
    /// current size), or lifts the cap with `None`. A write that needs more room fails with
    /// [`Error::DiskFull`] and changes nothing, exactly as on a full disk: an app can keep
    /// headroom for the rest of the phone, and tests make a full disk with it. The cap lasts
    /// until the store is closed. Returns the cap in force, in bytes.
    pub fn set_max_size(&self, max_bytes: Option<u64>) -> Result<u64> {
        // SQLCipher answers this pragma itself, as text (`cipher_page_size`).
        let page: i64 = self.conn.query_row("PRAGMA page_size", [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(n) => n,
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(4096),
                _ => 4096,
            })
        })?;
        let page = u64::try_from(page).unwrap_or(4096).max(1);
        // SQLite's own ceiling when uncapped.
        let pages = max_bytes.map_or(u64::from(u32::MAX - 1), |b| (b / page).max(1));
        let set: i64 =
            self.conn
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get(0)
                })?;
        Ok(u64::try_from(set).unwrap_or(0) * page)
    }

    /// `PRAGMA integrity_check`: `true` when the file is sound.
    pub fn integrity_check(&self) -> Result<bool> {
        let r: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(r == "ok")
    }
}

fn exists(conn: &Connection, id: CaseId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM cases WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn load_doc(conn: &Connection, id: CaseId, actor: &ActorId) -> Result<CaseDoc> {
    let bytes: Option<Vec<u8>> = conn
        .query_row(
            "SELECT doc FROM case_docs WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let bytes = bytes.ok_or(Error::CaseNotFound(id))?;
    CaseDoc::load(&bytes, actor.clone())
}

/// Saves the document and refreshes its projection row.
fn write_doc(
    tx: &Transaction<'_>,
    doc: &mut CaseDoc,
    limits: &TimeLimits,
    now: Timestamp,
) -> Result<()> {
    let bytes = doc.save();
    let case = doc.case();
    let state = crate::workflow::fold(&case, &doc.events(), limits, now);
    schema::upsert_case(tx, doc.id(), &bytes, &case, &state, now)
}

fn enqueue(tx: &Transaction<'_>, id: CaseId, changes: &[Vec<u8>]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (case_id, hash, change) VALUES (?1, ?2, ?3)",
    )?;
    for bytes in changes {
        let hash = change_hash(bytes)?;
        stmt.execute(params![id.to_string(), hash.as_ref(), bytes])?;
    }
    Ok(())
}

fn change_hash(bytes: &[u8]) -> Result<automerge::ChangeHash> {
    automerge::Change::from_bytes(bytes.to_vec())
        .map(|c| c.hash())
        .map_err(|e| Error::Document(Box::new(automerge::AutomergeError::LoadChangeError(e))))
}
