//! What a device is sent: its row (last scope, whole-send counter), the cases newly in its
//! scope, the changes after its cursor, the cases that left its scope and the revocations
//! repeated to it. The queries of `pull`, here so that no SQL lives outside `db`.

use sqlx::{AnyConnection, AnyPool, Row};

use super::Dialect;
use super::scope::{NOT_EXPIRED, Scope};
use crate::error::Result;

/// What a sync reads of the device's own row, once.
#[derive(Debug)]
pub(crate) struct DeviceRow {
    /// The organisation whose scope the device last completed a pull under.
    pub(crate) scope_org: Option<String>,
    /// The last number given to a response carrying whole cases.
    pub(crate) whole_no: i64,
}

pub(crate) async fn device_row(pool: &AnyPool, device: &str) -> Result<DeviceRow> {
    let (scope_org, whole_no) =
        sqlx::query_as("SELECT scope_org, whole_no FROM devices WHERE id = $1")
            .bind(device)
            .fetch_optional(pool)
            .await?
            .unwrap_or((None, 0));
    Ok(DeviceRow {
        scope_org,
        whole_no,
    })
}

/// Forgets everything the device held: its store is fresh (a new install, or data lost), so
/// everything comes whole again.
pub(crate) async fn forget_held(conn: &mut AnyConnection, device: &str) -> Result<()> {
    sqlx::query("DELETE FROM device_cases WHERE device_id = $1")
        .bind(device)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Forgets the cases sent whole in responses after `applied` (the device never applied
/// them: the answer was lost); whether there were any.
pub(crate) async fn forget_lost_whole_sends(
    writer: &AnyPool,
    device: &str,
    applied: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "DELETE FROM device_cases
         WHERE device_id = $1 AND whole_no > $2 AND revoked_at IS NULL",
    )
    .bind(device)
    .bind(applied)
    .execute(writer)
    .await?
    .rows_affected()
        > 0)
}

/// The scope's parameters as every query here binds them: `$1`, `$2` the area range, `$3`
/// the organisation, `$4` the archive cutoff, `$5` the device.
pub(crate) struct DeviceScope<'a> {
    pub(crate) scope: Scope<'a>,
    /// Archived cases older than this have left the device's scope.
    pub(crate) cutoff: i64,
    pub(crate) device: &'a str,
}

impl DeviceScope<'_> {
    fn bind<'q>(
        &self,
        q: sqlx::query::QueryScalar<'q, sqlx::Any, String, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryScalar<'q, sqlx::Any, String, sqlx::any::AnyArguments> {
        let (lo, hi, org) = self.scope.params();
        q.bind(lo)
            .bind(hi)
            .bind(org)
            .bind(self.cutoff)
            .bind(self.device.to_owned())
    }
}

/// Submitted cases in the scope the device does not hold, oldest change first (at most
/// `limit`). `since`: only cases changed after this feed position (a scope that did not
/// change); `None`: the whole scope (a fresh store, a moved user, a lost whole send).
pub(crate) async fn newly_in_scope(
    conn: &mut AnyConnection,
    dialect: Dialect,
    at: &DeviceScope<'_>,
    since: Option<i64>,
    limit: i64,
) -> Result<Vec<String>> {
    // Since the cursor, the `updated_pos` index finds the few candidates. A rescan looks at
    // the whole scope as the union of its two index lookups (`Scope::ids_sql`).
    // `$6 = $6`: the cursor is bound either way, and every bound parameter must appear.
    let candidates = match since {
        None => format!(
            "$6 = $6 AND k.id IN ({}) AND {NOT_EXPIRED}",
            Scope::ids_sql(dialect, 1)
        ),
        Some(_) => format!(
            "k.updated_pos > $6 AND {} AND {NOT_EXPIRED}",
            Scope::sql(dialect, "k", 1)
        ),
    };
    // Audited: built from constants only; values are bound.
    let q = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT k.id FROM cases k WHERE {candidates} AND k.status <> 'DRAFT'
           AND NOT EXISTS (SELECT 1 FROM device_cases d
                           WHERE d.device_id = $5 AND d.case_id = k.id AND d.revoked_at IS NULL)
         ORDER BY k.updated_pos LIMIT $7"
    )));
    Ok(at
        .bind(q)
        .bind(since.unwrap_or(-1))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}

/// Every change of a case, in feed order: (position, bytes).
pub(crate) async fn case_changes(
    conn: &mut AnyConnection,
    case_id: &str,
) -> Result<Vec<(i64, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT pos, bytes FROM changes WHERE case_id = $1 ORDER BY pos")
            .bind(case_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Numbers a response that carries cases whole and records that the device holds them
/// (each up to its last position); returns the number.
pub(crate) async fn record_whole_send(
    writer: &AnyPool,
    device: &str,
    sent: &[(String, i64)],
) -> Result<i64> {
    let mut tx = writer.begin().await?;
    let no: i64 = sqlx::query_scalar(
        "UPDATE devices SET whole_no = whole_no + 1 WHERE id = $1 RETURNING whole_no",
    )
    .bind(device)
    .fetch_one(&mut *tx)
    .await?;
    for (case_id, max_pos) in sent {
        super::cases::hold(&mut tx, device, case_id, *max_pos, no).await?;
    }
    tx.commit().await?;
    Ok(no)
}

/// Changes of the cases the device holds after `cursor` (up to `feed_end`), minus its own,
/// in feed order: (position, case id, bytes), at most `limit`.
pub(crate) async fn changes_after(
    conn: &mut AnyConnection,
    device: &str,
    cursor: i64,
    feed_end: i64,
    limit: i64,
) -> Result<Vec<(i64, String, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT c.pos, c.case_id, c.bytes FROM changes c
         JOIN device_cases d ON d.case_id = c.case_id AND d.device_id = $1 AND d.revoked_at IS NULL
         WHERE c.pos > $2 AND c.pos > d.since_pos AND c.pos <= $3
           AND (c.device_id IS NULL OR c.device_id <> $1)
         ORDER BY c.pos LIMIT $4",
    )
    .bind(device)
    .bind(cursor)
    .bind(feed_end)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("pos")?,
                r.try_get("case_id")?,
                r.try_get("bytes")?,
            ))
        })
        .collect()
}

/// Cases the device holds that are no longer in its scope.
pub(crate) async fn leaving(
    conn: &mut AnyConnection,
    dialect: Dialect,
    at: &DeviceScope<'_>,
) -> Result<Vec<String>> {
    // COALESCE: should any term be NULL, NOT NULL would keep the case on the phone (a NULL
    // handling_org once did exactly that).
    let q = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT d.case_id FROM device_cases d JOIN cases k ON k.id = d.case_id
         WHERE d.device_id = $5 AND d.revoked_at IS NULL
           AND NOT COALESCE(({} AND {NOT_EXPIRED}), FALSE)",
        Scope::sql(dialect, "k", 1)
    )));
    Ok(at.bind(q).fetch_all(&mut *conn).await?)
}

/// Marks cases revoked from the device (told to it for a while, in case an answer is lost).
pub(crate) async fn revoke(
    writer: &AnyPool,
    device: &str,
    cases: &[String],
    now: i64,
) -> Result<()> {
    let mut tx = writer.begin().await?;
    for case_id in cases {
        sqlx::query(
            "UPDATE device_cases SET revoked_at = $3 WHERE device_id = $1 AND case_id = $2",
        )
        .bind(device)
        .bind(case_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Cases revoked from the device after `since`, by id.
pub(crate) async fn revoked_since(pool: &AnyPool, device: &str, since: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT case_id FROM device_cases
         WHERE device_id = $1 AND revoked_at IS NOT NULL AND revoked_at > $2
         ORDER BY case_id",
    )
    .bind(device)
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// The organisation whose whole scope the device has now been sent.
pub(crate) async fn set_scope_org(writer: &AnyPool, device: &str, org: &str) -> Result<()> {
    sqlx::query("UPDATE devices SET scope_org = $2 WHERE id = $1")
        .bind(device)
        .bind(org)
        .execute(writer)
        .await?;
    Ok(())
}
