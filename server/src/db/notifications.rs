//! The notification queue (`notifications`): messages to send, claimed by the sender, and
//! kept afterwards as a record without their personal content (see the migration 0016).

use sqlx::Row;

use super::Db;
use crate::error::Result;

/// A message to queue.
#[derive(Clone, Debug)]
pub(crate) struct NewNotification<'a> {
    pub(crate) dedup_key: Option<&'a str>,
    pub(crate) kind: &'a str,
    pub(crate) channel: &'a str,
    pub(crate) template: &'a str,
    pub(crate) recipient: &'a str,
    pub(crate) case_id: Option<&'a str>,
    pub(crate) target: &'a str,
    pub(crate) params: &'a str,
}

/// A queued message due now.
#[derive(Clone, Debug)]
pub(crate) struct Due {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) channel: String,
    pub(crate) template: String,
    pub(crate) recipient: String,
    pub(crate) target: String,
    pub(crate) params: String,
    pub(crate) created_at: i64,
    pub(crate) next_at: i64,
    pub(crate) attempts: i64,
}

/// A message as recorded (what `GET /v1/notifications`-like readers and tests see).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub channel: String,
    pub template: String,
    pub recipient: String,
    pub case_id: Option<String>,
    pub created_at: i64,
    pub attempts: i64,
    /// The next try (or, while one is under way, the end of its lease).
    pub next_at: i64,
    pub delivered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    /// Whether the number (or device) and the template's values are still held.
    pub holds_content: bool,
}

/// Queues a message; `false` when its `dedup_key` was queued before (nothing written).
pub(crate) async fn insert(db: &Db, n: &NewNotification<'_>, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO notifications (id, dedup_key, kind, channel, template, recipient, case_id,
             target, params, created_at, next_at, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 0)
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(n.dedup_key)
    .bind(n.kind)
    .bind(n.channel)
    .bind(n.template)
    .bind(n.recipient)
    .bind(n.case_id)
    .bind(n.target)
    .bind(n.params)
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Messages due at `now`, oldest first.
pub(crate) async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<Due>> {
    let rows = sqlx::query(
        "SELECT id, kind, channel, template, recipient, target, params, created_at, next_at,
                attempts
         FROM notifications
         WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_at <= $1
         ORDER BY next_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                channel: r.try_get("channel")?,
                template: r.try_get("template")?,
                recipient: r.try_get("recipient")?,
                target: r
                    .try_get::<Option<String>, _>("target")?
                    .unwrap_or_default(),
                params: r
                    .try_get::<Option<String>, _>("params")?
                    .unwrap_or_default(),
                created_at: r.try_get("created_at")?,
                next_at: r.try_get("next_at")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Claims a due message for one attempt (another sender, in this process or another, that
/// read the same row loses): its next try is pushed to `lease_until` meanwhile.
pub(crate) async fn claim(db: &Db, d: &Due, lease_until: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE notifications SET next_at = $3, attempts = attempts + 1
         WHERE id = $1 AND next_at = $2 AND delivered_at IS NULL AND abandoned_at IS NULL",
    )
    .bind(&d.id)
    .bind(d.next_at)
    .bind(lease_until)
    .execute(&db.writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Delivered: the number and the values are forgotten.
pub(crate) async fn delivered(db: &Db, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET delivered_at = $2, target = NULL, params = NULL,
             last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// Failed: tried again at `next_at`, or (`None`) abandoned and its content forgotten.
/// `error` names the failure without personal data (a status, a timeout).
pub(crate) async fn failed(
    db: &Db,
    id: &str,
    error: &str,
    next_at: Option<i64>,
    now: i64,
) -> Result<()> {
    match next_at {
        Some(at) => {
            sqlx::query("UPDATE notifications SET next_at = $2, last_error = $3 WHERE id = $1")
                .bind(id)
                .bind(at)
                .bind(error)
                .execute(&db.writer)
                .await?
        }
        None => {
            sqlx::query(
                "UPDATE notifications SET abandoned_at = $2, last_error = $3, target = NULL,
                     params = NULL
                 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(error)
            .execute(&db.writer)
            .await?
        }
    };
    Ok(())
}

/// The record of every message about a case, or of every message (`None`), oldest first.
pub async fn records(db: &Db, case_id: Option<&str>) -> Result<Vec<Record>> {
    let rows = sqlx::query(
        "SELECT kind, channel, template, recipient, case_id, created_at, attempts, next_at,
                delivered_at, abandoned_at,
                CASE WHEN target IS NULL AND params IS NULL THEN 0 ELSE 1 END AS holds
         FROM notifications WHERE ($1 = '' OR case_id = $1)
         ORDER BY created_at, id",
    )
    .bind(case_id.unwrap_or_default())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Record {
                kind: r.try_get("kind")?,
                channel: r.try_get("channel")?,
                template: r.try_get("template")?,
                recipient: r.try_get("recipient")?,
                case_id: r.try_get("case_id")?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
                next_at: r.try_get("next_at")?,
                delivered_at: r.try_get("delivered_at")?,
                abandoned_at: r.try_get("abandoned_at")?,
                holds_content: r.try_get::<i64, _>("holds")? != 0,
            })
        })
        .collect()
}

/// The active devices of the users of these organisations (the "sync now" signal's
/// recipients).
pub(crate) async fn devices_of_orgs(db: &Db, orgs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for org in orgs {
        let rows = sqlx::query(
            "SELECT d.id FROM devices d JOIN users u ON u.id = d.user_id
             WHERE u.org_id = $1 AND u.active = 1 AND d.revoked_at IS NULL
               AND d.id NOT LIKE 'web-%'
             ORDER BY d.id",
        )
        .bind(org)
        .fetch_all(&db.pool)
        .await?;
        for r in rows {
            out.push(r.try_get("id")?);
        }
    }
    Ok(out)
}

/// A staff member's mobile, if one is registered.
pub(crate) async fn staff_mobile(db: &Db, user_id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT mobile FROM staff_mobiles WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok(r.try_get("mobile")?)).transpose()
}

/// Registers (or replaces) a staff member's mobile.
pub async fn set_staff_mobile(db: &Db, user_id: &str, mobile: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO staff_mobiles (user_id, mobile) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET mobile = excluded.mobile",
    )
    .bind(user_id)
    .bind(mobile)
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// Active users of these organisations in one of these roles: (id, role code).
pub(crate) async fn users_of_orgs(db: &Db, orgs: &[String], roles: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for org in orgs {
        let rows =
            sqlx::query("SELECT id, role FROM users WHERE org_id = $1 AND active = 1 ORDER BY id")
                .bind(org)
                .fetch_all(&db.pool)
                .await?;
        for r in rows {
            let role: String = r.try_get("role")?;
            if roles.contains(&role.as_str()) {
                out.push(r.try_get("id")?);
            }
        }
    }
    Ok(out)
}

/// An open warning, for the staff messages: the case's number and organisations.
#[derive(Clone, Debug)]
pub(crate) struct OpenWarning {
    pub(crate) case_id: String,
    pub(crate) case_no: String,
    pub(crate) kind: String,
    pub(crate) level: String,
    pub(crate) orgs: Vec<String>,
}

async fn warnings_where(db: &Db, kinds: &str, level: &str) -> Result<Vec<OpenWarning>> {
    let rows = sqlx::query(
        "SELECT w.case_id, w.kind, w.level, w.org_ids, c.case_no
         FROM warnings w JOIN cases c ON c.id = w.case_id
         WHERE w.cleared_at IS NULL AND $1 LIKE '%,' || w.kind || ',%'
           AND ($2 = '' OR w.level = $2)
         ORDER BY w.raised_at LIMIT 5000",
    )
    .bind(kinds)
    .bind(level)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let orgs: String = r.try_get("org_ids")?;
            Ok(OpenWarning {
                case_id: r.try_get("case_id")?,
                case_no: r
                    .try_get::<Option<String>, _>("case_no")?
                    .unwrap_or_default(),
                kind: r.try_get("kind")?,
                level: r.try_get("level")?,
                orgs: orgs
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect()
}

/// Open sign-for and handling warnings.
pub(crate) async fn open_warnings(db: &Db) -> Result<Vec<OpenWarning>> {
    warnings_where(db, ",SIGN,HANDLE,", "").await
}

/// A case's number, if it has one.
pub(crate) async fn case_no(db: &Db, case_id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT case_no FROM cases WHERE id = $1")
        .bind(case_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row
        .map(|r| r.try_get::<Option<String>, _>("case_no"))
        .transpose()?
        .flatten())
}
