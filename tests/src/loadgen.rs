//! The load generator: a [`Fleet`] of simulated phones, each a real `FieldStore` in its own
//! directory signed in as its own grid worker, recording and editing realistic cases and
//! syncing them over HTTP with the sans-IO API, so bytes and requests are counted exactly.
//!
//! ```no_run
//! use gridsync_tests::loadgen::{Fleet, FleetConfig, LocalServer, Scenario, Sessions};
//! # fn main() -> Result<(), gridsync_tests::loadgen::LoadError> {
//! let server = LocalServer::spawn("target/release/gridsync".as_ref(), "sqlite:///tmp/c.db?mode=rwc")?;
//! let mut fleet = Fleet::new(FleetConfig {
//!     server_pid: Some(server.pid()),
//!     provision_db: Some(server.database_url.clone()),
//!     sessions: Sessions::Mint { database_url: server.database_url.clone(), jwt_secret: server.jwt_secret.clone() },
//!     ..FleetConfig::new(&server.base_url, 200)
//! })?;
//! println!("{}", fleet.run_scenario(&Scenario::Initial { cases_per_phone: 20 }, 200)?);
//! # Ok(()) }
//! ```
//!
//! Scenarios ([`Scenario`]): `initial` (every phone uploads new cases), `day` (edits and
//! notes made offline, then one sync), `burst` (every phone syncs once), `fanout` (the
//! center accepts and dispatches cases, their phones pull), `steady` (small syncs arriving
//! at a set rate), `soak` (cases pushed in rounds while the server's memory is sampled). Offline work is done before the clock starts;
//! what is timed is the syncing. A sync's latency is the time the phone waits on the server
//! (all rounds of one sync), not its own merging.

mod accounts;
mod content;
mod device;
mod local;
mod stats;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gridsync_core::case::CaseId;
use gridsync_server::auth::Keys;
use gridsync_server::db::Db;

pub use accounts::{WORKER_PASSWORD, Worker, provision, register_devices, worker};
pub use local::{LocalServer, memory_kib};
pub use stats::{Latency, Summary};

use device::{LoadPhone, Session, SyncOutcome};
use stats::Recorder;

/// Fleets larger than this keep phone stores closed between uses (three file handles each).
const KEEP_OPEN_MAX: usize = 2_000;
/// Center staff working at once in `fanout` (a county center has a handful of dispatchers).
const CENTER_SESSIONS: usize = 4;
/// Minted access tokens are re-signed after this (they live 15 minutes).
const MINT_REFRESH: Duration = Duration::from_secs(600);

/// What can go wrong while generating load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("http {status} {code}: {message}")]
    Http {
        status: u16,
        code: String,
        message: String,
    },
    #[error("phone store: {0}")]
    Store(#[from] gridsync_core::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("server: {0}")]
    Server(#[from] gridsync_server::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("setup: {0}")]
    Setup(String),
}

impl LoadError {
    fn transport(e: ureq::Error) -> LoadError {
        LoadError::Http {
            status: 0,
            code: "network".into(),
            message: e.to_string(),
        }
    }

    fn from_body(status: u16, body: &[u8]) -> LoadError {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        LoadError::Http {
            status,
            code: v["code"].as_str().unwrap_or("?").to_owned(),
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

impl From<crate::HttpError> for LoadError {
    fn from(e: crate::HttpError) -> Self {
        LoadError::Http {
            status: e.status,
            code: e.code,
            message: e.message,
        }
    }
}

/// How phones get their sessions.
#[derive(Clone, Debug)]
pub enum Sessions {
    /// `POST /v1/auth/login` per phone during setup (argon2 on the server: ~40 per second
    /// per core), refreshed on a 401.
    Login { password: String },
    /// Register devices in the server's database and sign access tokens with its JWT
    /// secret: for local runs of thousands of phones, where logins would dominate setup.
    Mint {
        database_url: String,
        jwt_secret: String,
    },
}

/// How to build a fleet. Start from [`FleetConfig::new`].
#[derive(Clone, Debug)]
pub struct FleetConfig {
    pub base_url: String,
    pub phones: usize,
    /// Distinct workers; phone `i` belongs to worker `i % workers` (default: one each).
    pub workers: usize,
    /// Provision the workers in this database first (idempotent).
    pub provision_db: Option<String>,
    pub sessions: Sessions,
    /// Where the phone stores go (default: a temporary directory, removed with the fleet).
    pub dir: Option<PathBuf>,
    /// The server process, when local: its memory goes into the summaries.
    pub server_pid: Option<u32>,
    /// The dispatcher of `fanout` (username, password): the demo county's by default.
    pub dispatcher: (String, String),
    /// Threads used for setup (store creation, logins, offline work).
    pub setup_threads: usize,
    /// A progress line on stderr while running.
    pub progress: bool,
    /// A label for device ids, unique per run so runs can share a database.
    pub run_id: String,
}

impl FleetConfig {
    pub fn new(base_url: &str, phones: usize) -> FleetConfig {
        FleetConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            phones,
            workers: phones,
            provision_db: None,
            sessions: Sessions::Login {
                password: WORKER_PASSWORD.into(),
            },
            dir: None,
            server_pid: None,
            dispatcher: (
                "chen.dispatch".into(),
                gridsync_server::demo::DEMO_PASSWORD.into(),
            ),
            setup_threads: 8,
            progress: false,
            run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        }
    }
}

/// A scenario to run against the fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Every phone records `cases_per_phone` new cases offline (two parties, a note; every
    /// fourth submitted), then syncs once.
    Initial { cases_per_phone: usize },
    /// Every phone edits `edits` of its cases, adds `notes` notes and submits up to two
    /// drafts offline, then syncs once.
    Day { edits: usize, notes: usize },
    /// Every phone records one case and syncs once.
    Burst,
    /// The dispatcher accepts and dispatches `cases` submitted cases; the phones holding
    /// them pull.
    Fanout { cases: usize },
    /// The working day between the bursts: before each sync a phone makes a little offline
    /// work (an edit, two notes, submitting up to two drafts), and the fleet's syncs start
    /// at `rate` per second whatever the server's pace (open loop: a slow server faces a
    /// growing queue, as it would in the field), `syncs_per_phone` each, round robin.
    Steady { rate: u32, syncs_per_phone: usize },
    /// Rounds of "every phone records `per_round` cases, then syncs" until `cases` cases
    /// are in; the server's memory is printed every `report_every`.
    Soak {
        cases: usize,
        per_round: usize,
        report_every: Duration,
    },
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Initial { .. } => "initial",
            Scenario::Day { .. } => "day",
            Scenario::Burst => "burst",
            Scenario::Fanout { .. } => "fanout",
            Scenario::Steady { .. } => "steady",
            Scenario::Soak { .. } => "soak",
        }
    }
}

/// The phones.
#[derive(Debug)]
pub struct Fleet {
    config: FleetConfig,
    phones: Vec<Mutex<LoadPhone>>,
    agent: ureq::Agent,
    keys: Option<Keys>,
    keep_open: bool,
    _tmp: Option<tempfile::TempDir>,
}

impl Fleet {
    /// Provisions the workers (if asked), creates the phone stores and signs every phone
    /// in. Nothing here is timed.
    pub fn new(config: FleetConfig) -> Result<Fleet, LoadError> {
        if config.phones == 0 || config.workers == 0 {
            return Err(LoadError::Setup("phones and workers must be > 0".into()));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        if let Some(url) = &config.provision_db {
            rt.block_on(async {
                let db = Db::connect(url).await?;
                provision(&db, config.workers).await?;
                db.pool().close().await;
                Ok::<_, LoadError>(())
            })?;
        }
        let (tmp, root) = match &config.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::tempdir()?;
                let p = t.path().to_owned();
                (Some(t), p)
            }
        };
        let phones: Vec<Mutex<LoadPhone>> = (0..config.phones)
            .map(|i| {
                let dir = root.join(format!("p{i}"));
                Mutex::new(LoadPhone::new(
                    i,
                    format!("lg-{}-{i}", config.run_id),
                    worker(i % config.workers),
                    dir.join("field.db"),
                ))
            })
            .collect();
        let keep_open = config.phones <= KEEP_OPEN_MAX;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(config.phones.min(1000) + 16)
            .max_idle_connections_per_host(config.phones.min(1000) + 16)
            .build()
            .into();
        let fleet = Fleet {
            keys: match &config.sessions {
                Sessions::Mint { jwt_secret, .. } => Some(Keys::new(jwt_secret.as_bytes())),
                Sessions::Login { .. } => None,
            },
            config,
            phones,
            agent,
            keep_open,
            _tmp: tmp,
        };
        let all: Vec<usize> = (0..fleet.phones.len()).collect();
        let threads = fleet.config.setup_threads;
        // Stores (and their actor ids).
        let actors = Mutex::new(Vec::with_capacity(all.len()));
        fleet.each("setup: stores", &all, threads, |p| {
            std::fs::create_dir_all(p.path_dir())?;
            let actor = p.actor_hex()?;
            let key = p.key_hex()?;
            actors.lock().expect("actors").push((
                p.device_id.clone(),
                p.worker.user_id.clone(),
                actor,
                key,
            ));
            Ok(())
        })?;
        match fleet.config.sessions.clone() {
            Sessions::Mint { database_url, .. } => {
                let devices = actors.into_inner().expect("actors");
                rt.block_on(async {
                    let db = Db::connect(&database_url).await?;
                    register_devices(&db, &devices).await?;
                    db.pool().close().await;
                    Ok::<_, LoadError>(())
                })?;
            }
            Sessions::Login { password } => {
                let base = fleet.config.base_url.clone();
                let agent = fleet.agent.clone();
                fleet.each("setup: logins", &all, threads, |p| {
                    let actor = p.actor_hex()?;
                    let key = p.key_hex()?;
                    let v = crate::phone::post_json(
                        &agent,
                        &format!("{base}/v1/auth/login"),
                        &serde_json::json!({
                            "username": p.worker.username,
                            "password": password,
                            "device_id": p.device_id,
                            "actor_ids": [actor],
                            "signing_key": key,
                        }),
                        None,
                    )?;
                    p.session = Some(Session::Login {
                        access: v["access_token"].as_str().unwrap_or_default().to_owned(),
                        refresh: v["refresh_token"].as_str().unwrap_or_default().to_owned(),
                    });
                    Ok(())
                })?;
            }
        }
        Ok(fleet)
    }

    pub fn len(&self) -> usize {
        self.phones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phones.is_empty()
    }

    /// The worker behind phone `i`.
    pub fn worker(&self, i: usize) -> Worker {
        self.phones[i].lock().expect("phone").worker.clone()
    }

    /// The cases phone `i` recorded.
    pub fn cases(&self, i: usize) -> Vec<CaseId> {
        self.phones[i].lock().expect("phone").cases.clone()
    }

    /// Runs one scenario with `concurrency` phones syncing at once and returns its summary.
    pub fn run_scenario(
        &mut self,
        scenario: &Scenario,
        concurrency: usize,
    ) -> Result<Summary, LoadError> {
        let concurrency = concurrency.max(1);
        let all: Vec<usize> = (0..self.phones.len()).collect();
        let threads = self.config.setup_threads;
        let mut summary = match scenario {
            Scenario::Initial { cases_per_phone } => {
                let n = *cases_per_phone;
                self.each("initial: recording offline", &all, threads, |p| {
                    for k in 0..n {
                        p.record_case(k % 4 == 0)?;
                    }
                    Ok(())
                })?;
                self.measure("initial", &all, concurrency, |_, o| new_cases_if_done(o, n))?
            }
            Scenario::Day { edits, notes } => {
                self.each("day: working offline", &all, threads, |p| {
                    p.work_a_day(*edits, *notes).map(drop)
                })?;
                self.measure("day", &all, concurrency, |_, _| 0)?
            }
            Scenario::Burst => {
                self.each("burst: recording offline", &all, threads, |p| {
                    p.record_case(false).map(drop)
                })?;
                self.measure("burst", &all, concurrency, |_, o| new_cases_if_done(o, 1))?
            }
            Scenario::Fanout { cases } => self.fanout(*cases, concurrency)?,
            Scenario::Steady {
                rate,
                syncs_per_phone,
            } => self.steady(*rate, *syncs_per_phone, concurrency)?,
            Scenario::Soak {
                cases,
                per_round,
                report_every,
            } => self.soak(*cases, (*per_round).max(1), *report_every, concurrency)?,
        };
        summary.scenario = scenario.name().to_owned();
        summary.concurrency = concurrency as u64;
        if let Some((rss, hwm)) = self.config.server_pid.and_then(memory_kib) {
            summary.server_rss_kib = Some(rss);
            summary.server_peak_rss_kib = Some(hwm);
        }
        Ok(summary)
    }

    /// The dispatcher accepts and dispatches `n` submitted cases; the phones holding them
    /// sync. Timed: the center's steps (reported as `center_actions`) and the pulls.
    fn fanout(&mut self, n: usize, concurrency: usize) -> Result<Summary, LoadError> {
        // Enough submitted cases, synced to the center first (setup).
        let have: usize = self.phones.iter().map(|p| lock(p).submitted.len()).sum();
        if have < n {
            let missing = n - have;
            let per = missing.div_ceil(self.phones.len());
            let all: Vec<usize> = (0..self.phones.len()).collect();
            self.each(
                "fanout: recording offline",
                &all,
                self.config.setup_threads,
                |p| {
                    for _ in 0..per {
                        p.record_case(true)?;
                    }
                    Ok(())
                },
            )?;
            self.measure("fanout: setup sync", &all, concurrency, |_, _| 0)?;
        }
        // Round-robin over phones, so the pulls spread like real dispatches.
        let mut picked: Vec<(usize, CaseId)> = Vec::with_capacity(n);
        let mut lists: Vec<Vec<CaseId>> = self
            .phones
            .iter()
            .map(|p| lock(p).submitted.clone())
            .collect();
        'outer: loop {
            let mut any = false;
            for (i, list) in lists.iter_mut().enumerate() {
                if picked.len() >= n {
                    break 'outer;
                }
                if let Some(c) = list.pop() {
                    picked.push((i, c));
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        for (i, c) in &picked {
            lock(&self.phones[*i]).submitted.retain(|x| x != c);
        }

        let (user, password) = self.config.dispatcher.clone();
        let v = crate::phone::post_json(
            &self.agent,
            &format!("{}/v1/auth/login", self.config.base_url),
            &serde_json::json!({ "username": user, "password": password }),
            None,
        )?;
        let token = v["access_token"].as_str().unwrap_or_default().to_owned();
        let actions = AtomicU64::new(0);
        let errors = AtomicU64::new(0);
        let next = AtomicUsize::new(0);
        let first_error: Mutex<Option<crate::HttpError>> = Mutex::new(None);
        let done = AtomicBool::new(false);
        let started = Instant::now();
        let mut center_elapsed = Duration::ZERO;
        std::thread::scope(|s| {
            let progress = self.progress(
                "fanout: center dispatching",
                picked.len(),
                &next,
                &errors,
                &done,
                s,
            );
            let workers: Vec<_> = (0..CENTER_SESSIONS.min(picked.len()).max(1))
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some((_, case)) = picked.get(k) else { break };
                            let url = format!("{}/v1/cases/{case}/actions", self.config.base_url);
                            let steps = [
                                serde_json::json!({ "kind": "ACCEPT", "payload": {} }),
                                serde_json::json!({ "kind": "DISPATCH", "payload": {
                                    "to": [{ "id": "330182-labour", "name": "县人社局劳动保障监察大队" }],
                                    "tier": "COUNTY" } }),
                            ];
                            for step in steps {
                                match post_retrying(&self.agent, &url, &step, &token) {
                                    Ok(_) => actions.fetch_add(1, Ordering::Relaxed),
                                    Err(e) => {
                                        first_error.lock().expect("first error").get_or_insert(e);
                                        errors.fetch_add(1, Ordering::Relaxed)
                                    }
                                };
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            center_elapsed = started.elapsed();
            done.store(true, Ordering::Relaxed);
            drop(progress);
        });
        let mut holders: Vec<usize> = picked.iter().map(|(i, _)| *i).collect();
        holders.sort_unstable();
        holders.dedup();
        let mut summary = self.measure("fanout", &holders, concurrency, |_, _| 0)?;
        summary.center_actions = actions.into_inner();
        summary.errors += errors.into_inner();
        summary.elapsed += center_elapsed;
        if self.config.progress {
            eprintln!(
                "fanout: {} center steps in {:.2} s ({:.0}/s), then {} phones pulled",
                summary.center_actions,
                center_elapsed.as_secs_f64(),
                summary.center_actions as f64 / center_elapsed.as_secs_f64().max(1e-9),
                holders.len()
            );
            if let Some(e) = first_error.into_inner().expect("first error") {
                eprintln!("fanout: first refused center step: {e}");
            }
        }
        Ok(summary)
    }

    /// See [`Scenario::Steady`]. Timed: from the first scheduled start to the last sync's end.
    fn steady(
        &mut self,
        rate: u32,
        per_phone: usize,
        concurrency: usize,
    ) -> Result<Summary, LoadError> {
        let rate = f64::from(rate.max(1));
        let jobs: Vec<usize> = (0..per_phone).flat_map(|_| 0..self.phones.len()).collect();
        let rec = Recorder::default();
        let started = Instant::now();
        self.sync_all(
            &rec,
            "steady",
            &jobs,
            concurrency,
            |k, p| {
                let due = started + Duration::from_secs_f64(k as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                p.work_a_day(1, 2).map(drop)
            },
            |_, _| 0,
        )?;
        Ok(rec.summary(self.phones.len()))
    }

    fn soak(
        &mut self,
        cases: usize,
        per_round: usize,
        every: Duration,
        concurrency: usize,
    ) -> Result<Summary, LoadError> {
        let all: Vec<usize> = (0..self.phones.len()).collect();
        let rec = Recorder::default();
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut pushed = 0usize;
        let mut round = 0usize;
        while pushed < cases {
            let left = cases - pushed;
            // The last round may use fewer phones and cases so the total is exact.
            let phones = left.div_ceil(per_round).min(all.len());
            let k = per_round.min(left / phones).max(1);
            let take = &all[..phones];
            self.each(
                "soak: recording offline",
                take,
                self.config.setup_threads,
                |p| {
                    for _ in 0..k {
                        p.record_case(false)?;
                    }
                    Ok(())
                },
            )?;
            self.sync_all(
                &rec,
                &format!("soak round {round}"),
                take,
                concurrency,
                |_, _| Ok(()),
                |_, o| new_cases_if_done(o, k),
            )?;
            pushed += phones * k;
            round += 1;
            if last_report.elapsed() >= every || pushed >= cases {
                last_report = Instant::now();
                let mem = self.config.server_pid.and_then(memory_kib);
                println!(
                    "soak t_s={:.0} cases={} changes={} server_rss_mib={} server_peak_rss_mib={}",
                    started.elapsed().as_secs_f64(),
                    rec.cases.load(Ordering::Relaxed),
                    rec.acked.load(Ordering::Relaxed),
                    mem.map_or("-".into(), |m| format!("{:.1}", m.0 as f64 / 1024.0)),
                    mem.map_or("-".into(), |m| format!("{:.1}", m.1 as f64 / 1024.0)),
                );
            }
        }
        Ok(rec.summary(all.len()))
    }

    /// Syncs the phones `which` once each, `concurrency` at a time, and counts. `cases`
    /// says how many new cases a finished sync brought in.
    fn measure(
        &self,
        label: &str,
        which: &[usize],
        concurrency: usize,
        cases: impl Fn(&LoadPhone, &SyncOutcome) -> u64 + Sync,
    ) -> Result<Summary, LoadError> {
        let rec = Recorder::default();
        self.sync_all(&rec, label, which, concurrency, |_, _| Ok(()), cases)?;
        Ok(rec.summary(which.len()))
    }

    /// [`Self::measure`] into a recorder that may span several rounds. `before` runs on the
    /// phone of job `k` just before its sync (its wait is not the server's, so not in the
    /// latencies); a failure there counts as the job's error.
    fn sync_all(
        &self,
        rec: &Recorder,
        label: &str,
        which: &[usize],
        concurrency: usize,
        before: impl Fn(usize, &mut LoadPhone) -> Result<(), LoadError> + Sync,
        cases: impl Fn(&LoadPhone, &SyncOutcome) -> u64 + Sync,
    ) -> Result<(), LoadError> {
        let next = AtomicUsize::new(0);
        let failed: Mutex<Option<LoadError>> = Mutex::new(None);
        let done = AtomicBool::new(false);
        let syncs_before = rec.syncs.load(Ordering::Relaxed);
        let started = Instant::now();
        std::thread::scope(|s| {
            let progress = self.progress(label, which.len(), &next, &rec.errors, &done, s);
            let workers: Vec<_> = (0..concurrency.min(which.len()).max(1))
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&i) = which.get(k) else { break };
                            let mut p = lock(&self.phones[i]);
                            match before(k, &mut p).and_then(|()| self.sync_phone(&mut p)) {
                                Ok(o) => {
                                    rec.sync(&o);
                                    rec.cases.fetch_add(cases(&p, &o), Ordering::Relaxed);
                                }
                                Err(e) => {
                                    rec.error();
                                    failed.lock().expect("first error").get_or_insert(e);
                                }
                            }
                            if !self.keep_open {
                                p.park();
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            rec.add_elapsed(started.elapsed());
            done.store(true, Ordering::Relaxed);
            drop(progress);
        });
        if let Some(e) = failed.into_inner().expect("first error")
            && rec.syncs.load(Ordering::Relaxed) == syncs_before
        {
            // Nothing worked: a setup problem, not load.
            return Err(e);
        }
        Ok(())
    }

    /// One sync of one phone with a valid token (re-signed or refreshed when needed).
    fn sync_phone(&self, p: &mut LoadPhone) -> Result<SyncOutcome, LoadError> {
        let token = self.token(p)?;
        match p.sync(&self.agent, &self.config.base_url, &token) {
            Err(LoadError::Http { status: 401, .. }) => {
                self.refresh(p)?;
                let token = self.token(p)?;
                p.sync(&self.agent, &self.config.base_url, &token)
            }
            other => other,
        }
    }

    fn token(&self, p: &mut LoadPhone) -> Result<String, LoadError> {
        if let Some(keys) = &self.keys {
            let fresh = match &p.session {
                Some(Session::Minted { at, .. }) => at.elapsed() < MINT_REFRESH,
                _ => false,
            };
            if !fresh {
                let now = accounts::now_ms() / 1000;
                p.session = Some(Session::Minted {
                    access: keys.issue(&p.worker.user_id, &p.device_id, now),
                    at: Instant::now(),
                });
            }
        }
        match &p.session {
            Some(Session::Login { access, .. }) | Some(Session::Minted { access, .. }) => {
                Ok(access.clone())
            }
            None => Err(LoadError::Setup(format!(
                "phone {} has no session",
                p.index
            ))),
        }
    }

    fn refresh(&self, p: &mut LoadPhone) -> Result<(), LoadError> {
        match &p.session {
            Some(Session::Login { refresh, .. }) => {
                let v = crate::phone::post_json(
                    &self.agent,
                    &format!("{}/v1/auth/refresh", self.config.base_url),
                    &serde_json::json!({ "refresh_token": refresh, "device_id": p.device_id }),
                    None,
                )?;
                p.session = Some(Session::Login {
                    access: v["access_token"].as_str().unwrap_or_default().to_owned(),
                    refresh: v["refresh_token"].as_str().unwrap_or_default().to_owned(),
                });
            }
            _ => p.session = None,
        }
        Ok(())
    }

    /// Runs `f` on the phones `which`, `threads` at a time (setup work, not measured).
    fn each(
        &self,
        label: &str,
        which: &[usize],
        threads: usize,
        f: impl Fn(&mut LoadPhone) -> Result<(), LoadError> + Sync,
    ) -> Result<(), LoadError> {
        let next = AtomicUsize::new(0);
        let failed: Mutex<Option<LoadError>> = Mutex::new(None);
        let errors = AtomicU64::new(0);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let progress = self.progress(label, which.len(), &next, &errors, &done, s);
            let workers: Vec<_> = (0..threads.min(which.len()).max(1))
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            if failed.lock().expect("first error").is_some() {
                                break;
                            }
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&i) = which.get(k) else { break };
                            let mut p = lock(&self.phones[i]);
                            if let Err(e) = f(&mut p) {
                                errors.fetch_add(1, Ordering::Relaxed);
                                failed.lock().expect("first error").get_or_insert(e);
                            }
                            if !self.keep_open {
                                p.park();
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            done.store(true, Ordering::Relaxed);
            drop(progress);
        });
        match failed.into_inner().expect("first error") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A thread that rewrites one progress line on stderr every half second until the
    /// work counter passes `total`.
    fn progress<'scope>(
        &self,
        label: &str,
        total: usize,
        next: &'scope AtomicUsize,
        errors: &'scope AtomicU64,
        done: &'scope AtomicBool,
        s: &'scope std::thread::Scope<'scope, '_>,
    ) -> Option<std::thread::ScopedJoinHandle<'scope, ()>> {
        if !self.config.progress {
            return None;
        }
        let label = label.to_owned();
        let started = Instant::now();
        Some(s.spawn(move || {
            loop {
                let n = next.load(Ordering::Relaxed).min(total);
                eprint!(
                    "\r\x1b[K{label}: {n}/{total}, {:.1} s, {} errors",
                    started.elapsed().as_secs_f64(),
                    errors.load(Ordering::Relaxed)
                );
                for _ in 0..10 {
                    if done.load(Ordering::Relaxed) {
                        eprintln!();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }))
    }
}

/// A center step; a 409 `conflict` (two accepts raced for one case number) is retried
/// as the web client would.
fn post_retrying(
    agent: &ureq::Agent,
    url: &str,
    body: &serde_json::Value,
    token: &str,
) -> Result<serde_json::Value, crate::HttpError> {
    let mut attempt = 0;
    loop {
        match crate::phone::post_json(agent, url, body, Some(token)) {
            Err(e) if e.status == 409 && e.code == "conflict" && attempt < 20 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 * attempt));
            }
            other => return other,
        }
    }
}

fn lock(p: &Mutex<LoadPhone>) -> std::sync::MutexGuard<'_, LoadPhone> {
    // A phone whose thread panicked is still a phone: keep using it.
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// `n` new cases arrived if the sync left nothing unsent and nothing was refused.
fn new_cases_if_done(o: &SyncOutcome, n: usize) -> u64 {
    if o.report.unsent_changes == 0 && o.report.rejected.is_empty() {
        n as u64
    } else {
        0
    }
}
