//! The audit log's rows: the last link of the chain (taken under a lock, so appends
//! serialise), appends, and reads. The chain itself (hashes,
//! verification) is the audit module's.

use sqlx::{AnyConnection, AnyPool};

use super::Dialect;
use crate::error::Result;

/// PostgreSQL advisory lock key serialising appends ("gridaudt"; distinct from the feed's).
const AUDIT_LOCK: i64 = 0x6772_6964_6175_6474;

/// A stored row, with `detail` as the exact text stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Row {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) user_id: String,
    pub(crate) role: String,
    pub(crate) org_id: String,
    pub(crate) action: String,
    pub(crate) case_id: Option<String>,
    pub(crate) detail: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

const COLUMNS: &str = "seq, at, user_id, role, org_id, action, case_id, detail, prev_hash, hash";

/// The last entry's sequence number and hash (`None`: the log is empty). Takes the append
/// lock first on PostgreSQL (several server processes keep one chain); SQLite's one writer
/// serialises.
pub(crate) async fn last_link(
    tx: &mut AnyConnection,
    dialect: Dialect,
) -> Result<Option<(i64, String)>> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    Ok(
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?,
    )
}

pub(crate) async fn insert(tx: &mut AnyConnection, r: &Row) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (seq, at, user_id, role, org_id, action, case_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(r.seq)
    .bind(r.at)
    .bind(&r.user_id)
    .bind(&r.role)
    .bind(&r.org_id)
    .bind(&r.action)
    .bind(r.case_id.as_deref())
    .bind(&r.detail)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Up to `limit` rows after `seq`, in order.
pub(crate) async fn after(pool: &AnyPool, seq: i64, limit: i64) -> Result<Vec<Row>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
    )))
    .bind(seq)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Rows of a case, a user and/or an action (empty: any), at times in `[from, to)`, before
/// `before`, newest first; with `orgs`, only those whose actor belonged to one of them.
pub(crate) async fn matching(
    pool: &AnyPool,
    (case_id, user_id, action): (&str, &str, &str),
    (from, to): (i64, i64),
    before: i64,
    limit: i64,
    orgs: Option<&[String]>,
) -> Result<Vec<Row>> {
    // The actor's organisation among `orgs` (an empty list matches nothing).
    let in_orgs = match orgs {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_owned(),
        Some(list) => format!(
            " AND org_id IN ({})",
            (0..list.len())
                .map(|i| format!("${}", i + 8))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log
         WHERE ($1 = '' OR case_id = $1) AND ($2 = '' OR user_id = $2)
           AND ($7 = '' OR action = $7)
           AND at >= $3 AND at < $4 AND seq < $5{in_orgs}
         ORDER BY seq DESC LIMIT $6"
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(case_id)
        .bind(user_id)
        .bind(from)
        .bind(to)
        .bind(before)
        .bind(limit)
        .bind(action);
    for org in orgs.unwrap_or_default() {
        query = query.bind(org);
    }
    Ok(query.fetch_all(pool).await?)
}
