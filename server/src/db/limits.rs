//! Time-limit rules as stored.

use gridsync_core::workflow::TimeLimits;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Conn, Db};
use crate::error::Result;

/// A time-limit rule: limits for a tier and/or category (`None`: any), in an area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeLimitRule {
    pub id: String,
    pub tier: Option<String>,
    pub category: Option<String>,
    /// An area-code prefix (a township's own limits); `None`: the whole county.
    #[serde(default)]
    pub area_prefix: Option<String>,
    /// Milliseconds per limit (`accept`, `accept_high_risk`, `sign`, `handle_simple`,
    /// `handle_general`, `handle_complex`, `follow_up`, and `co_handle`: a co-handling
    /// organisation's feedback on a joint case, 3 days when left out) and `yellow_percent`.
    #[schema(value_type = Object)]
    pub limits: TimeLimits,
}

/// Every configured rule, by id.
pub(crate) async fn list(db: &Db) -> Result<Vec<TimeLimitRule>> {
    let rows = sqlx::query("SELECT * FROM time_limit_rules ORDER BY id")
        .fetch_all(&db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let ms = |k: &str| r.try_get::<i64, _>(k);
            Ok(TimeLimitRule {
                id: r.try_get("id")?,
                tier: r.try_get("tier")?,
                category: r.try_get("category")?,
                area_prefix: r.try_get("area_prefix")?,
                limits: TimeLimits {
                    accept: ms("accept")?,
                    accept_high_risk: ms("accept_high_risk")?,
                    sign: ms("sign")?,
                    handle_simple: ms("handle_simple")?,
                    handle_general: ms("handle_general")?,
                    handle_complex: ms("handle_complex")?,
                    follow_up: ms("follow_up")?,
                    co_handle: ms("co_handle")?,
                    yellow_percent: u8::try_from(ms("yellow_percent")?).unwrap_or(70),
                },
            })
        })
        .collect()
}

/// Adds or replaces a rule.
pub(crate) async fn upsert(conn: &mut Conn, rule: &TimeLimitRule, now: i64) -> Result<()> {
    let l = &rule.limits;
    sqlx::query(
        "INSERT INTO time_limit_rules (id, tier, category, area_prefix, accept, accept_high_risk,
            sign, handle_simple, handle_general, handle_complex, follow_up, yellow_percent, created_at,
            co_handle)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (id) DO UPDATE SET tier = excluded.tier, category = excluded.category,
            area_prefix = excluded.area_prefix,
            accept = excluded.accept, accept_high_risk = excluded.accept_high_risk,
            sign = excluded.sign, handle_simple = excluded.handle_simple,
            handle_general = excluded.handle_general, handle_complex = excluded.handle_complex,
            follow_up = excluded.follow_up, yellow_percent = excluded.yellow_percent,
            co_handle = excluded.co_handle",
    )
    .bind(&rule.id)
    .bind(&rule.tier)
    .bind(&rule.category)
    .bind(&rule.area_prefix)
    .bind(l.accept)
    .bind(l.accept_high_risk)
    .bind(l.sign)
    .bind(l.handle_simple)
    .bind(l.handle_general)
    .bind(l.handle_complex)
    .bind(l.follow_up)
    .bind(i64::from(l.yellow_percent))
    .bind(now)
    .bind(l.co_handle)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
