//! The center's database: one sqlx `AnyPool` over SQLite (embedded, the default) or
//! PostgreSQL (production), with one migrations folder per dialect applied at start.
//!
//! Queries are written once with `$n` placeholders and run on both backends. Values cross as
//! the types `Any` supports: TEXT ids, BIGINT epoch milliseconds, BOOLEAN, BLOB/BYTEA.

pub mod accounts;
pub(crate) mod audit;
pub(crate) mod case_list;
pub(crate) mod cases;
pub(crate) mod evidence;
pub(crate) mod feed;
pub(crate) mod limits;
pub mod notifications;
pub(crate) mod public;
pub(crate) mod rules;
pub(crate) mod scope;
pub(crate) mod sessions;
pub mod stats;
pub(crate) mod tasks;
pub(crate) mod warnings;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

/// A connection, or a transaction (through its `&mut *tx`), that the domain hands to the
/// queries here.
pub type Conn = sqlx::AnyConnection;

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
                // The file holds personal data and the JWT keys: it is made 0600 before
                // SQLite opens it (SQLite gives -wal and -shm the main file's mode).
                let file = private::sqlite_file(url)?;
                if let Some(path) = &file {
                    private::prepare(path, url.contains("mode=rwc"))?;
                }
                // The writer first: it creates the file (mode=rwc) and switches it to WAL.
                let writer = sqlite_options(1).connect(url).await.map_err(open_err)?;
                if let Some(path) = &file {
                    private::tighten_companions(path)?;
                }
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

/// A stored JWT signing key (see [`crate::auth::Keys::load`]).
#[derive(Clone, Debug)]
pub struct JwtKeyRow {
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Db {
    /// Makes sure a current JWT key exists: the `settings` secret of earlier versions is
    /// taken over (sessions survive the upgrade), else a fresh one is generated.
    pub async fn ensure_jwt_key(&self, now: i64) -> Result<()> {
        let current: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jwt_keys WHERE retired_at IS NULL")
                .fetch_one(&self.writer)
                .await?;
        if current > 0 {
            return Ok(());
        }
        let secret = match self.setting("jwt_secret").await? {
            Some(s) => s,
            None => crate::secrets::random_secret(),
        };
        let mut tx = self.writer.begin().await?;
        // Two processes starting at once may both insert; the newest then signs and the
        // other stays accepted (see `jwt_keys`).
        sqlx::query(
            "INSERT INTO jwt_keys (kid, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(crate::secrets::key_id(secret.as_bytes()))
        .bind(&secret)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM settings WHERE key = 'jwt_secret'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Keys not retired, and keys retired after `retired_after`: newest first.
    pub async fn jwt_keys(&self, retired_after: i64) -> Result<Vec<JwtKeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, secret, created_at, retired_at FROM jwt_keys
             WHERE retired_at IS NULL OR retired_at > $1
             ORDER BY created_at DESC, kid DESC",
        )
        .bind(retired_after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                use sqlx::Row;
                Ok(JwtKeyRow {
                    kid: r.try_get("kid")?,
                    secret: r.try_get("secret")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                })
            })
            .collect()
    }

    /// Makes a new current JWT key; the ones before it are retired (still accepted for
    /// [`crate::auth::RETIRED_KEY_GRACE_MS`]) and keys retired over a day ago are deleted.
    /// Returns the new key's id.
    pub async fn rotate_jwt_key(&self, now: i64) -> Result<String> {
        self.ensure_jwt_key(now).await?;
        let secret = crate::secrets::random_secret();
        let kid = crate::secrets::key_id(secret.as_bytes());
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE jwt_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // `created_at` strictly after every other key's, so the new key is the newest even
        // when the clock has not moved.
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM jwt_keys")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO jwt_keys (kid, secret, created_at) VALUES ($1, $2, $3)")
            .bind(&kid)
            .bind(&secret)
            .bind(newest.map_or(now, |n| n.max(now - 1) + 1))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM jwt_keys WHERE retired_at < $1")
            .bind(now - 24 * 3600 * 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(kid)
    }
}

/// A stored center signing key (see [`crate::signing::CenterKey::load`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub secret: String,
    pub public_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Db {
    /// Makes sure the center has a current signing key: generated at the database's first
    /// start. `make` gives (kid, secret hex, public key hex).
    pub async fn ensure_signing_key(
        &self,
        now: i64,
        make: impl FnOnce() -> (String, String, String),
    ) -> Result<()> {
        let current: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(&self.writer)
                .await?;
        if current > 0 {
            return Ok(());
        }
        let (kid, secret, public_key) = make();
        // Two processes starting at once may both insert; the newest then signs and both
        // stay published, so what either signed verifies.
        sqlx::query(
            "INSERT INTO signing_keys (kid, secret, public_key, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kid) DO NOTHING",
        )
        .bind(kid)
        .bind(secret)
        .bind(public_key)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Retires every current signing key (erasing its secret: it never signs again, and
    /// its public key still verifies what it signed) and inserts a new one, newest of all.
    /// `make` gives (kid, secret hex, public key hex). Returns the new kid and the retired.
    pub async fn rotate_signing_key(
        &self,
        now: i64,
        make: impl FnOnce() -> (String, String, String),
    ) -> Result<(String, Vec<String>)> {
        let (kid, secret, public_key) = make();
        let mut tx = self.writer.begin().await?;
        let retired: Vec<String> = sqlx::query_scalar(
            "UPDATE signing_keys SET retired_at = $1, secret = '' WHERE retired_at IS NULL
             RETURNING kid",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        // `created_at` strictly after every other key's: the new key is the newest even
        // when the clock has not moved.
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM signing_keys")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, secret, public_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&kid)
        .bind(secret)
        .bind(public_key)
        .bind(newest.map_or(now, |n| n.max(now - 1) + 1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((kid, retired))
    }

    /// Every center signing key, newest first (the first not retired signs).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        Ok(sqlx::query_as(
            "SELECT kid, secret, public_key, created_at, retired_at FROM signing_keys
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Files only the server's user may read (the database, key and password files).
pub mod private {
    use std::path::{Path, PathBuf};

    use crate::error::{Error, Result};

    /// The file behind an SQLite URL; `None` for an in-memory database.
    pub(crate) fn sqlite_file(url: &str) -> Result<Option<PathBuf>> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(None);
        }
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
            .map_err(|e| Error::Config(format!("database URL: {e}")))?;
        Ok(Some(options.get_filename().to_owned()))
    }

    /// Creates the database file 0600 if it is missing (and may be created), and takes the
    /// group's and others' access away from an existing one and its -wal and -shm.
    pub(crate) fn prepare(path: &Path, create: bool) -> Result<()> {
        if create && !path.exists() {
            create_private(path).map_err(|e| io_err(path, e))?;
        }
        for p in std::iter::once(path.to_owned()).chain(companions(path)) {
            tighten(&p).map_err(|e| io_err(&p, e))?;
        }
        Ok(())
    }

    /// After SQLite opened the file: its -wal and -shm (made with the main file's mode).
    pub(crate) fn tighten_companions(path: &Path) -> Result<()> {
        for p in companions(path) {
            tighten(&p).map_err(|e| io_err(&p, e))?;
        }
        Ok(())
    }

    fn companions(path: &Path) -> impl Iterator<Item = PathBuf> {
        ["-wal", "-shm", "-journal"].into_iter().map(move |suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    fn io_err(path: &Path, e: std::io::Error) -> Error {
        Error::Config(format!("{}: {e}", path.display()))
    }

    /// A new empty file, mode 0600 whatever the umask.
    fn create_private(path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            // Another process made it first: fine, `tighten` follows.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        tighten(path)
    }

    /// Removes the group's and others' permissions from a file if it exists.
    fn tighten(path: &Path) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            }
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }

    /// Writes `contents` to `path`, readable by the owner only: the file is created (or
    /// truncated) and made 0600 before anything is written into it.
    pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(contents)?;
        file.sync_all()
    }

    /// Whether the group or others may read `path` (a key file given to the server).
    pub fn readable_by_others(path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            false
        }
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

    /// Whether writes queue for one connection (SQLite), so pushes gain by sharing a
    /// transaction and its fsync; PostgreSQL commits on many connections in parallel.
    pub(crate) fn has_single_writer(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}
