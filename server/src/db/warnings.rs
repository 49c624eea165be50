//! Warnings as stored: the open ones per case and kind, and what the scanner reads of the
//! case projection to raise them.

use std::collections::HashMap;

use sqlx::Row;

use super::scope::Scope;
use super::{Conn, Db, Dialect};
use crate::error::Result;

/// PostgreSQL advisory lock key of the scanner's leader ("gridscan").
const SCANNER_LOCK: i64 = 0x6772_6964_7363_616e;

/// An open warning as stored.
#[derive(Clone, Debug)]
pub(crate) struct WarningRow {
    pub(crate) case_id: String,
    pub(crate) kind: String,
    pub(crate) level: String,
    pub(crate) area_code: String,
    pub(crate) due_at: Option<i64>,
    pub(crate) raised_at: i64,
    pub(crate) updated_at: i64,
    /// Which installment an `INSTALLMENT` warning is about (its id in the agreement).
    pub(crate) item: Option<String>,
}

/// The open warnings of cases in `scope`, filtered by `level` and `kind` (empty: any),
/// nearest due first.
pub(crate) async fn open_in_scope(
    db: &Db,
    scope: &Scope<'_>,
    level: &str,
    kind: &str,
) -> Result<Vec<WarningRow>> {
    let (lo, hi, org) = scope.params();
    // Audited: built from constants only; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM warnings w WHERE w.cleared_at IS NULL
           AND w.case_id IN (SELECT k.id FROM cases k WHERE {})
           AND ($4 = '' OR w.level = $4) AND ($5 = '' OR w.kind = $5)
         ORDER BY w.due_at IS NULL, w.due_at, w.raised_at LIMIT 1000",
        Scope::sql(db.dialect, "k", 1)
    )))
    .bind(lo)
    .bind(hi)
    .bind(org)
    .bind(level)
    .bind(kind)
    .fetch_all(&db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WarningRow {
                case_id: r.try_get("case_id")?,
                kind: r.try_get("kind")?,
                level: r.try_get("level")?,
                area_code: r.try_get("area_code")?,
                due_at: r.try_get("due_at")?,
                raised_at: r.try_get("raised_at")?,
                updated_at: r.try_get("updated_at")?,
                // Warning ids are `{case}:{kind}` or `{case}:{kind}:{item}`.
                item: r
                    .try_get::<String, _>("id")?
                    .splitn(3, ':')
                    .nth(2)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// A case with a running deadline or flagged high-risk, as the projection holds it.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    pub(crate) case_id: String,
    pub(crate) due_kind: String,
    pub(crate) due_start: i64,
    pub(crate) due_at: i64,
    /// Every running deadline (JSON), when the projection has the column filled.
    pub(crate) deadlines: Option<String>,
    pub(crate) area_code: String,
    /// Assigned organisations, then the handling one.
    pub(crate) orgs: Vec<String>,
    pub(crate) status: String,
    pub(crate) supervision: String,
    pub(crate) high_risk: bool,
}

/// Every case with a running deadline or a high-risk flag.
pub(crate) async fn running(db: &Db) -> Result<Vec<Running>> {
    let rows = sqlx::query(
        "SELECT id, due_kind, due_start, due_at, deadlines, area_code, assigned_orgs,
                handling_org, status, supervision, high_risk
         FROM cases WHERE due_at IS NOT NULL OR high_risk <> 0",
    )
    .fetch_all(&db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let assigned: String = r.try_get("assigned_orgs")?;
            let mut orgs: Vec<String> = assigned
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(h) = r.try_get::<Option<String>, _>("handling_org")? {
                orgs.push(h);
            }
            Ok(Running {
                case_id: r.try_get("id")?,
                due_kind: r
                    .try_get::<Option<String>, _>("due_kind")?
                    .unwrap_or_default(),
                due_start: r.try_get::<Option<i64>, _>("due_start")?.unwrap_or(0),
                due_at: r.try_get::<Option<i64>, _>("due_at")?.unwrap_or(0),
                deadlines: r.try_get("deadlines")?,
                area_code: r.try_get("area_code")?,
                orgs,
                status: r.try_get("status")?,
                supervision: r.try_get("supervision")?,
                high_risk: r.try_get::<i64, _>("high_risk")? != 0,
            })
        })
        .collect()
}

/// The level of every open warning, by warning id.
pub(crate) async fn open_levels(db: &Db) -> Result<HashMap<String, String>> {
    sqlx::query("SELECT id, level FROM warnings WHERE cleared_at IS NULL")
        .fetch_all(&db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("level")?)))
        .collect()
}

/// A warning to raise (or raise again, if it had been cleared).
#[derive(Clone, Debug)]
pub(crate) struct Raised<'a> {
    pub(crate) id: &'a str,
    pub(crate) case_id: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) level: &'a str,
    pub(crate) area_code: &'a str,
    pub(crate) orgs: &'a [String],
    pub(crate) due_at: Option<i64>,
}

/// Raises a warning that is not open (new, or cleared before).
pub(crate) async fn raise(conn: &mut Conn, w: &Raised<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO warnings (id, case_id, kind, level, area_code, org_ids, due_at, raised_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (id) DO UPDATE SET level = excluded.level, due_at = excluded.due_at,
            updated_at = excluded.updated_at, cleared_at = NULL, org_ids = excluded.org_ids",
    )
    .bind(w.id)
    .bind(w.case_id)
    .bind(w.kind)
    .bind(w.level)
    .bind(w.area_code)
    .bind(format!(",{},", w.orgs.join(",")))
    .bind(w.due_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Raises a case's high-risk alert unless it has one (open or cleared); returns whether
/// it was raised now.
pub(crate) async fn raise_high_risk(
    db: &Db,
    case_id: &str,
    area_code: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO warnings (id, case_id, kind, level, area_code, org_ids, raised_at, updated_at)
         VALUES ($1, $2, 'HIGH_RISK', 'RED', $3, ',', $4, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("{case_id}:HIGH_RISK"))
    .bind(case_id)
    .bind(area_code)
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An open warning's new level.
pub(crate) async fn escalate(
    conn: &mut Conn,
    id: &str,
    level: &str,
    due_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE warnings SET level = $2, updated_at = $3, due_at = $4 WHERE id = $1")
        .bind(id)
        .bind(level)
        .bind(now)
        .bind(due_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Clears a warning whose cause went away.
pub(crate) async fn clear(conn: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE warnings SET cleared_at = $2, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A case's area, high-risk flag and status, as projected.
pub(crate) async fn risk_of(db: &Db, case_id: &str) -> Result<Option<(String, bool, String)>> {
    let row = sqlx::query("SELECT area_code, high_risk, status FROM cases WHERE id = $1")
        .bind(case_id)
        .fetch_optional(&db.pool())
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("area_code")?,
            r.try_get::<i64, _>("high_risk")? != 0,
            r.try_get("status")?,
        ))
    })
    .transpose()
}

/// The right to scan, held as long as this value lives: on PostgreSQL a session advisory
/// lock on its own connection (one scanner per deployment); SQLite has one process.
#[derive(Debug)]
pub(crate) struct ScannerLease {
    _conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
}

/// Takes the scanner's lease, or `None` while another process holds it.
pub(crate) async fn lead_scanner(db: &Db) -> Result<Option<ScannerLease>> {
    if db.dialect == Dialect::Sqlite {
        return Ok(Some(ScannerLease { _conn: None }));
    }
    let mut conn = db.pool().acquire().await?;
    let got: bool = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
        .bind(SCANNER_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    Ok(got.then_some(ScannerLease { _conn: Some(conn) }))
}
