//! Dispatch rules (the auto-dispatch table) as stored.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Conn, Db};
use crate::error::{Error, Result};

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DispatchRule {
    pub id: String,
    pub priority: i64,
    /// A category code; `None`: any.
    pub category: Option<String>,
    /// A risk level code; `None`: any.
    pub risk_level: Option<String>,
    /// An area-code prefix; `None`: anywhere.
    pub area_prefix: Option<String>,
    /// The center that accepts.
    pub center_org: String,
    /// Where the case goes.
    pub target_org: String,
    /// Accept and dispatch without a person.
    pub automatic: bool,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<DispatchRule> {
    Ok(DispatchRule {
        id: r.try_get("id")?,
        priority: r.try_get("priority")?,
        category: r.try_get("category")?,
        risk_level: r.try_get("risk_level")?,
        area_prefix: r.try_get("area_prefix")?,
        center_org: r.try_get("center_org")?,
        target_org: r.try_get("target_org")?,
        automatic: r.try_get::<i64, _>("automatic")? != 0,
    })
}

/// Every rule, in the order they are tried.
pub(crate) async fn list(db: &Db) -> Result<Vec<DispatchRule>> {
    let rows = sqlx::query("SELECT * FROM dispatch_rules ORDER BY priority, id")
        .fetch_all(&db.pool())
        .await?;
    rows.iter().map(from_row).collect()
}

/// A new rule; 409 `conflict` if its id is taken.
pub(crate) async fn insert(conn: &mut Conn, rule: &DispatchRule, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO dispatch_rules (id, priority, category, risk_level, area_prefix, center_org,
            target_org, automatic, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&rule.id)
    .bind(rule.priority)
    .bind(&rule.category)
    .bind(&rule.risk_level)
    .bind(&rule.area_prefix)
    .bind(&rule.center_org)
    .bind(&rule.target_org)
    .bind(i64::from(rule.automatic))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict(format!("rule {} exists", rule.id))
        }
        _ => Error::Database(e),
    })?;
    Ok(())
}

/// Deletes a rule; `NotFound` if there is none.
pub(crate) async fn delete(conn: &mut Conn, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM dispatch_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("dispatch rule"));
    }
    Ok(())
}
