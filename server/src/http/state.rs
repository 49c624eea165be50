//! The router's state: the [`Center`] every domain function takes, plus what only HTTP
//! needs (the ingest queue's handle, signing keys, request limits, sign-in throttling,
//! metrics, the shutdown signal). It dereferences to the [`Center`], so a handler passes
//! `&state` where a domain function wants `&Center`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use metrics_exporter_prometheus::PrometheusHandle;

use super::budget::BodyBudget;
use super::public_limits::{PublicLimits, PublicThrottle};
use super::throttle::LoginThrottle;
use crate::auth::Keys;
use crate::ingest::Ingest;
use crate::state::Center;

pub use super::session::SessionLimits;
pub use super::throttle::LoginLimits;

/// Shared by every request; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub center: Center,
    /// Pushes go through the group-committing ingest task.
    pub ingest: Ingest,
    /// Turns `true` when shutdown begins: endless responses (the live feed) end, so the
    /// graceful shutdown only waits for real work such as syncs.
    pub closing: tokio::sync::watch::Sender<bool>,
    pub keys: Arc<Keys>,
    pub metrics: Option<PrometheusHandle>,
    pub limits_http: HttpLimits,
    /// Failed sign-ins per account and address, and per address (see
    /// [`super::throttle`]).
    pub throttle: Arc<LoginThrottle>,
    /// Bytes of `/v1/sync` bodies being read right now, against
    /// [`HttpLimits::sync_bodies_in_flight`].
    pub sync_bodies: Arc<BodyBudget>,
    /// Requests to the citizens' pages per address and codes per mobile
    /// ([`HttpLimits::public`]).
    pub public_throttle: Arc<PublicThrottle>,
    /// Evidence bytes: the object store and its limits.
    pub evidence: crate::evidence::Evidence,
}

impl std::ops::Deref for AppState {
    type Target = Center;
    fn deref(&self) -> &Center {
        &self.center
    }
}

impl FromRef<AppState> for LoginLimits {
    fn from_ref(state: &AppState) -> LoginLimits {
        state.limits_http.login
    }
}

/// Request limits: body sizes (413 `body_too_large` past them), bodies in flight, connection
/// timeouts and sign-in throttling.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// `/v1/sync` bodies (compressed). The decoded CBOR is bounded by `DecodeLimits`.
    pub sync_body_bytes: usize,
    /// Total bytes of `/v1/sync` bodies read at once, over every connection; past it a sync
    /// is answered 503 `busy` with `Retry-After` before its body is read. Default 64 MiB.
    pub sync_bodies_in_flight: usize,
    /// Every other body (JSON), on every route.
    pub json_body_bytes: usize,
    /// Failed sign-ins per account and client address.
    pub login: LoginLimits,
    /// How long a client may take to send its request, and keep an idle connection.
    pub timeouts: Timeouts,
    /// Console sessions: idle and absolute limits, `Secure` cookies.
    pub session: SessionLimits,
    /// The citizens' pages: requests per address, codes per mobile.
    pub public: PublicLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            sync_body_bytes: 16 << 20,
            sync_bodies_in_flight: 64 << 20,
            json_body_bytes: 256 << 10,
            login: LoginLimits::default(),
            timeouts: Timeouts::default(),
            session: SessionLimits::default(),
            public: PublicLimits::default(),
        }
    }
}

/// Connection timeouts (see [`crate::http::conn`]): a client holds a connection only while it
/// keeps sending or has a request being answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From a connection's opening, or the first byte of a request on a kept-alive one, until
    /// its whole header has arrived. Default 20 s.
    pub header: Duration,
    /// A request body gets this long, plus one second per [`Timeouts::body_min_rate`] bytes
    /// received (Apache's `mod_reqtimeout` rule): a slow 2G phone keeps going, a client
    /// trickling bytes or stalling is answered 408 `body_timeout` and disconnected.
    /// Default 30 s.
    pub body: Duration,
    /// Bytes per second that extend the body's time. Default 500.
    pub body_min_rate: u64,
    /// A kept-alive connection with no request is closed after this. Default 75 s.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(20),
            body: Duration::from_secs(30),
            body_min_rate: 500,
            idle: Duration::from_secs(75),
        }
    }
}
