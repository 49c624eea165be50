//! `loadgen`: simulated phones against a gridsync server, one `key=value` summary line per
//! scenario on stdout and a progress line on stderr. See README "Load generator".

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use gridsync_tests::loadgen::{Fleet, FleetConfig, LocalServer, Scenario, Sessions};

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "Simulated grid workers' phones against a gridsync server"
)]
struct Args {
    /// A running server (remote mode). Its workers must exist: see `--provision-db`.
    #[arg(long, conflicts_with = "spawn")]
    server: Option<String>,
    /// Start this `gridsync` binary locally (`serve --demo`) and report its memory.
    #[arg(long)]
    spawn: Option<PathBuf>,
    /// The database of the spawned server (`sqlite://FILE?mode=rwc` or `postgres://…`).
    /// Default: a fresh SQLite file in a temporary directory.
    #[arg(long)]
    database: Option<String>,
    /// Remote mode: create the workers in this database first (idempotent).
    #[arg(long)]
    provision_db: Option<String>,
    /// Simulated phones (each its own grid worker and village).
    #[arg(long, default_value_t = 200)]
    phones: usize,
    /// Phones syncing at once.
    #[arg(long, short = 'c', default_value_t = 200)]
    concurrency: usize,
    /// Scenarios, in order (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "initial,day,fanout")]
    scenarios: Vec<Which>,
    /// `initial`: new cases per phone.
    #[arg(long, default_value_t = 20)]
    cases_per_phone: usize,
    /// `day`: edits per phone.
    #[arg(long, default_value_t = 20)]
    edits: usize,
    /// `day`: notes per phone.
    #[arg(long, default_value_t = 40)]
    notes: usize,
    /// `fanout`: cases the center dispatches.
    #[arg(long, default_value_t = 1000)]
    fanout_cases: usize,
    /// `steady`: syncs started per second across the fleet (open loop).
    #[arg(long, default_value_t = 50)]
    steady_rate: u32,
    /// `steady`: syncs per phone.
    #[arg(long, default_value_t = 5)]
    steady_syncs: usize,
    /// `soak`: total cases pushed.
    #[arg(long, default_value_t = 100_000)]
    soak_cases: usize,
    /// `soak`: cases per phone per round.
    #[arg(long, default_value_t = 5)]
    soak_per_round: usize,
    /// `soak`: seconds between memory lines.
    #[arg(long, default_value_t = 10)]
    soak_every: u64,
    /// Sessions: `mint` signs tokens with the spawned server's key (fast setup of thousands
    /// of phones); `login` uses `/v1/auth/login` (argon2) for every phone.
    #[arg(long, value_enum, default_value_t = SessionMode::Mint)]
    sessions: SessionMode,
    /// Where phone stores go (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Threads for setup work (creating stores, logins, offline recording).
    #[arg(long, default_value_t = 4)]
    setup_threads: usize,
    /// No progress line.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    Initial,
    Day,
    Burst,
    Fanout,
    Steady,
    Soak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SessionMode {
    Mint,
    Login,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile::tempdir()?;
    let (server, base_url) = match (&args.spawn, &args.server) {
        (Some(bin), _) => {
            let url = args.database.clone().unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    tmp.path().join("center.db").display()
                )
            });
            let s = LocalServer::spawn(bin, &url).context("start the server")?;
            let base = s.base_url.clone();
            (Some(s), base)
        }
        (None, Some(url)) => (None, url.clone()),
        (None, None) => anyhow::bail!("give --server URL or --spawn PATH"),
    };
    let sessions = match (args.sessions, &server) {
        (SessionMode::Mint, Some(s)) => Sessions::Mint {
            database_url: s.database_url.clone(),
            jwt_secret: s.jwt_secret.clone(),
        },
        (SessionMode::Mint, None) => {
            anyhow::bail!("--sessions mint needs --spawn (the server's key); use --sessions login")
        }
        (SessionMode::Login, _) => Sessions::Login {
            password: gridsync_tests::loadgen::WORKER_PASSWORD.into(),
        },
    };
    let config = FleetConfig {
        provision_db: server
            .as_ref()
            .map(|s| s.database_url.clone())
            .or(args.provision_db.clone()),
        sessions,
        dir: args.dir.clone(),
        server_pid: server.as_ref().map(LocalServer::pid),
        setup_threads: args.setup_threads,
        progress: !args.quiet,
        ..FleetConfig::new(&base_url, args.phones)
    };
    let mut fleet = Fleet::new(config).context("set up the fleet")?;
    for which in &args.scenarios {
        let scenario = match which {
            Which::Initial => Scenario::Initial {
                cases_per_phone: args.cases_per_phone,
            },
            Which::Day => Scenario::Day {
                edits: args.edits,
                notes: args.notes,
            },
            Which::Burst => Scenario::Burst,
            Which::Fanout => Scenario::Fanout {
                cases: args.fanout_cases,
            },
            Which::Steady => Scenario::Steady {
                rate: args.steady_rate,
                syncs_per_phone: args.steady_syncs,
            },
            Which::Soak => Scenario::Soak {
                cases: args.soak_cases,
                per_round: args.soak_per_round,
                report_every: Duration::from_secs(args.soak_every),
            },
        };
        let summary = fleet
            .run_scenario(&scenario, args.concurrency)
            .with_context(|| format!("scenario {}", scenario.name()))?;
        println!("{summary}");
    }
    drop(fleet);
    drop(server);
    Ok(())
}
