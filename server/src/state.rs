//! What every part of the center shares: the database, the clock, this process's actor,
//! the default time limits and the live feed. Below every domain module (each takes a
//! [`Center`]); the HTTP layer wraps it in its own `AppState`.

use std::sync::Arc;

use automerge::ActorId;
use gridsync_core::clock::Clock;
use gridsync_core::workflow::TimeLimits;

use crate::db::Db;
use crate::live::LiveEvent;

/// The center's shared handles; cheap to clone.
#[derive(Clone, Debug)]
pub struct Center {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// The county's time zone: calendar days of case numbers and statistics.
    pub county_time: crate::county_time::CountyTime,
    /// Time limits where no configured rule applies.
    pub limits: TimeLimits,
    /// This process's Automerge actor: fresh at every start, never reused (center-side
    /// edits of documents are authored under it).
    pub actor: ActorId,
    /// Warnings and alerts as they happen, for `GET /v1/events` subscribers.
    pub live: tokio::sync::broadcast::Sender<LiveEvent>,
    /// Cases as last read, by their last change (my tasks re-folds them from here).
    pub cases: crate::case_cache::CaseCache,
    /// Messages to people and "sync now" signals to phones, queued and sent in the
    /// background (`crate::notify`).
    pub notify: crate::notify::Notifier,
    /// The center's own signing key: signs the changes it writes and its evidence bundles.
    pub key: crate::signing::CenterKey,
    /// Pushed changes must be signed (`signature_required` otherwise).
    pub require_signatures: bool,
}
