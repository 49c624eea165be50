//! What every handler shares.

use std::sync::Arc;

use automerge::ActorId;
use gridsync_core::clock::Clock;
use gridsync_core::workflow::TimeLimits;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::Keys;
use crate::db::Db;

/// Shared by every request; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    /// Pushes go through the group-committing ingest task.
    pub ingest: crate::ingest::Ingest,
    /// Warnings and alerts as they happen, for `GET /v1/events` subscribers.
    pub live: tokio::sync::broadcast::Sender<crate::warnings::LiveEvent>,
    /// Turns `true` when shutdown begins: endless responses (the live feed) end, so the
    /// graceful shutdown only waits for real work such as syncs.
    pub closing: tokio::sync::watch::Sender<bool>,
    pub keys: Arc<Keys>,
    pub clock: Arc<dyn Clock>,
    pub limits: TimeLimits,
    /// This process's Automerge actor: fresh at every start, never reused (center-side
    /// edits of documents are authored under it).
    pub actor: ActorId,
    pub metrics: Option<PrometheusHandle>,
    pub limits_http: HttpLimits,
    /// Failed sign-ins per account and per address (see [`crate::http::throttle`]).
    pub throttle: Arc<crate::http::throttle::LoginThrottle>,
}

pub use crate::http::throttle::LoginLimits;

/// Request limits: body sizes (413 `body_too_large` past them) and sign-in throttling.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// `/v1/sync` bodies (compressed). The decoded CBOR is bounded by `DecodeLimits`.
    pub sync_body_bytes: usize,
    /// Every other body (JSON), on every route.
    pub json_body_bytes: usize,
    /// Failed sign-ins per account and per client address.
    pub login: LoginLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            sync_body_bytes: 16 << 20,
            json_body_bytes: 256 << 10,
            login: LoginLimits::default(),
        }
    }
}
