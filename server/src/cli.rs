//! The `gridsync` command line: `serve`, `admin`, `field`.

mod admin;
mod field;

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use gridsync_core::clock::SystemClock;
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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the center server.
    Serve(ServeArgs),
    /// Manage organisations, users and devices directly in the database.
    Admin(admin::AdminArgs),
    /// A grid worker's phone on the command line (the apps' own client and store).
    Field(field::FieldArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "GRIDSYNC_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Database: `sqlite://FILE?mode=rwc` (embedded, created with its tables on first
    /// start) or `postgres://USER@HOST/DB` (production; migrations applied at start).
    #[arg(long, env = "GRIDSYNC_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Secret for signing access tokens (≥ 16 characters). Default: generated on first
    /// start and kept in the database, so restarts keep sessions valid.
    #[arg(long, env = "GRIDSYNC_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Load the demo county (organisations and a user for every role, password
    /// `gridsync-demo`) into an empty database. Never on a real installation.
    #[arg(long, env = "GRIDSYNC_DEMO")]
    demo: bool,
    /// Failed sign-ins per account (username as typed) in 15 minutes before 429.
    #[arg(long, env = "GRIDSYNC_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    login_failures_per_account: u32,
    /// Failed sign-ins per client address in 15 minutes before 429.
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
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Field(args) => tokio::task::spawn_blocking(move || field::run(args)).await?,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        database_url: args.database_url,
        jwt_secret: args.jwt_secret,
        demo: args.demo,
        scan_every: Some(gridsync_server::warnings::SCAN_EVERY),
    };
    let (mut state, bootstrap) = gridsync_server::open(&config, Arc::new(SystemClock)).await?;
    let login = &mut state.limits_http.login;
    login.per_account = args.login_failures_per_account;
    login.per_address = args.login_failures_per_address;
    login.trust_forwarded_for = args.trust_forwarded_for;
    match bootstrap {
        Bootstrap::Demo => tracing::info!(
            users = ?gridsync_server::demo::USERS.iter().map(|u| u.0).collect::<Vec<_>>(),
            password = gridsync_server::demo::DEMO_PASSWORD,
            "demo county loaded"
        ),
        Bootstrap::Admin { username, password } => {
            // Shown once, on the terminal only; it is not logged.
            println!(
                "First start: created administrator {username:?} with password {password:?}. Change it."
            );
        }
        Bootstrap::Existing => {}
    }
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "gridsync listening");
    gridsync_server::serve(state, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
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
