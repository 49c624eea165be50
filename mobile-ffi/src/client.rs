//! `FieldClient`: the one object apps hold.
//!
//! Every method blocks: call it from a background thread (Kotlin `Dispatchers.IO`, a
//! `DispatchQueue` in Swift). Any thread will do and calls may overlap: the store sits
//! behind a `Mutex`, held only for the local work of a call, never while waiting on the
//! network, so a slow sync on 2G does not freeze the case list. A second `Mutex` lets one
//! exchange with the center run at a time: two overlapping refreshes would present the
//! same rotating refresh token twice, which the center takes for a stolen token.

use std::sync::{Mutex, MutexGuard, PoisonError};

use gridsync_core::case::{CaseId, NoteKind, Timestamp};
use gridsync_core::clock::{Clock, SystemClock};
use gridsync_core::store::{FieldStore, StoreKey};

use crate::FieldError;
use crate::case::{CaseDetail, CaseEdit, CaseFilter, CaseSummary, NewCase, PartyEdit, PartyInput};
use crate::codes::parse;
use crate::http::{self, Http, Reply};
use crate::observe::{
    self, CaseObserver, ChangeReason, Observers, Persisted, SyncState, SyncStatus,
    SyncStatusObserver,
};
use crate::session::{self, LoginRequest, LogoutRequest, RefreshRequest, Session, TokenReply};
use crate::sync::{PendingCounts, SyncReport};
use crate::task::Task;

/// Exchanges one `sync` call makes at most before it returns with `more` set: a phone
/// newly in a busy scope pages through 1 MiB responses, and a call should end in minutes.
const MAX_ROUNDS: u32 = 64;

/// The phone's handle on its local store and its session with the center.
#[derive(Debug, uniffi::Object)]
pub struct FieldClient {
    store: Mutex<FieldStore>,
    /// Held for the whole of every exchange with the center (login, sync, logout).
    pub(crate) net: Mutex<()>,
    pub(crate) http: Http,
    pub(crate) observers: Observers,
    /// The sync under way, if any (round, bytes so far).
    live: Mutex<Option<Progress>>,
    /// The largest upload chunk for now: halved after a drop (`evidence.rs`).
    pub(crate) chunk_cap: Mutex<usize>,
}

/// A running sync's progress.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    round: u32,
    bytes_sent: u64,
    bytes_received: u64,
}

// UniFFI hands the object to any thread; this fails to compile if that stops being safe.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FieldClient>();
};

#[uniffi::export]
impl FieldClient {
    /// Opens (or creates) the store at `db_path` for this device, encrypted with `key`.
    /// `device_id` is the app install's stable id (make a UUID on first start and keep it);
    /// the center binds tokens and changes to it. `key`: 32 random bytes the app keeps in
    /// the Android Keystore or the iOS Keychain (`invalid_input` for any other length); a
    /// key that does not open the store is `WrongKey`. A plaintext store of an older app
    /// version is encrypted with `key` on this first open.
    #[uniffi::constructor]
    pub fn open(db_path: String, device_id: String, key: Vec<u8>) -> Result<Self, FieldError> {
        let key = StoreKey::from_bytes(&key)?;
        let store = FieldStore::open(db_path, &device_id, &key)?;
        Ok(FieldClient {
            store: Mutex::new(store),
            net: Mutex::new(()),
            http: Http::new(),
            observers: Observers::new(),
            live: Mutex::new(None),
            chunk_cap: Mutex::new(crate::evidence::FIRST_CHUNK_CAP),
        })
    }

    /// The device id the store was opened with.
    pub fn device_id(&self) -> String {
        self.store().device_id().to_owned()
    }

    // ---- session ------------------------------------------------------------------------

    /// Signs in at the center (`POST /v1/auth/login`) and makes the user this device's
    /// identity: the cases and steps recorded from now on are theirs.
    pub fn login(
        &self,
        server_url: String,
        username: String,
        password: String,
    ) -> Result<Session, FieldError> {
        let base = http::base_url(&server_url)?;
        if username.trim().is_empty() {
            return Err(FieldError::invalid_input(
                "invalid_input",
                "a username is required",
            ));
        }
        let _net = lock(&self.net);
        let (device_id, actor, key) = {
            let store = self.store();
            (
                store.device_id().to_owned(),
                store.actor_id().to_hex_string(),
                store.signing_key(),
            )
        };
        let reply = self.http.post_json(
            &format!("{base}/v1/auth/login"),
            &LoginRequest {
                username: username.trim(),
                password: &password,
                device_id: &device_id,
                actor_ids: vec![actor],
                signing_key: gridsync_core::store::hex(&key),
            },
        )?;
        let tokens: TokenReply = self.success(reply)?.json()?;
        let session = {
            let mut store = self.store();
            let session = session::save(&mut store, &base, tokens, now())?.session();
            // A new session starts with a clean slate: no failure to back off from.
            let mut p = Persisted::load(&store);
            p.last_error_code = None;
            p.consecutive_failures = 0;
            p.revoked = false;
            p.save(&store);
            session
        };
        self.status_changed();
        Ok(session)
    }

    /// Signs out: tells the center to drop the refresh token (best effort: offline, the
    /// local sign-out still happens) and forgets the tokens. Unsent work stays in the
    /// outbox and goes up with the next user's first sync. Until someone signs in again,
    /// recording and changing cases fail with `no_identity`.
    pub fn logout(&self) -> Result<(), FieldError> {
        let _net = lock(&self.net);
        let stored = session::load(&self.store())?;
        if let Some(s) = stored
            && !s.refresh_token.is_empty()
        {
            // Ignored on purpose: a phone without a signal must still be able to sign out.
            let _ = self.http.post_json(
                &format!("{}/v1/auth/logout", s.server_url()),
                &LogoutRequest {
                    refresh_token: &s.refresh_token,
                },
            );
        }
        session::sign_out(&self.store())?;
        self.status_changed();
        Ok(())
    }

    /// Who is signed in, if anyone.
    pub fn session(&self) -> Result<Option<Session>, FieldError> {
        Ok(session::load(&self.store())?.map(|s| s.session()))
    }

    /// A current access token for apps that carry the sync bytes over their own HTTP stack
    /// (`Authorization: Bearer ...`). Refreshes it through the built-in transport when it
    /// has expired or `force_refresh` is set (after the center answered 401
    /// `token_expired`).
    #[uniffi::method(default(force_refresh = false))]
    pub fn access_token(&self, force_refresh: bool) -> Result<String, FieldError> {
        let _net = lock(&self.net);
        let base = self.server_url(None)?;
        self.valid_token(&base, force_refresh)
    }

    // ---- recording ----------------------------------------------------------------------

    /// Records a new case (a draft) and returns its id. An empty `area_code` is the
    /// signed-in user's area. Needs a signed-in user (`no_identity` before the first
    /// login); works offline.
    pub fn record_case(&self, case: NewCase) -> Result<String, FieldError> {
        let mut store = self.store();
        session::check_may_write(&store)?;
        let mut new = case.to_core()?;
        if new.area_code.is_empty()
            && let Some(area) = session::area_code(&store)?
        {
            new.area_code = area;
        }
        let id = store.record(&new)?;
        drop(store);
        self.observers
            .cases_changed(observe::one(id, ChangeReason::Recorded));
        self.status_changed();
        Ok(id.to_string())
    }

    /// Changes the fields set in `edit`.
    pub fn edit_case(&self, case_id: String, edit: CaseEdit) -> Result<(), FieldError> {
        let id = case_id_of(&case_id)?;
        let edit = edit.to_core()?;
        self.write(id, ChangeReason::Edited, |s| s.edit(id, &edit))
    }

    /// Adds a party; returns its id (for `edit_party`).
    pub fn add_party(&self, case_id: String, party: PartyInput) -> Result<String, FieldError> {
        let id = case_id_of(&case_id)?;
        let party = party.to_core()?;
        self.write(id, ChangeReason::Edited, |s| s.add_party(id, &party))
    }

    /// Changes the fields set in `edit` of one party.
    pub fn edit_party(
        &self,
        case_id: String,
        party_id: String,
        edit: PartyEdit,
    ) -> Result<(), FieldError> {
        let id = case_id_of(&case_id)?;
        let edit = edit.to_core()?;
        self.write(id, ChangeReason::Edited, |s| {
            s.edit_party(id, &party_id, &edit)
        })
    }

    /// Appends a work note (kind `OTHER`); returns its id.
    pub fn add_note(&self, case_id: String, text: String) -> Result<String, FieldError> {
        self.add_note_of_kind(case_id, NoteKind::Other.as_code().to_owned(), text)
    }

    /// Appends a work note of a kind (`HOME_VISIT`, `PHONE_CALL`,
    /// `MEDIATION_FACE_TO_FACE`, ...); returns its id.
    pub fn add_note_of_kind(
        &self,
        case_id: String,
        kind: String,
        text: String,
    ) -> Result<String, FieldError> {
        let id = case_id_of(&case_id)?;
        let kind: NoteKind = parse(&kind)?;
        self.write(id, ChangeReason::Edited, |s| s.add_note(id, kind, &text))
    }

    /// Appends a note held with one party (`party_id`, from `add_party` or the case's
    /// parties): a back-to-back session (`MEDIATION_BACK_TO_BACK`, 背靠背调解) must name
    /// one (`invalid_input` on `party` otherwise; `item_not_found` for an unknown party).
    pub fn add_note_with_party(
        &self,
        case_id: String,
        kind: String,
        party_id: String,
        text: String,
    ) -> Result<String, FieldError> {
        let id = case_id_of(&case_id)?;
        let kind: NoteKind = parse(&kind)?;
        self.write(id, ChangeReason::Edited, |s| {
            s.add_note_with(id, kind, Some(&party_id), &text)
        })
    }

    /// Records that an installment of the case's agreement was paid (分期履行), at
    /// `paid_at` (epoch ms) or now; its reminder and warning stop. `item_not_found` for an
    /// installment the agreement does not have.
    pub fn mark_installment_paid(
        &self,
        case_id: String,
        installment_id: String,
        paid_at: Option<i64>,
    ) -> Result<(), FieldError> {
        let id = case_id_of(&case_id)?;
        self.write(id, ChangeReason::Edited, |s| match paid_at {
            Some(t) => s.mark_installment_paid(id, &installment_id, Timestamp(t)),
            None => s.mark_installment_paid_now(id, &installment_id),
        })
    }

    // ---- reading ------------------------------------------------------------------------

    /// What the signed-in user must do now on the cases this phone holds (待受理, 待签收,
    /// 待处理, 协办, 待回访, ...): overdue first, then by deadline. Empty before sign-in.
    pub fn tasks(&self) -> Result<Vec<Task>, FieldError> {
        let tasks = self.store().tasks()?;
        Ok(tasks.into_iter().map(Into::into).collect())
    }

    /// Lists cases (from the store's index: cheap even with thousands of cases).
    pub fn cases(&self, filter: CaseFilter) -> Result<Vec<CaseSummary>, FieldError> {
        let filter = filter.to_core()?;
        let list = self.store().cases(&filter)?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// One case with everything derived from it now.
    pub fn case_detail(&self, case_id: String) -> Result<CaseDetail, FieldError> {
        let id = case_id_of(&case_id)?;
        Ok(self.store().case(id)?.into())
    }

    /// Cases and changes the center has not acknowledged yet.
    pub fn pending(&self) -> Result<PendingCounts, FieldError> {
        Ok(self.store().pending()?.into())
    }

    // ---- sync ---------------------------------------------------------------------------

    /// The body of the next `POST /v1/sync`, for apps with their own HTTP stack. Send it
    /// with `Content-Type: application/cbor`, `Content-Encoding: zstd` and
    /// `Authorization: Bearer <access_token()>`. Calling it again before applying a
    /// response is harmless.
    pub fn prepare_sync(&self) -> Result<Vec<u8>, FieldError> {
        Ok(self.store().prepare_sync()?)
    }

    /// Applies the body of the center's 200 answer to `POST /v1/sync`. Bytes that are not
    /// a sync response fail with a `Malformed` error and change nothing. If the report says
    /// `more`, prepare and send again.
    pub fn apply_sync_response(&self, body: Vec<u8>) -> Result<SyncReport, FieldError> {
        let report: SyncReport = self.store().apply_sync_response(&body)?.into();
        self.observers.cases_changed(observe::from_report(&report));
        Ok(report)
    }

    /// Syncs with the center over the built-in transport: pushes the outbox, pulls what is
    /// new, and repeats while either side has more. `server_url` defaults to the one signed
    /// in at. Refreshes the access token when it has expired or the center says so. If the
    /// center has revoked this device, the local store is wiped and the error is
    /// `DeviceRevoked`. An error after some exchanges leaves their work applied.
    #[uniffi::method(default(server_url = None))]
    pub fn sync(&self, server_url: Option<String>) -> Result<SyncReport, FieldError> {
        let _net = lock(&self.net);
        let base = self.server_url(server_url)?;
        self.begin_sync();
        let result = self.sync_rounds(&base);
        self.end_sync(result.as_ref().err());
        result
    }

    /// Re-encrypts the store under `new_key` (32 bytes). Keep the old key in the Keystore
    /// or Keychain until this returns, then replace it: after it, only `new_key` opens the
    /// store.
    pub fn rekey(&self, new_key: Vec<u8>) -> Result<(), FieldError> {
        let key = StoreKey::from_bytes(&new_key)?;
        Ok(self.store().rekey(&key)?)
    }

    /// Destroys the store: its files, the evidence files, the session and the identity go
    /// (what a revoked device does by itself; unsent work is lost). Then delete the key
    /// from the Keystore or Keychain. Until it is closed, this client shows an empty store
    /// held in memory; open the path again, with a new key, to work on.
    pub fn wipe(&self) -> Result<(), FieldError> {
        let ids = {
            let mut store = self.store();
            let ids = store.case_ids()?;
            store.wipe()?;
            ids
        };
        self.observers.cases_changed(
            ids.into_iter()
                .flat_map(|id| observe::one(id, ChangeReason::Wiped))
                .collect(),
        );
        self.status_changed();
        Ok(())
    }

    // ---- observers and status -----------------------------------------------------------

    /// Registers a listener for the cases that change (local writes, applied syncs,
    /// removals); returns its id for `remove_observer`. See `CaseObserver`.
    pub fn add_case_observer(&self, observer: Box<dyn CaseObserver>) -> u64 {
        self.observers.add_case_observer(observer)
    }

    /// Registers a listener for the sync status; it is told the current status at once.
    pub fn add_sync_status_observer(&self, observer: Box<dyn SyncStatusObserver>) -> u64 {
        let id = self.observers.add_status_observer(observer);
        self.status_changed();
        id
    }

    /// Removes a listener of either kind; `false` if the id names none.
    pub fn remove_observer(&self, observer_id: u64) -> bool {
        self.observers.remove(observer_id)
    }

    /// Waits (at most `timeout_ms`) until every notice so far has reached the listeners:
    /// for tests and for an app about to close its screen. `false` if time ran out.
    pub fn flush_observers(&self, timeout_ms: u64) -> bool {
        self.observers
            .flush(std::time::Duration::from_millis(timeout_ms))
    }

    /// Listener calls that panicked or threw (each was caught; the store is intact).
    pub fn observer_failures(&self) -> u64 {
        self.observers.failures()
    }

    /// Where syncing stands: state, the running sync's progress, the last success, the
    /// last error's code, and the work waiting.
    pub fn sync_status(&self) -> Result<SyncStatus, FieldError> {
        self.status()
    }

    /// When the app's background job (WorkManager, BGTaskScheduler) should sync next, in
    /// ms since the epoch: now when work was written since the last sync, 15 minutes after
    /// the last success
    /// otherwise, and after a failure 30 s doubling per failure in a row, up to an hour
    /// (each device a little apart). `None` when syncing cannot help until the user acts
    /// (sign in; a revoked device).
    pub fn next_sync_after(&self) -> Result<Option<i64>, FieldError> {
        let status = self.status()?;
        let (persisted, seed) = {
            let store = self.store();
            (Persisted::load(&store), seed_of(store.device_id()))
        };
        Ok(observe::next_sync_after(
            &persisted,
            status.state,
            status.pending.changes,
            now(),
            seed,
        ))
    }
}

impl FieldClient {
    /// The exchanges of one `sync`, while the `net` lock is held.
    fn sync_rounds(&self, base: &str) -> Result<SyncReport, FieldError> {
        let mut total = SyncReport::default();
        for round in 0..MAX_ROUNDS {
            let (body, truncated) = {
                let (request, truncated) = self.store().build_request()?;
                (request.to_body(), truncated)
            };
            self.progress(|p| {
                p.round = round + 1;
                p.bytes_sent += body.len() as u64;
            });
            let answer = self.post_sync(base, &body)?;
            self.progress(|p| p.bytes_received += answer.len() as u64);
            let report: SyncReport = self.store().apply_sync_response(&answer)?.into();
            self.observers.cases_changed(observe::from_report(&report));
            // Ask again while the center has more, or while the outbox did not fit and the
            // center took what was sent (if it took nothing, another round would not help).
            let again = report.more || (truncated && report.acked_changes > 0);
            if round == 0 {
                total = report;
            } else {
                total.merge(report);
            }
            if !again {
                total.more = false;
                return Ok(total);
            }
        }
        total.more = true;
        Ok(total)
    }

    fn begin_sync(&self) {
        *lock(&self.live) = Some(Progress::default());
        {
            let store = self.store();
            let mut p = Persisted::load(&store);
            p.last_attempt_at = Some(now());
            p.save(&store);
        }
        self.status_changed();
    }

    fn progress(&self, f: impl FnOnce(&mut Progress)) {
        if let Some(p) = lock(&self.live).as_mut() {
            f(p);
        }
        self.status_changed();
    }

    /// Records how the sync ended (kept across restarts) and tells the status listeners.
    fn end_sync(&self, error: Option<&FieldError>) {
        let progress = lock(&self.live).take().unwrap_or_default();
        {
            let store = self.store();
            let mut p = Persisted::load(&store);
            p.rounds = progress.round;
            p.bytes_sent = progress.bytes_sent;
            p.bytes_received = progress.bytes_received;
            match error {
                None => {
                    p.last_success_at = Some(now());
                    p.last_error_code = None;
                    p.consecutive_failures = 0;
                    p.unsent_after_sync = store.pending().map_or(0, |x| x.changes);
                }
                Some(e) => {
                    p.last_error_code = Some(e.code().to_owned());
                    p.consecutive_failures = p.consecutive_failures.saturating_add(1);
                    p.revoked |= matches!(e, FieldError::DeviceRevoked { .. });
                }
            }
            p.save(&store);
        }
        self.status_changed();
    }

    fn status(&self) -> Result<SyncStatus, FieldError> {
        let live = *lock(&self.live);
        let store = self.store();
        let p = Persisted::load(&store);
        let session = session::load(&store)?;
        let pending: PendingCounts = store.pending()?.into();
        let uploads = store.uploads()?;
        drop(store);
        let open: Vec<_> = uploads
            .iter()
            .filter(|u| {
                !matches!(
                    u.state,
                    gridsync_core::store::UploadState::Done
                        | gridsync_core::store::UploadState::Failed
                )
            })
            .collect();
        let state = if live.is_some() {
            SyncState::Syncing
        } else if p.revoked {
            SyncState::DeviceRevoked
        } else if session.is_none_or(|s| s.refresh_token.is_empty()) {
            SyncState::SignInNeeded
        } else if p.last_error_code.is_some() {
            SyncState::Offline
        } else {
            SyncState::Idle
        };
        let progress = live.unwrap_or(Progress {
            round: p.rounds,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
        });
        Ok(SyncStatus {
            state,
            round: progress.round,
            bytes_sent: progress.bytes_sent,
            bytes_received: progress.bytes_received,
            last_success_at: p.last_success_at,
            last_attempt_at: p.last_attempt_at,
            last_error_code: p.last_error_code,
            consecutive_failures: p.consecutive_failures,
            pending,
            evidence_pending: u32::try_from(open.len()).unwrap_or(u32::MAX),
            evidence_bytes: open.iter().map(|u| u.size).sum(),
            evidence_bytes_sent: open.iter().map(|u| u.sent).sum(),
        })
    }

    /// Tells the status listeners, if there are any (reading the status costs a query).
    pub(crate) fn status_changed(&self) {
        if self.observers.has_status_observers()
            && let Ok(status) = self.status()
        {
            self.observers.status_changed(status);
        }
    }

    /// The store, recovering from a poisoned lock: a panic while it was held happened
    /// inside one SQLite transaction, which rolled back, so the store is intact.
    pub(crate) fn store(&self) -> MutexGuard<'_, FieldStore> {
        lock(&self.store)
    }

    /// A typed write of one case, refused after a logout; the observers hear of it once
    /// the store's lock is released.
    pub(crate) fn write<T>(
        &self,
        id: CaseId,
        reason: ChangeReason,
        op: impl FnOnce(&mut FieldStore) -> gridsync_core::Result<T>,
    ) -> Result<T, FieldError> {
        let out = {
            let mut store = self.store();
            session::check_may_write(&store)?;
            op(&mut store)?
        };
        self.observers.cases_changed(observe::one(id, reason));
        self.status_changed();
        Ok(out)
    }

    /// The URL to talk to: the one given, or the one signed in at.
    pub(crate) fn server_url(&self, given: Option<String>) -> Result<String, FieldError> {
        match given {
            Some(url) => http::base_url(&url),
            None => session::load(&self.store())?
                .map(|s| s.server_url().to_owned())
                .ok_or_else(not_signed_in),
        }
    }

    /// One `POST /v1/sync`, refreshing the token once if the center says it expired.
    /// Expects the `net` lock held.
    fn post_sync(&self, base: &str, body: &[u8]) -> Result<Vec<u8>, FieldError> {
        let url = format!("{base}/v1/sync");
        let mut token = self.valid_token(base, false)?;
        let mut refreshed = false;
        loop {
            let reply = self.http.post_sync(&url, &token, body)?;
            if reply.is_success() {
                return Ok(reply.body);
            }
            let error = reply.error();
            // `invalid_token` too: a center that rotated its signing key refuses every
            // access token, while the refresh tokens in its database still stand.
            if !refreshed && matches!(error.code(), "token_expired" | "invalid_token") {
                refreshed = true;
                token = self.valid_token(base, true)?;
                continue;
            }
            return Err(self.handle(error));
        }
    }

    /// An access token that has not expired, refreshed when needed (or forced). Expects the
    /// `net` lock held.
    pub(crate) fn valid_token(&self, base: &str, force: bool) -> Result<String, FieldError> {
        let stored = session::load(&self.store())?.ok_or_else(not_signed_in)?;
        if stored.refresh_token.is_empty() {
            return Err(FieldError::auth(
                "not_signed_in",
                "the center no longer accepts this device's session: sign in again",
            ));
        }
        if !force && !stored.access_token.is_empty() && !stored.access_expired(now()) {
            return Ok(stored.access_token);
        }
        let (device_id, key) = {
            let store = self.store();
            (store.device_id().to_owned(), store.signing_key())
        };
        let reply = self.http.post_json(
            &format!("{base}/v1/auth/refresh"),
            &RefreshRequest {
                refresh_token: &stored.refresh_token,
                device_id: &device_id,
                signing_key: gridsync_core::store::hex(&key),
            },
        )?;
        if !reply.is_success() {
            let error = reply.error();
            if matches!(error, FieldError::Auth { .. }) {
                // The refresh token is dead (expired, reused, revoked): keep the user for
                // offline work, drop the tokens so the app asks for a login.
                session::expire(&self.store(), stored)?;
            }
            return Err(self.handle(error));
        }
        let tokens: TokenReply = reply.json()?;
        Ok(session::save(&mut self.store(), base, tokens, now())?.access_token)
    }

    /// A non-success reply as an error, or the reply.
    fn success(&self, reply: Reply) -> Result<Reply, FieldError> {
        if reply.is_success() {
            Ok(reply)
        } else {
            Err(self.handle(reply.error()))
        }
    }

    /// What an error from the center does here: a revoked device wipes itself (a lost or
    /// stolen phone must not keep the parties' personal data).
    pub(crate) fn handle(&self, error: FieldError) -> FieldError {
        match error {
            FieldError::DeviceRevoked { code, detail } => match self.wipe_revoked() {
                Ok(()) => FieldError::DeviceRevoked {
                    code,
                    detail: format!("{detail} (local data wiped)"),
                },
                // Still `DeviceRevoked`: the app must know, and try `wipe()` again.
                Err(e) => FieldError::DeviceRevoked {
                    code,
                    detail: format!("{detail} (wiping local data failed: {e})"),
                },
            },
            other => other,
        }
    }
}

impl FieldClient {
    /// The wipe of a revoked device: the data goes, the revocation is remembered (the
    /// status says so until someone signs in again), the observers hear of every case.
    fn wipe_revoked(&self) -> Result<(), FieldError> {
        let ids = {
            let mut store = self.store();
            let ids = store.case_ids()?;
            store.wipe()?;
            let p = Persisted {
                revoked: true,
                ..Persisted::default()
            };
            p.save(&store);
            ids
        };
        self.observers.cases_changed(
            ids.into_iter()
                .flat_map(|id| observe::one(id, ChangeReason::Revoked))
                .collect(),
        );
        Ok(())
    }
}

/// A stable number per device, to spread a fleet's retries.
fn seed_of(device_id: &str) -> u64 {
    device_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> i64 {
    SystemClock.now().0
}

fn not_signed_in() -> FieldError {
    FieldError::auth("not_signed_in", "sign in to sync")
}

/// A case id from the app. Text that is not a UUID names no case: `case_not_found`, the same
/// as an unknown UUID, so apps handle one code.
pub(crate) fn case_id_of(text: &str) -> Result<CaseId, FieldError> {
    text.trim()
        .parse()
        .map_err(|_| FieldError::case_not_found(text))
}
