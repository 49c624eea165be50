//! The center's database: one sqlx `AnyPool` over SQLite (embedded, the default) or
//! PostgreSQL (production), with one migrations folder per dialect applied at start.
//!
//! Queries are written once with `$n` placeholders and run on both backends. Values cross as
//! the types `Any` supports: TEXT ids, BIGINT epoch milliseconds, BOOLEAN, BLOB/BYTEA.

pub mod accounts;
pub(crate) mod cases;

use std::sync::Arc;

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
    /// SQLite has one writer: merges queue here instead of failing with SQLITE_BUSY.
    /// PostgreSQL serialises per case with row locks instead.
    write_gate: Arc<tokio::sync::Mutex<()>>,
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
        let options = AnyPoolOptions::new().max_connections(match dialect {
            Dialect::Sqlite => 4,
            Dialect::Postgres => 16,
        });
        let options = if dialect == Dialect::Sqlite {
            options.after_connect(|conn, _meta| {
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
        } else {
            options
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|e| Error::Config(format!("cannot open database {}: {e}", redact_url(url))))?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| Error::Config(format!("migrations: {e}")))?;
        Ok(Db {
            pool,
            dialect,
            write_gate: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Held for the length of a write transaction on SQLite; free on PostgreSQL.
    pub(crate) async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect {
            Dialect::Sqlite => Some(self.write_gate.lock().await),
            Dialect::Postgres => None,
        }
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
        .execute(&self.pool)
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
        rt.block_on(self.pool.close());
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
