//! The center's database: one sqlx `AnyPool` over SQLite (embedded, the default) or
//! PostgreSQL (production), with one migrations folder per dialect applied at start.
//!
//! Queries are written once with `$n` placeholders and run on both backends. Values cross as
//! the types `Any` supports: TEXT ids, BIGINT epoch milliseconds, BOOLEAN, BLOB/BYTEA.

pub mod accounts;
pub(crate) mod cases;
pub(crate) mod feed;
pub(crate) mod scope;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL dialect the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The pool plus what the two dialects need differently.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    /// Every write goes here. On SQLite it is a pool of one connection: SQLite has one
    /// writer, and queueing for that connection (instead of racing deferred transactions
    /// into SQLITE_BUSY) is what serialises merges. On PostgreSQL it is the same pool as
    /// `pool`; merges serialise per case with row locks.
    pub(crate) writer: AnyPool,
}

impl Db {
    /// Connects and applies the migrations. `sqlite://path?mode=rwc` creates the file.
    pub async fn connect(url: &str) -> Result<Db> {
        install_default_drivers();
        let dialect = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(Error::Config(format!(
                "unsupported database URL (use sqlite://FILE or postgres://...): {}",
                redact_url(url)
            )));
        };
        let sqlite_options = |n: u32| {
            AnyPoolOptions::new()
                .max_connections(n)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL: readers never block the writer; FULL: an acknowledged change is on
                        // disk before the phone hears "ack".
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
        };
        let open_err = |e: sqlx::Error| {
            Error::Config(format!("cannot open database {}: {e}", redact_url(url)))
        };
        let (pool, writer) = match dialect {
            Dialect::Sqlite => {
                // The writer first: it creates the file (mode=rwc) and switches it to WAL.
                let writer = sqlite_options(1).connect(url).await.map_err(open_err)?;
                (
                    sqlite_options(4).connect(url).await.map_err(open_err)?,
                    writer,
                )
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // Plan each statement for the tables as they are now. A generic
                            // plan, made once per connection when the tables were small,
                            // kept scanning `cases` for lookups by id as they grew (the soak
                            // fell from 20,000 to 8,000 cases a minute); without autovacuum's
                            // ANALYZE nothing replaced it.
                            conn.execute("SET plan_cache_mode = force_custom_plan")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(open_err)?;
                (pool.clone(), pool)
            }
        };
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&writer)
            .await
            .map_err(|e| Error::Config(format!("migrations: {e}")))?;
        Ok(Db {
            pool,
            dialect,
            writer,
        })
    }

    /// Is the database answering? (`/readyz`)
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores `value` unless the key is set already; returns the value that stands (two
    /// processes starting at once agree on one).
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Db {
    /// Closes the pool (tests drop databases after).
    pub fn close_blocking(self, rt: &tokio::runtime::Runtime) {
        rt.block_on(async {
            self.pool.close().await;
            self.writer.close().await;
        });
    }
}

impl Db {
    /// The pool, for read-only inspection (tests, tools).
    pub fn pool(&self) -> AnyPool {
        self.pool.clone()
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}
