//! gridsync-tests: the harness for end-to-end tests across the crates. The tests live in
//! `tests/it/` and compile into one binary.
//!
//! [`TestServer::start`] runs the real server on `127.0.0.1:0` over a fresh database:
//! a temporary SQLite file, or, when `GRIDSYNC_TEST_POSTGRES_URL` is set, a fresh
//! PostgreSQL database created for the test and dropped after it. [`Phone`] is a real
//! `FieldStore` in a temporary directory that logs in and syncs over HTTP.

pub mod bench;
pub mod chaos;
pub mod day;
pub mod fake;
pub mod link;
pub mod loadgen;
pub mod moto;
mod phone;
mod staff;

use std::net::SocketAddr;
use std::sync::Arc;

use gridsync_core::clock::{Clock, SystemClock};
use gridsync_server::{AppState, Config};

pub use phone::{HttpError, Phone, agent};
pub use staff::Staff;

/// The store key of the tests' phones (an app's comes from the Keystore / Keychain).
pub fn test_key() -> gridsync_core::store::StoreKey {
    gridsync_core::store::StoreKey::from_bytes(&[7; 32]).expect("32 bytes")
}

/// The environment variable that switches the suite to PostgreSQL.
pub const POSTGRES_ENV: &str = "GRIDSYNC_TEST_POSTGRES_URL";

/// A fresh database for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    pub fn new(rt: &tokio::runtime::Runtime) -> TestDb {
        match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("gs_{}", uuid::Uuid::new_v4().simple());
                rt.block_on(async {
                    sqlx::any::install_default_drivers();
                    let pool = sqlx::AnyPool::connect(&admin_url)
                        .await
                        .expect("connect to PostgreSQL");
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&pool)
                        .await
                        .expect("create test database");
                });
                let url = replace_db(&admin_url, &name);
                TestDb {
                    url,
                    _dir: None,
                    drop_pg: Some((admin_url, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("center.db").display()
                );
                TestDb {
                    url,
                    _dir: Some(dir),
                    drop_pg: None,
                }
            }
        }
    }

    /// The same database again, owned elsewhere (a second server instance on it).
    pub fn shared(url: &str) -> TestDb {
        TestDb {
            url: url.to_owned(),
            _dir: None,
            drop_pg: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.drop_pg.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::AnyPool::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                }
            });
        }
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
fn replace_db(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let cut = base
        .rfind('/')
        .filter(|i| *i > "postgres://".len())
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The real server on loopback, with its own runtime; stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: TestDb,
    rt: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Evidence bytes, unless the test named a store of its own.
    _evidence_dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// The demo county on a fresh database.
    pub fn start() -> TestServer {
        Self::start_with_clock(Arc::new(SystemClock))
    }

    pub fn start_with_clock(clock: Arc<dyn Clock>) -> TestServer {
        let rt = runtime();
        let db = TestDb::new(&rt);
        Self::start_on(rt, db, clock)
    }

    /// Another server process's worth of state over an existing database (for the
    /// several-instances tests).
    pub fn start_on(rt: tokio::runtime::Runtime, db: TestDb, clock: Arc<dyn Clock>) -> TestServer {
        let zone = gridsync_server::county_time::DEFAULT_TIME_ZONE;
        Self::start_configured(rt, db, clock, zone)
    }

    /// The demo county on a fresh database, in a county whose time zone is `zone` (an IANA
    /// name).
    pub fn start_in_zone(clock: Arc<dyn Clock>, zone: &str) -> TestServer {
        let rt = runtime();
        let db = TestDb::new(&rt);
        Self::start_configured(rt, db, clock, zone)
    }

    /// The demo county on a fresh database, refusing unsigned changes
    /// (`--require-signatures`).
    pub fn start_requiring_signatures() -> TestServer {
        let rt = runtime();
        let db = TestDb::new(&rt);
        let zone = gridsync_server::county_time::DEFAULT_TIME_ZONE;
        Self::start_full(rt, db, clock_now(), zone, Default::default(), true)
    }

    /// The demo county on a fresh database, its evidence kept as `evidence` says (a
    /// temporary directory when it names no location).
    pub fn start_with_evidence(
        clock: Arc<dyn Clock>,
        evidence: gridsync_server::EvidenceConfig,
    ) -> TestServer {
        let rt = runtime();
        let db = TestDb::new(&rt);
        let zone = gridsync_server::county_time::DEFAULT_TIME_ZONE;
        Self::start_full(rt, db, clock, zone, evidence, false)
    }

    /// Another server process's worth of state over an existing database, with its
    /// evidence where `evidence` says.
    pub fn start_on_with_evidence(
        rt: tokio::runtime::Runtime,
        db: TestDb,
        clock: Arc<dyn Clock>,
        evidence: gridsync_server::EvidenceConfig,
    ) -> TestServer {
        let zone = gridsync_server::county_time::DEFAULT_TIME_ZONE;
        Self::start_full(rt, db, clock, zone, evidence, false)
    }

    fn start_configured(
        rt: tokio::runtime::Runtime,
        db: TestDb,
        clock: Arc<dyn Clock>,
        zone: &str,
    ) -> TestServer {
        Self::start_full(rt, db, clock, zone, Default::default(), false)
    }

    fn start_full(
        rt: tokio::runtime::Runtime,
        db: TestDb,
        clock: Arc<dyn Clock>,
        zone: &str,
        mut evidence: gridsync_server::EvidenceConfig,
        require_signatures: bool,
    ) -> TestServer {
        let evidence_dir = match evidence.location {
            Some(_) => None,
            None => {
                let dir = tempfile::tempdir().expect("tempdir");
                evidence.location = Some(gridsync_server::evidence::store::Location::Dir(
                    dir.path().join("evidence"),
                ));
                Some(dir)
            }
        };
        let config = Config {
            database_url: db.url.clone(),
            jwt_secret: Some("test-secret-0123456789".into()),
            demo: true,
            scan_every: None,
            time_zone: zone.into(),
            require_signatures,
        };
        let (state, _) = rt
            .block_on(gridsync_server::open_with(&config, &evidence, clock))
            .expect("open server");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(gridsync_server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            db,
            rt: Some(rt),
            stop: Some(stop),
            task: Some(task),
            _evidence_dir: evidence_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs server-side code (center actions, database checks) on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some(rt), Some(task)) = (self.rt.as_ref(), self.task.take()) {
            let _ = rt.block_on(task);
        }
        if let Some(rt) = self.rt.take() {
            self.state.db.clone().close_blocking(&rt);
            rt.shutdown_background();
        }
    }
}

fn clock_now() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
