//! The center's case list: cases in a scope, filtered, newest change first, paged by
//! `updated_pos`.

use sqlx::Row;

use super::Db;
use super::scope::Scope;
use crate::error::Result;

/// Which cases to list; empty strings: any.
#[derive(Clone, Debug)]
pub(crate) struct Query<'a> {
    pub(crate) scope: Scope<'a>,
    pub(crate) status: &'a str,
    pub(crate) category: &'a str,
    pub(crate) risk: &'a str,
    /// In the title, the party names or the case number.
    pub(crate) text: &'a str,
    /// `updated_pos` of the last row of the previous page.
    pub(crate) before: Option<i64>,
    pub(crate) limit: i64,
    /// An area-code prefix (digits).
    pub(crate) area: &'a str,
    /// An organisation the case is dispatched to or handled by.
    pub(crate) org: &'a str,
    /// Only cases whose running deadline is at or before this.
    pub(crate) overdue_at: Option<i64>,
    /// A source code (how the case reached the system).
    pub(crate) source: &'a str,
}

/// A listed case: the projection's columns.
#[derive(Clone, Debug)]
pub(crate) struct Listed {
    pub(crate) id: String,
    pub(crate) case_no: Option<String>,
    pub(crate) title: String,
    pub(crate) status: String,
    pub(crate) category: String,
    pub(crate) risk_level: String,
    pub(crate) high_risk: bool,
    pub(crate) source: String,
    pub(crate) area_code: String,
    pub(crate) tier: String,
    pub(crate) handling_org: Option<String>,
    pub(crate) assigned_orgs: Vec<String>,
    pub(crate) supervision: String,
    pub(crate) due_kind: Option<String>,
    pub(crate) due_at: Option<i64>,
    pub(crate) party_names: String,
    pub(crate) updated_pos: i64,
}

/// Drafts are the recorder's own work: the center lists cases from submission on.
pub(crate) async fn list(db: &Db, q: &Query<'_>) -> Result<Vec<Listed>> {
    let text = if q.text.is_empty() {
        String::new()
    } else {
        format!("%{}%", q.text)
    };
    let (scope_lo, scope_hi, scope_org) = q.scope.params();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM cases k
         WHERE {scope}
           AND k.status <> 'DRAFT'
           AND ($4 = '' OR k.status = $4) AND ($5 = '' OR k.category = $5) AND ($6 = '' OR k.risk_level = $6)
           AND ($7 = '' OR k.title LIKE $7 OR k.party_names LIKE $7 OR k.case_no LIKE $7)
           AND k.updated_pos < $8
           AND ($10 = '' OR (k.area_code >= $10 AND k.area_code < $11))
           AND ($12 = '' OR k.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = $12))
           AND ($13 = 0 OR (k.due_at IS NOT NULL AND k.due_at <= $14))
           AND ($15 = '' OR k.source = $15)
         ORDER BY k.updated_pos DESC LIMIT $9",
        scope = Scope::sql(db.dialect, "k", 1),
    )))
    .bind(scope_lo)
    .bind(scope_hi)
    .bind(scope_org)
    .bind(q.status)
    .bind(q.category)
    .bind(q.risk)
    .bind(text)
    .bind(q.before.unwrap_or(i64::MAX))
    .bind(q.limit)
    .bind(q.area)
    .bind(format!("{}:", q.area))
    .bind(q.org)
    .bind(i64::from(q.overdue_at.is_some()))
    .bind(q.overdue_at.unwrap_or(0))
    .bind(q.source)
    .fetch_all(&db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let assigned: String = r.try_get("assigned_orgs")?;
            Ok(Listed {
                id: r.try_get("id")?,
                case_no: r.try_get("case_no")?,
                title: r.try_get("title")?,
                status: r.try_get("status")?,
                category: r.try_get("category")?,
                risk_level: r.try_get("risk_level")?,
                high_risk: r.try_get::<i64, _>("high_risk")? != 0,
                source: r.try_get("source")?,
                area_code: r.try_get("area_code")?,
                tier: r.try_get("tier")?,
                handling_org: r.try_get("handling_org")?,
                assigned_orgs: assigned
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                supervision: r.try_get("supervision")?,
                due_kind: r.try_get("due_kind")?,
                due_at: r.try_get("due_at")?,
                party_names: r.try_get("party_names")?,
                updated_pos: r.try_get("updated_pos")?,
            })
        })
        .collect()
}
