//! The statistics' queries (`crate::stats` holds no SQL): a period's cohort of cases from
//! the projection, within what an organisation sees ([`Scope`], the one definition), and the
//! organisation names the exports print.

use std::collections::HashMap;

use sqlx::Row;

use super::Db;
use super::scope::Scope;
use crate::error::Result;

/// One case of a cohort: the projection columns the figures need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseRow {
    pub id: String,
    pub case_no: Option<String>,
    pub title: String,
    pub status: String,
    pub category: String,
    pub risk_level: String,
    pub area_code: String,
    pub source: String,
    pub party_names: String,
    /// Submission, or the on-the-spot resolution of a case never submitted.
    pub received_at: i64,
    pub submitted_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolved_success: Option<bool>,
    pub resolved_on_time: Option<bool>,
    pub resolved_tier: Option<String>,
    pub dispatched_at: Option<i64>,
    pub signed_at: Option<i64>,
    /// The last dispatch was signed for within its limit; `None`: not signed for.
    pub signed_on_time: Option<bool>,
    pub satisfaction: Option<i64>,
}

/// The cases received in `[start, end)` (epoch ms; received = submitted, or resolved on the
/// spot without a submission; drafts never) that `seen` covers, with area codes under
/// `area` (`None`: any), in order of receipt.
pub(crate) async fn cohort(
    db: &Db,
    seen: Scope<'_>,
    area: Option<&str>,
    (start, end): (i64, i64),
) -> Result<Vec<CaseRow>> {
    let (scope_lo, scope_hi, org) = seen.params();
    // No area asked for: every code (the empty prefix).
    let (area_lo, area_hi) = super::cases::area_range(Some(area.unwrap_or("")));
    // Audited: built from constants only; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, case_no, title, status, category, risk_level, area_code, source, party_names,
                COALESCE(submitted_at, resolved_at) AS received_at, submitted_at, accepted_at,
                resolved_at, resolved_success, resolved_on_time, resolved_tier, dispatched_at,
                signed_at, signed_on_time, satisfaction
         FROM cases
         WHERE {}
           AND area_code >= $4 AND area_code < $5
           AND status <> 'DRAFT'
           AND COALESCE(submitted_at, resolved_at) >= $6 AND COALESCE(submitted_at, resolved_at) < $7
         ORDER BY received_at, id",
        Scope::sql(db.dialect, "cases", 1)
    )))
    .bind(scope_lo)
    .bind(scope_hi)
    .bind(org)
    .bind(area_lo)
    .bind(area_hi)
    .bind(start)
    .bind(end)
    .fetch_all(&db.pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            let flag = |col: &str| -> Result<Option<bool>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
            };
            Ok(CaseRow {
                id: r.try_get("id")?,
                case_no: r.try_get("case_no")?,
                title: r.try_get("title")?,
                status: r.try_get("status")?,
                category: r.try_get("category")?,
                risk_level: r.try_get("risk_level")?,
                area_code: r.try_get("area_code")?,
                source: r.try_get("source")?,
                party_names: r.try_get("party_names")?,
                received_at: r.try_get("received_at")?,
                submitted_at: r.try_get("submitted_at")?,
                accepted_at: r.try_get("accepted_at")?,
                resolved_at: r.try_get("resolved_at")?,
                resolved_success: flag("resolved_success")?,
                resolved_on_time: flag("resolved_on_time")?,
                resolved_tier: r.try_get("resolved_tier")?,
                dispatched_at: r.try_get("dispatched_at")?,
                signed_at: r.try_get("signed_at")?,
                signed_on_time: flag("signed_on_time")?,
                satisfaction: r.try_get("satisfaction")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(rows)
}

/// Every organisation's name and kind, by id.
pub(crate) async fn org_names(db: &Db) -> Result<HashMap<String, (String, String)>> {
    let rows = sqlx::query("SELECT id, name, kind FROM orgs")
        .fetch_all(&db.pool)
        .await?;
    let names = rows
        .iter()
        .map(|r| Ok((r.try_get("id")?, (r.try_get("name")?, r.try_get("kind")?))))
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(names)
}
