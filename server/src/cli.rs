//! The `gridsync` command line: `serve`, `admin`, `field`, `verify`.

mod admin;
mod field;
mod verify;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use clap::{Args, Parser, Subcommand};
use gridsync_core::clock::SystemClock;
use gridsync_server::Timeouts;
use gridsync_server::{Bootstrap, Config};

/// The default database: an SQLite file in the working directory, created on first start.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://gridsync.db?mode=rwc";

#[derive(Debug, Parser)]
#[command(
    name = "gridsync",
    version,
    about = "gridsync: the county center server for offline dispute records"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once at start: the size of `serve`'s many flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the center server.
    Serve(ServeArgs),
    /// Manage organisations, users and devices directly in the database.
    Admin(admin::AdminArgs),
    /// A grid worker's phone on the command line (the apps' own client and store).
    Field(field::FieldArgs),
    /// Check an evidence bundle offline and print its verified history (exit code 3 and
    /// the place named if any byte of it was changed).
    Verify(verify::VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "GRIDSYNC_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Database: `sqlite://FILE?mode=rwc` (embedded, created mode 0600 with its tables on
    /// first start) or `postgres://USER@HOST/DB` (production; migrations applied at start).
    #[arg(long, env = "GRIDSYNC_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Access-token signing keys (≥ 16 characters each), one per line: the first signs, the
    /// others still verify (a rotation keeps the previous key for 15 minutes). Prefer the
    /// environment variable or `--jwt-key-file`: command lines are visible to other users.
    /// Default: keys generated and kept in the database (`gridsync admin rotate-jwt-key`).
    #[arg(long, env = "GRIDSYNC_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Read the signing keys from this file (same format as `--jwt-secret`; keep it 0600;
    /// `gridsync admin rotate-jwt-key --key-file` rotates it).
    #[arg(
        long,
        env = "GRIDSYNC_JWT_KEY_FILE",
        conflicts_with = "jwt_secret",
        value_name = "PATH"
    )]
    jwt_key_file: Option<PathBuf>,
    /// On first start, write the administrator's generated password to this file (created
    /// 0600) instead of showing it on the terminal. It never goes to the logs.
    #[arg(long, env = "GRIDSYNC_ADMIN_PASSWORD_FILE", value_name = "PATH")]
    admin_password_file: Option<PathBuf>,
    /// Load the demo county (organisations and a user for every role, password
    /// `gridsync-demo`) into an empty database. Never on a real installation.
    #[arg(long, env = "GRIDSYNC_DEMO")]
    demo: bool,
    /// The county's time zone, an IANA name: case numbers carry the county's date, and
    /// statistics count its days and months. Resolved against the tz database built into
    /// the binary; an unknown name stops the start.
    #[arg(long, env = "GRIDSYNC_TIME_ZONE", default_value = gridsync_server::county_time::DEFAULT_TIME_ZONE)]
    time_zone: String,
    /// Refuse pushed changes that come unsigned (`signature_required`, that case only).
    /// Off by default while apps too old to sign are in use; a signed change with a bad
    /// signature is refused either way (`bad_signature`).
    #[arg(long, env = "GRIDSYNC_REQUIRE_SIGNATURES")]
    require_signatures: bool,
    /// Failed sign-ins for one account from one client address before each further
    /// failure doubles the wait (1 s, 2 s, ... 15 min; 429 `rate_limited` meanwhile).
    #[arg(
        long,
        env = "GRIDSYNC_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS",
        default_value_t = 5
    )]
    login_failures_per_account_address: u32,
    /// Failed sign-ins from one client address (any accounts) before the same backoff.
    #[arg(
        long,
        env = "GRIDSYNC_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 50
    )]
    login_failures_per_address: u32,
    /// Take the client address from the last X-Forwarded-For hop. Only behind a reverse
    /// proxy (the TLS terminator) that sets it: otherwise clients could pick their address.
    #[arg(long, env = "GRIDSYNC_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// MiB of `/v1/sync` bodies read at once, over all connections; past it syncs are
    /// answered 503 `busy` with Retry-After before their bodies are read.
    #[arg(long, env = "GRIDSYNC_SYNC_BODIES_IN_FLIGHT_MIB", default_value_t = 64)]
    sync_bodies_in_flight_mib: usize,
    /// Seconds a client has to send a request's header (from connecting, or from the
    /// header's first byte on a kept-alive connection); then the connection is closed.
    #[arg(long, env = "GRIDSYNC_HEADER_TIMEOUT", default_value_t = 20)]
    header_timeout: u64,
    /// Seconds a request body gets, plus one per `--body-min-rate` bytes received; a body
    /// that falls behind is answered 408 `body_timeout` and the connection closed.
    #[arg(long, env = "GRIDSYNC_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// Bytes per second that earn a request body one more second.
    #[arg(long, env = "GRIDSYNC_BODY_MIN_RATE", default_value_t = 500)]
    body_min_rate: u64,
    /// Seconds a kept-alive connection may sit without a request before it is closed.
    #[arg(long, env = "GRIDSYNC_IDLE_TIMEOUT", default_value_t = 75)]
    idle_timeout: u64,
    /// Send the console's session cookie with `Secure` (named `__Host-gridsync_session`).
    /// Set it whenever browsers reach the center over HTTPS (behind the TLS terminator);
    /// the cookie is then never sent over plain HTTP.
    #[arg(long, env = "GRIDSYNC_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Minutes a console session may go unused before it ends.
    #[arg(long, env = "GRIDSYNC_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: u64,
    /// Hours a console session lasts at most, however busy.
    #[arg(long, env = "GRIDSYNC_SESSION_HOURS", default_value_t = 12)]
    session_hours: u64,
    /// Seconds between two passes of the warning scanner (raises, escalates and clears
    /// warnings; automatic supervision). Short only for demonstrations and tests.
    #[arg(long, env = "GRIDSYNC_SCAN_EVERY_SECONDS", default_value_t = gridsync_server::center::warnings::SCAN_EVERY.as_secs())]
    scan_every_seconds: u64,
    /// The SMS gateway's URL (one JSON POST per message; see `gridsync_server::notify::sms`
    /// for the body, shaped for Aliyun and Tencent adapters). Unset: messages go to the
    /// log (kind, template and a pseudonym only), as in the demo.
    #[arg(long, env = "GRIDSYNC_SMS_URL", value_name = "URL")]
    sms_url: Option<String>,
    /// Sent to the gateway as `Authorization: Bearer …`.
    #[arg(long, env = "GRIDSYNC_SMS_TOKEN", hide_env_values = true)]
    sms_token: Option<String>,
    /// The SMS signature (签名) registered with the provider.
    #[arg(long, env = "GRIDSYNC_SMS_SIGN_NAME", default_value = "")]
    sms_sign_name: String,
    /// Template ids per message kind, `KIND=ID` separated by commas (`CODE=SMS_1,
    /// ACCEPTED=SMS_2`); kinds: CODE, ACCEPTED, DISPATCHED, RESOLVED, SURVEY, SIGN_YELLOW,
    /// SIGN_RED, HANDLE_YELLOW, HANDLE_RED, SUPERVISED. A kind not named uses its own name.
    #[arg(long, env = "GRIDSYNC_SMS_TEMPLATES", default_value = "")]
    sms_templates: String,
    /// The app's push webhook for content-free "sync now" signals. Unset: logged.
    #[arg(long, env = "GRIDSYNC_PUSH_URL", value_name = "URL")]
    push_url: Option<String>,
    /// Sent to the push webhook as `Authorization: Bearer …`.
    #[arg(long, env = "GRIDSYNC_PUSH_TOKEN", hide_env_values = true)]
    push_token: Option<String>,
    /// The citizens' pages' address as people reach it (`https://jiufen.example.gov.cn`):
    /// survey links and the poster's QR code. Unset: the request's host (QR code), a
    /// relative link (messages).
    #[arg(long, env = "GRIDSYNC_PUBLIC_URL", default_value = "")]
    public_url: String,
    /// Seconds between two passes looking for the messages the workflow owes (queued
    /// messages are sent at once).
    #[arg(long, env = "GRIDSYNC_NOTIFY_EVERY_SECONDS", default_value_t = 10)]
    notify_every_seconds: u64,
    /// Where evidence bytes (photos, recordings, documents) are kept: a directory, or
    /// `s3://bucket/prefix` with the endpoint and credentials from `AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (`AWS_ALLOW_HTTP=true` for
    /// a plain-HTTP endpoint). Default: `evidence/` beside the SQLite database, made 0700.
    #[arg(
        long,
        env = "GRIDSYNC_EVIDENCE_STORE",
        value_name = "DIR|s3://BUCKET/PREFIX"
    )]
    evidence_store: Option<String>,
    /// MiB one evidence file may have (413 `too_large` past it).
    #[arg(long, env = "GRIDSYNC_EVIDENCE_MAX_FILE_MIB", default_value_t = 25)]
    evidence_max_file_mib: u64,
    /// MiB of distinct evidence one case may hold.
    #[arg(long, env = "GRIDSYNC_EVIDENCE_MAX_CASE_MIB", default_value_t = 200)]
    evidence_max_case_mib: u64,
    /// MiB of evidence one device may upload per UTC day (429 `quota_exceeded` past it).
    #[arg(long, env = "GRIDSYNC_EVIDENCE_DEVICE_DAY_MIB", default_value_t = 300)]
    evidence_device_day_mib: u64,
    /// Days an unfinished upload may sit idle, and a blob no case holds may stay, before
    /// the evidence collector removes it.
    #[arg(long, env = "GRIDSYNC_EVIDENCE_GRACE_DAYS", default_value_t = 7)]
    evidence_grace_days: u64,
}

/// The Notifier's configuration from the flags.
fn notify_config(args: &ServeArgs) -> anyhow::Result<gridsync_server::notify::NotifyConfig> {
    use gridsync_server::notify::{Kind, NotifyConfig, PushChannel, SmsChannel, push, sms};
    let mut templates = std::collections::BTreeMap::new();
    for pair in args
        .sms_templates
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let (kind, id) = pair
            .split_once('=')
            .with_context(|| format!("--sms-templates: {pair:?} is not KIND=ID"))?;
        let kind = Kind::from_code(kind.trim())
            .with_context(|| format!("--sms-templates: unknown kind {:?}", kind.trim()))?;
        templates.insert(kind, id.trim().to_owned());
    }
    Ok(NotifyConfig {
        sms: match &args.sms_url {
            Some(url) => SmsChannel::Gateway(sms::Gateway {
                url: url.clone(),
                token: args.sms_token.clone(),
                sign_name: args.sms_sign_name.clone(),
            }),
            None => SmsChannel::Log,
        },
        push: match &args.push_url {
            Some(url) => PushChannel::Webhook(push::Webhook {
                url: url.clone(),
                token: args.push_token.clone(),
            }),
            None => PushChannel::Log,
        },
        templates,
        public_url: args.public_url.clone(),
        every: Duration::from_secs(args.notify_every_seconds.max(1)),
    })
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Field(args) => tokio::task::spawn_blocking(move || field::run(args)).await?,
        Command::Verify(args) => verify::run(args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let notify = notify_config(&args)?;
    let jwt_secret = match &args.jwt_key_file {
        Some(path) => {
            if gridsync_server::db::private::readable_by_others(path) {
                tracing::warn!(path = %path.display(), "the JWT key file is readable by other users; make it 0600");
            }
            Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the JWT key file {}", path.display()))?,
            )
        }
        None => args.jwt_secret,
    };
    let config = Config {
        database_url: args.database_url,
        jwt_secret,
        demo: args.demo,
        scan_every: Some(Duration::from_secs(args.scan_every_seconds.max(1))),
        time_zone: args.time_zone,
        require_signatures: args.require_signatures,
    };
    let evidence = gridsync_server::EvidenceConfig {
        location: args
            .evidence_store
            .as_deref()
            .map(gridsync_server::evidence::store::Location::parse),
        limits: gridsync_server::evidence::Limits {
            per_file: args.evidence_max_file_mib.saturating_mul(1 << 20),
            per_case: args.evidence_max_case_mib.saturating_mul(1 << 20),
            per_device_day: args.evidence_device_day_mib.saturating_mul(1 << 20),
            grace: Duration::from_secs(args.evidence_grace_days.saturating_mul(24 * 3600)),
        },
        collect_every: Some(Duration::from_secs(3600)),
    };
    let (mut state, bootstrap) =
        gridsync_server::open_with(&config, &evidence, Arc::new(SystemClock)).await?;
    state.notify.configure(notify);
    let limits = &mut state.limits_http;
    limits.login.per_account_address = args.login_failures_per_account_address;
    limits.login.per_address = args.login_failures_per_address;
    limits.login.trust_forwarded_for = args.trust_forwarded_for;
    limits.sync_bodies_in_flight = args.sync_bodies_in_flight_mib.saturating_mul(1 << 20);
    limits.timeouts = Timeouts {
        header: Duration::from_secs(args.header_timeout),
        body: Duration::from_secs(args.body_timeout),
        body_min_rate: args.body_min_rate,
        idle: Duration::from_secs(args.idle_timeout),
    };
    limits.session = gridsync_server::SessionLimits {
        idle: Duration::from_secs(args.session_idle_minutes.max(1) * 60),
        absolute: Duration::from_secs(args.session_hours.max(1) * 3600),
        secure_cookies: args.secure_cookies,
    };
    match bootstrap {
        Bootstrap::Demo => tracing::info!(
            users = ?gridsync_server::demo::USERS.iter().map(|u| u.0).collect::<Vec<_>>(),
            password = gridsync_server::demo::DEMO_PASSWORD,
            "demo county loaded"
        ),
        Bootstrap::Admin { username, password } => {
            show_admin_password(&username, &password, args.admin_password_file.as_deref())?;
        }
        Bootstrap::Existing => {}
    }
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "gridsync listening");
    gridsync_server::serve(state, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The first administrator's password, shown once: to the file asked for (0600), else on
/// the terminal. Never through `tracing`, whose output is the log stream: without a
/// terminal and without a file, the password is not shown at all and the operator sets one
/// with `gridsync admin set-password`.
fn show_admin_password(
    username: &str,
    password: &str,
    file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(path) = file {
        gridsync_server::db::private::write_private(path, format!("{password}\n").as_bytes())
            .with_context(|| format!("writing the administrator password to {}", path.display()))?;
        tracing::info!(user = username, path = %path.display(), "first start: administrator created; password written to the file");
    } else if std::io::stderr().is_terminal() {
        eprintln!(
            "First start: created administrator {username:?} with password {password:?}. \
             Change it: gridsync admin set-password {username}"
        );
    } else {
        tracing::warn!(
            user = username,
            "first start: administrator created; its password is not shown (no terminal and no \
             --admin-password-file): set one with `gridsync admin set-password`"
        );
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
