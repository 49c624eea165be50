//! Telling the app what changed: case observers and the sync status.
//!
//! An app registers a [`CaseObserver`] (the case list, an open case screen) and a
//! [`SyncStatusObserver`] (a sync badge) on its `FieldClient`. They are called, in the order
//! the changes happened, on one background thread of the client's ("gridsync-observers"),
//! after the change is committed: never inside a store transaction or under a lock of the
//! client, so a listener may call back into the client (read the case it was told about,
//! even start a sync), and a slow listener delays only later notices, never a read or a
//! write; changes that pile up meanwhile reach it as one call (and sync progress within one
//! state as its latest). A listener that panics (or, in Kotlin and Swift, throws) is caught
//! and counted; the store is untouched: the change it was told about is already on disk.
//! Post to the UI thread from the listener (Kotlin `Flow`s and Swift `AsyncSequence`s do).
//!
//! The bindings' `docs/mobile.md` turns each into a Kotlin `Flow` and a Swift
//! `AsyncSequence` in a few lines.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use gridsync_core::store::FieldStore;

use crate::sync::PendingCounts;

/// Why a case changed on this phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeReason {
    /// Recorded on this phone.
    Recorded,
    /// Its fields, parties, notes or an installment changed on this phone.
    Edited,
    /// A workflow step was taken on this phone (submit, sign for, resolve, ...).
    StepTaken,
    /// The center's changes arrived (a dispatch, another device's note) or the case came
    /// into this device's scope.
    SyncedIn,
    /// The center acknowledged this phone's changes of the case (its "unsent" mark goes).
    Sent,
    /// The center now holds one of the case's attachments whole (`evidence_uploads`).
    EvidenceSent,
    /// The center refused this phone's changes of the case (`CaseDetail.rejection`).
    Refused,
    /// The case left this device's scope and was removed from the phone.
    Removed,
    /// The center revoked this device: every case was wiped.
    Revoked,
    /// The app wiped the store.
    Wiped,
}

/// One case that changed, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct CaseChange {
    pub case_id: String,
    pub reason: ChangeReason,
}

/// Told of the cases that changed, after every local write and every applied sync
/// response. Never called inside a store transaction or while the client holds a lock.
#[uniffi::export(callback_interface)]
pub trait CaseObserver: Send + Sync {
    fn cases_changed(&self, changes: Vec<CaseChange>);
}

/// Told of every change of the sync status (see [`SyncStatus`]).
#[uniffi::export(callback_interface)]
pub trait SyncStatusObserver: Send + Sync {
    fn sync_status_changed(&self, status: SyncStatus);
}

/// Where syncing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    /// Nothing running; the last sync (if any) succeeded.
    Idle,
    /// A `sync` call is exchanging with the center (`round`, bytes so far).
    Syncing,
    /// The last sync could not reach the center (`network`, `timeout`) or the center
    /// failed (`http_5xx`, `rate_limited`, ...): retry at `next_sync_after`.
    Offline,
    /// The center no longer accepts this device's session, or nobody signed in: ask the
    /// user to sign in. Recording offline goes on.
    SignInNeeded,
    /// The center revoked this device; the store has been wiped. Terminal.
    DeviceRevoked,
}

/// The sync status: what an app's badge, pull-to-refresh and background job need.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct SyncStatus {
    pub state: SyncState,
    /// The exchange under way (while `SYNCING`), or the last sync's count of exchanges.
    pub round: u32,
    /// Request body bytes sent by the running (or last) sync, compressed as on the wire.
    pub bytes_sent: u64,
    /// Response body bytes received by the running (or last) sync.
    pub bytes_received: u64,
    /// When a sync last completed (ms since the epoch).
    pub last_success_at: Option<i64>,
    /// When a sync last started.
    pub last_attempt_at: Option<i64>,
    /// The code of the last sync's failure (`network`, `token_expired`, ...); `None` after a
    /// success.
    pub last_error_code: Option<String>,
    /// Syncs that failed in a row (0 after a success): `next_sync_after` backs off by it.
    pub consecutive_failures: u32,
    /// Work the center has not acknowledged.
    pub pending: PendingCounts,
    /// Attachments not yet held whole by the center (waiting for a sync, or uploading).
    pub evidence_pending: u32,
    /// Their bytes in all, and how many of those the center has confirmed: the total
    /// progress bar (per file: `evidence_uploads`).
    pub evidence_bytes: u64,
    pub evidence_bytes_sent: u64,
}

/// What survives a restart (stored in the store's settings as one JSON value).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Persisted {
    pub(crate) last_success_at: Option<i64>,
    pub(crate) last_attempt_at: Option<i64>,
    pub(crate) last_error_code: Option<String>,
    pub(crate) consecutive_failures: u32,
    pub(crate) revoked: bool,
    pub(crate) rounds: u32,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    /// Changes still unacknowledged when the last sync ended (refused or waiting on the
    /// center): only work beyond these calls for a sync right away.
    #[serde(default)]
    pub(crate) unsent_after_sync: u32,
}

const STATUS_KEY: &str = "sync_status";

impl Persisted {
    pub(crate) fn load(store: &FieldStore) -> Persisted {
        store
            .setting(STATUS_KEY)
            .ok()
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default()
    }

    /// Best effort: the status is advice for the app, and a full disk must not turn a
    /// successful sync into an error.
    pub(crate) fn save(&self, store: &FieldStore) {
        if let Ok(json) = serde_json::to_string(self) {
            let _ = store.set_setting(STATUS_KEY, Some(&json));
        }
    }
}

/// The periodic sync when nothing is waiting: WorkManager's shortest periodic interval.
pub(crate) const PERIODIC_SYNC_MS: i64 = 15 * 60 * 1000;
/// The first retry after a failure; doubled per failure in a row.
pub(crate) const FIRST_RETRY_MS: i64 = 30 * 1000;
/// The longest wait between retries.
pub(crate) const MAX_RETRY_MS: i64 = 60 * 60 * 1000;

/// When to sync next (ms since the epoch), or `None` when syncing cannot help until the
/// user acts (sign in again; a revoked device). Now when work was written since the last
/// sync ended; the periodic sync otherwise; after failures, a backoff. `jitter_seed` spreads a fleet's retries
/// (the device id's hash): up to a fifth of the wait is added.
pub(crate) fn next_sync_after(
    p: &Persisted,
    state: SyncState,
    pending_changes: u32,
    now: i64,
    jitter_seed: u64,
) -> Option<i64> {
    match state {
        SyncState::SignInNeeded | SyncState::DeviceRevoked => None,
        SyncState::Syncing => Some(now),
        SyncState::Idle | SyncState::Offline if p.consecutive_failures > 0 => {
            let doublings = (p.consecutive_failures - 1).min(20);
            let wait = (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS);
            let jitter = i64::try_from(jitter_seed % 1000).unwrap_or(0) * (wait / 5) / 1000;
            Some(p.last_attempt_at.unwrap_or(now) + wait + jitter)
        }
        _ if pending_changes > p.unsent_after_sync => Some(now),
        _ => Some(p.last_success_at.map_or(now, |t| t + PERIODIC_SYNC_MS)),
    }
}

/// The registered listeners and the thread that calls them. Notices go through a channel
/// to one delivery thread per client (started with the first listener), in order: a
/// write never waits for a listener, a listener never runs under a lock of the client or
/// inside a store transaction, and a listener may call back into the client (even sync).
pub(crate) struct Observers {
    registry: Arc<Registry>,
    sender: Mutex<Option<mpsc::Sender<Notice>>>,
}

struct Registry {
    next_id: AtomicU64,
    cases: Mutex<Vec<(u64, Arc<dyn CaseObserver>)>>,
    status: Mutex<Vec<(u64, Arc<dyn SyncStatusObserver>)>>,
    failures: AtomicU64,
}

enum Notice {
    Cases(Vec<CaseChange>),
    Status(SyncStatus),
    /// Answered once everything sent before it was delivered.
    Flush(mpsc::Sender<()>),
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observers")
            .field("cases", &lock(&self.registry.cases).len())
            .field("status", &lock(&self.registry.status).len())
            .finish()
    }
}

impl Observers {
    pub(crate) fn new() -> Self {
        Observers {
            registry: Arc::new(Registry {
                next_id: AtomicU64::new(1),
                cases: Mutex::new(Vec::new()),
                status: Mutex::new(Vec::new()),
                failures: AtomicU64::new(0),
            }),
            sender: Mutex::new(None),
        }
    }

    pub(crate) fn add_case_observer(&self, o: Box<dyn CaseObserver>) -> u64 {
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.registry.cases).push((id, Arc::from(o)));
        id
    }

    pub(crate) fn add_status_observer(&self, o: Box<dyn SyncStatusObserver>) -> u64 {
        let id = self.registry.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.registry.status).push((id, Arc::from(o)));
        id
    }

    /// Removes a listener of either kind; `false` if the id names none. Notices already
    /// queued may still reach it.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut found = false;
        lock(&self.registry.cases).retain(|(i, _)| {
            found |= *i == id;
            *i != id
        });
        lock(&self.registry.status).retain(|(i, _)| {
            found |= *i == id;
            *i != id
        });
        found
    }

    pub(crate) fn has_status_observers(&self) -> bool {
        !lock(&self.registry.status).is_empty()
    }

    /// Listener calls that panicked (or threw in the app's language).
    pub(crate) fn failures(&self) -> u64 {
        self.registry.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn cases_changed(&self, changes: Vec<CaseChange>) {
        if !changes.is_empty() && !lock(&self.registry.cases).is_empty() {
            self.send(Notice::Cases(changes));
        }
    }

    pub(crate) fn status_changed(&self, status: SyncStatus) {
        if self.has_status_observers() {
            self.send(Notice::Status(status));
        }
    }

    /// Waits until every notice sent so far has been delivered, at most `timeout`; `false`
    /// when it ran out.
    pub(crate) fn flush(&self, timeout: std::time::Duration) -> bool {
        let (done, wait) = mpsc::channel();
        self.send(Notice::Flush(done));
        wait.recv_timeout(timeout).is_ok()
    }

    fn send(&self, notice: Notice) {
        let mut sender = lock(&self.sender);
        if sender.is_none() {
            let (tx, rx) = mpsc::channel::<Notice>();
            // Weak: the listeners are released by whoever drops the client, not on this
            // thread (in Python, releasing a callback at interpreter exit from a thread of
            // ours would end that thread inside the interpreter).
            let registry = Arc::downgrade(&self.registry);
            let spawned = std::thread::Builder::new()
                .name("gridsync-observers".into())
                // Ends when the client (and with it the sender) is dropped.
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        // What piled up while the last listener ran goes out together:
                        // a burst of writes (or a paged sync) is one call, not hundreds.
                        let batch = coalesce(first, &rx);
                        let Some(r) = registry.upgrade() else {
                            break;
                        };
                        for notice in batch {
                            r.deliver(notice);
                        }
                    }
                });
            match spawned {
                Ok(_) => *sender = Some(tx),
                // No thread to be had: deliver on the caller's thread, still unlocked.
                Err(_) => {
                    drop(sender);
                    self.registry.deliver(notice);
                    return;
                }
            }
        }
        if let Some(tx) = sender.as_ref() {
            // The thread only stops when the sender is dropped, so this does not fail.
            let _ = tx.send(notice);
        }
    }
}

/// `first` and whatever is already queued behind it, in order, with neighbouring case
/// notices joined into one and neighbouring statuses of the same state reduced to the
/// latest.
fn coalesce(first: Notice, rx: &mpsc::Receiver<Notice>) -> Vec<Notice> {
    let mut out = vec![first];
    while let Ok(next) = rx.try_recv() {
        match (out.last_mut(), next) {
            (Some(Notice::Cases(changes)), Notice::Cases(more)) => changes.extend(more),
            // Progress within one state is conflated; every change of state is told.
            (Some(Notice::Status(status)), Notice::Status(newer))
                if status.state == newer.state =>
            {
                *status = newer
            }
            (_, next) => out.push(next),
        }
    }
    out
}

impl Registry {
    fn deliver(&self, notice: Notice) {
        match notice {
            Notice::Cases(changes) => {
                let listeners: Vec<_> = lock(&self.cases).iter().map(|(_, o)| o.clone()).collect();
                for o in listeners {
                    let changes = changes.clone();
                    self.guard(|| o.cases_changed(changes));
                }
            }
            Notice::Status(status) => {
                let listeners: Vec<_> = lock(&self.status).iter().map(|(_, o)| o.clone()).collect();
                for o in listeners {
                    let status = status.clone();
                    self.guard(|| o.sync_status_changed(status));
                }
            }
            Notice::Flush(done) => {
                let _ = done.send(());
            }
        }
    }

    fn guard(&self, call: impl FnOnce()) {
        // A foreign exception reaches Rust as a panic of the generated callback code.
        if catch_unwind(AssertUnwindSafe(call)).is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The changes one local write makes.
pub(crate) fn one(case_id: impl ToString, reason: ChangeReason) -> Vec<CaseChange> {
    vec![CaseChange {
        case_id: case_id.to_string(),
        reason,
    }]
}

/// The changes an applied sync response makes, from its report.
pub(crate) fn from_report(r: &crate::sync::SyncReport) -> Vec<CaseChange> {
    let mut out = Vec::new();
    let mut push = |ids: &[String], reason| {
        for id in ids {
            out.push(CaseChange {
                case_id: id.clone(),
                reason,
            });
        }
    };
    push(&r.new_cases, ChangeReason::SyncedIn);
    push(&r.updated_cases, ChangeReason::SyncedIn);
    push(&r.sent_cases, ChangeReason::Sent);
    let refused: Vec<String> = r.rejected.iter().map(|x| x.case_id.clone()).collect();
    push(&refused, ChangeReason::Refused);
    push(&r.purged, ChangeReason::Removed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_sign_in_stops_them() {
        let mut p = Persisted {
            last_success_at: Some(1_000),
            ..Persisted::default()
        };
        // Nothing waiting: the periodic sync.
        assert_eq!(
            next_sync_after(&p, SyncState::Idle, 0, 5_000, 0),
            Some(1_000 + PERIODIC_SYNC_MS)
        );
        // Work waiting: now.
        assert_eq!(
            next_sync_after(&p, SyncState::Idle, 3, 5_000, 0),
            Some(5_000)
        );
        // Failures double the wait, up to an hour, plus at most a fifth of jitter.
        p.last_attempt_at = Some(10_000);
        let waits: Vec<i64> = [1, 2, 3, 30]
            .iter()
            .map(|&n| {
                p.consecutive_failures = n;
                next_sync_after(&p, SyncState::Offline, 3, 10_000, 0).unwrap() - 10_000
            })
            .collect();
        assert_eq!(waits, [30_000, 60_000, 120_000, MAX_RETRY_MS]);
        p.consecutive_failures = 1;
        let jittered = next_sync_after(&p, SyncState::Offline, 0, 10_000, 999).unwrap();
        assert!(
            jittered > 40_000 && jittered <= 10_000 + 36_000,
            "{jittered}"
        );
        assert_eq!(next_sync_after(&p, SyncState::SignInNeeded, 3, 0, 0), None);
        assert_eq!(next_sync_after(&p, SyncState::DeviceRevoked, 3, 0, 0), None);
    }

    struct Panics;
    impl CaseObserver for Panics {
        fn cases_changed(&self, _: Vec<CaseChange>) {
            panic!("a listener's bug");
        }
    }

    #[test]
    fn a_panicking_listener_is_counted_and_the_others_still_hear() {
        let o = Observers::new();
        let heard = Arc::new(Mutex::new(Vec::new()));
        struct Keeps(Arc<Mutex<Vec<CaseChange>>>);
        impl CaseObserver for Keeps {
            fn cases_changed(&self, c: Vec<CaseChange>) {
                self.0.lock().unwrap().extend(c);
            }
        }
        let panicking = o.add_case_observer(Box::new(Panics));
        o.add_case_observer(Box::new(Keeps(heard.clone())));
        o.cases_changed(one("c1", ChangeReason::Edited));
        assert!(o.flush(std::time::Duration::from_secs(10)));
        assert_eq!(o.failures(), 1);
        assert_eq!(heard.lock().unwrap().len(), 1);
        assert!(o.remove(panicking));
        assert!(!o.remove(panicking));
        o.cases_changed(one("c2", ChangeReason::Edited));
        assert!(o.flush(std::time::Duration::from_secs(10)));
        assert_eq!((o.failures(), heard.lock().unwrap().len()), (1, 2));
    }
}
