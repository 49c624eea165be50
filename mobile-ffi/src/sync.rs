//! What a sync did, and what is still waiting for the center.

use gridsync_core::store as st;

/// Work not yet acknowledged by the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct PendingCounts {
    /// Cases with unacknowledged changes.
    pub cases: u32,
    /// Unacknowledged changes.
    pub changes: u32,
}

/// A case whose changes the center refused (scope, permission). They stay in the outbox;
/// the case's `CaseDetail.rejection` says the same.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct RejectedCase {
    pub case_id: String,
    /// `out_of_scope`, `event_not_permitted`, `actor_not_bound`, `malformed_change`,
    /// `too_large`, `internal`.
    pub code: String,
    pub message: String,
}

/// What one sync did (for `sync`: all its exchanges together).
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record, serde::Serialize)]
pub struct SyncReport {
    /// Outbox changes the center acknowledged.
    pub acked_changes: u32,
    /// Changes received from the center.
    pub pulled_changes: u32,
    /// Cases changed by the center's changes (refresh them on screen).
    pub updated_cases: Vec<String>,
    /// Cases that arrived for the first time (newly in this device's scope).
    pub new_cases: Vec<String>,
    pub rejected: Vec<RejectedCase>,
    /// Cases that left this device's scope and were removed from it.
    pub purged: Vec<String>,
    /// Cases that left the scope but still have unsent work; removed once it is sent.
    pub purge_pending: Vec<String>,
    /// There is more to exchange: call again (`sync` stops after many rounds).
    pub more: bool,
    /// Outbox changes still unacknowledged.
    pub unsent_changes: u32,
    /// HTTP exchanges made (1 for `apply_sync_response`).
    pub rounds: u32,
    /// Cases some of whose changes the center acknowledged (their "unsent" mark goes).
    pub sent_cases: Vec<String>,
}

impl From<st::Pending> for PendingCounts {
    fn from(p: st::Pending) -> Self {
        PendingCounts {
            cases: p.cases,
            changes: p.changes,
        }
    }
}

impl From<st::SyncReport> for SyncReport {
    fn from(r: st::SyncReport) -> Self {
        let ids = |v: Vec<gridsync_core::case::CaseId>| v.iter().map(|i| i.to_string()).collect();
        SyncReport {
            acked_changes: r.acked_changes,
            pulled_changes: r.pulled_changes,
            updated_cases: ids(r.updated_cases),
            new_cases: ids(r.new_cases),
            rejected: r
                .rejected
                .into_iter()
                .map(|x| RejectedCase {
                    case_id: x.case_id.to_string(),
                    code: x.code,
                    message: x.message,
                })
                .collect(),
            purged: ids(r.purged),
            purge_pending: ids(r.purge_pending),
            more: r.more,
            unsent_changes: r.unsent_changes,
            rounds: 1,
            sent_cases: ids(r.sent_cases),
        }
    }
}

impl SyncReport {
    /// Adds the next exchange's report (the core's `sync_via` merges the same way).
    pub(crate) fn merge(&mut self, next: SyncReport) {
        self.acked_changes = self.acked_changes.saturating_add(next.acked_changes);
        self.pulled_changes = self.pulled_changes.saturating_add(next.pulled_changes);
        // A case paged over several rounds is listed once.
        for id in next.updated_cases {
            if !self.updated_cases.contains(&id) {
                self.updated_cases.push(id);
            }
        }
        for id in next.new_cases {
            if !self.new_cases.contains(&id) {
                self.new_cases.push(id);
            }
        }
        self.rejected.extend(next.rejected);
        self.purged.extend(next.purged);
        self.purge_pending = next.purge_pending;
        self.more = next.more;
        self.unsent_changes = next.unsent_changes;
        self.rounds = self.rounds.saturating_add(next.rounds);
        for id in next.sent_cases {
            if !self.sent_cases.contains(&id) {
                self.sent_cases.push(id);
            }
        }
    }
}
