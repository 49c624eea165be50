//! gridsync-server: the county comprehensive governance center (综治中心) server.
//!
//! Phones merge their case documents into it over `POST /v1/sync` (CBOR, zstd); it keeps the
//! append-only change log, periodic document snapshots and a projection of every case into
//! indexed columns, on embedded SQLite by default or PostgreSQL in production (the same
//! code through sqlx's `Any` driver). Accounts are users in an organisation tree keyed by
//! area code; phones hold short-lived JWTs and rotating device-bound refresh tokens.
//!
//! [`open`] builds the state (database, migrations, keys, first-start bootstrap), [`app`]
//! the router, [`serve`] runs it until a shutdown signal, finishing in-flight requests.
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod case_cache;
pub mod center;
pub mod citizens;
pub mod county_time;
pub mod db;
pub mod demo;
mod error;
pub mod evidence;
pub mod http;
pub mod ingest;
pub mod live;
pub mod notify;
pub mod policy;
pub mod pull;
mod secrets;
pub mod signing;
pub mod state;
pub mod stats;
pub mod sync;

use std::sync::{Arc, OnceLock};

use gridsync_core::clock::Clock;
use gridsync_core::workflow::{Role, TimeLimits};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use error::{Error, Result};
pub use evidence::Evidence;
pub use http::state::{AppState, HttpLimits, LoginLimits, SessionLimits, Timeouts};
pub use state::Center;

/// How to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://FILE?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// HS256 signing keys, one per line: the first signs, the others (previous keys, kept
    /// through a rotation) are still accepted. `None`: keys are generated and kept in the
    /// database (`gridsync admin rotate-jwt-key` rotates them).
    pub jwt_secret: Option<String>,
    /// Load the demo county into an empty database.
    pub demo: bool,
    /// Run the warning scanner every this often (`None`: not at all; tests call
    /// [`center::warnings::scan_once`] themselves).
    pub scan_every: Option<std::time::Duration>,
    /// The county's IANA time zone (`Asia/Shanghai` by default): case numbers, the days
    /// and months of statistics and export dates. An unknown name fails [`open`].
    pub time_zone: String,
    /// Refuse unsigned pushed changes (`signature_required`) instead of accepting them
    /// (issue 17; `gridsync serve --require-signatures`). Off while older apps are about.
    pub require_signatures: bool,
}

/// Where evidence bytes live and how much may arrive (see [`evidence`]).
#[derive(Clone, Debug, Default)]
pub struct EvidenceConfig {
    /// `None`: `evidence/` beside the SQLite database (created `0700`).
    pub location: Option<evidence::store::Location>,
    pub limits: evidence::Limits,
    /// Run the evidence collector every this often (`None`: not at all; tests call
    /// [`evidence::collect::collect_once`] themselves).
    pub collect_every: Option<std::time::Duration>,
}

/// What the first start did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The database had users already.
    Existing,
    /// The demo county was loaded.
    Demo,
    /// An empty database got one admin; the password is shown once.
    Admin { username: String, password: String },
}

/// Opens the database (creating and migrating it), loads keys and bootstraps accounts;
/// evidence goes beside the database with the default limits.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> Result<(AppState, Bootstrap)> {
    open_with(config, &EvidenceConfig::default(), clock).await
}

/// [`open`], with the evidence store and its limits given.
pub async fn open_with(
    config: &Config,
    evidence_config: &EvidenceConfig,
    clock: Arc<dyn Clock>,
) -> Result<(AppState, Bootstrap)> {
    // Refused before anything is opened or written.
    let county_time = county_time::CountyTime::parse(&config.time_zone)?;
    let location = evidence_config
        .location
        .clone()
        .unwrap_or_else(|| evidence::store::Location::beside(&config.database_url));
    let evidence = evidence::Evidence::open(&location, evidence_config.limits)?;
    let db = db::Db::connect(&config.database_url).await?;
    let now = clock.now().0;
    let (keys, from_database) = match &config.jwt_secret {
        Some(given) => (auth::Keys::from_lines(given)?, false),
        None => (auth::Keys::load(&db, now).await?, true),
    };
    let keys = Arc::new(keys);
    let bootstrap = if config.demo {
        if demo::seed(&db, now).await? {
            Bootstrap::Demo
        } else {
            Bootstrap::Existing
        }
    } else if db.user_count().await? == 0 {
        let password = auth::random_secret();
        create_admin(&db, "admin", &password, now).await?;
        Bootstrap::Admin {
            username: "admin".into(),
            password,
        }
    } else {
        Bootstrap::Existing
    };
    // This process's actor: reserved before any device can bind it.
    let actor = automerge::ActorId::random();
    db.reserve_actor(&actor.to_hex_string(), now).await?;
    // The center's own signing key, made at the database's first start.
    let key = signing::CenterKey::load(&db, now).await?;
    let (live, _) = tokio::sync::broadcast::channel(1024);
    let center = Center {
        key,
        require_signatures: config.require_signatures,
        db,
        clock,
        county_time,
        limits: TimeLimits::default(),
        actor,
        live,
        cases: crate::case_cache::CaseCache::default(),
        // Logs until configured (`gridsync serve --sms-url ...`; tests: their fake gateway).
        notify: notify::Notifier::default(),
    };
    let (ingest, committer) = ingest::Ingest::new(center.clone());
    tokio::spawn(ingest::run(committer));
    let (closing, _) = tokio::sync::watch::channel(false);
    let state = AppState {
        center,
        ingest,
        closing,
        keys: keys.clone(),
        metrics: Some(metrics_handle()),
        limits_http: HttpLimits::default(),
        throttle: Arc::default(),
        sync_bodies: Arc::default(),
        public_throttle: Arc::default(),
        evidence,
    };
    // `gridsync admin rotate-signing-key` may retire the center's key under us.
    tokio::spawn(signing::reload_every(
        state.db.clone(),
        state.key.clone(),
        signing::RELOAD_EVERY,
    ));
    if from_database {
        // Another process (or `gridsync admin rotate-jwt-key`) may rotate the keys.
        tokio::spawn(auth::reload_keys_every(
            state.db.clone(),
            state.clock.clone(),
            keys,
            auth::KEY_RELOAD_EVERY,
        ));
    }
    // Queued messages go out at once; the workflow's are looked for every
    // `NotifyConfig::every` (`citizens::tick`).
    tokio::spawn(citizens::run(state.center.clone()));
    if let Some(every) = config.scan_every {
        tokio::spawn(center::warnings::run(state.center.clone(), every));
    }
    if let Some(every) = evidence_config.collect_every {
        tokio::spawn(evidence::collect::run(
            state.center.clone(),
            state.evidence.clone(),
            every,
        ));
    }
    Ok((state, bootstrap))
}

/// The first admin of a fresh installation, in a root organisation to be renamed.
async fn create_admin(db: &db::Db, username: &str, password: &str, now: i64) -> Result<()> {
    if db.org("root").await?.is_none() {
        db.create_org(
            &db::accounts::Org {
                id: "root".into(),
                parent_id: None,
                name: "综治中心 (rename me)".into(),
                kind: "CENTER".into(),
                tier: gridsync_core::workflow::Tier::County,
                area_code: "000000000000".into(),
                scope_prefix: None,
            },
            now,
        )
        .await?;
    }
    let user = db::accounts::User {
        id: format!("u-{username}"),
        username: username.into(),
        display_name: "Administrator".into(),
        role: Role::Admin,
        org_id: "root".into(),
        active: true,
    };
    db.create_user(&user, &auth::hash_password(password), now)
        .await
}

/// The process-wide Prometheus recorder (installed once; tests start many servers).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("gridsync_sync_seconds".into()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
                .expect("valid buckets");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed by an embedding program; then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The HTTP application.
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

/// Serves until `shutdown` resolves; in-flight requests (syncs) finish first. Connections
/// are timed by `state.limits_http.timeouts` (see [`http::conn`]).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.closing.clone();
    let timeouts = state.limits_http.timeouts;
    http::conn::serve(app(state), listener, timeouts, shutdown, move || {
        // Endless responses (the live feed) end now; syncs in flight finish.
        let _ = closing.send(true);
    })
    .await
}
