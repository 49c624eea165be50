//! The candidates of a task list (`GET /v1/me/tasks`): cases in a scope that may hold work,
//! preselected from the projection; the workflow (`gridsync_core::workflow::task_for`)
//! decides over each one's document.

use sqlx::Row;

use super::Db;
use super::scope::Scope;
use crate::error::Result;

/// At most this many candidates per list (the oldest change last).
pub(crate) const MAX_CANDIDATES: i64 = 2000;

/// Ids (with the position of their last change) of the cases in `scope` still in the workflow: not drafts, archived or void, and a
/// followed-up case only while a deadline (an installment) runs. With `org`, only cases
/// dispatched to or handled by that organisation (a department's work is always so).
pub(crate) async fn candidates(
    db: &Db,
    scope: Scope<'_>,
    org: Option<&str>,
) -> Result<Vec<(String, i64)>> {
    let (scope_lo, scope_hi, scope_org) = scope.params();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT k.id, k.updated_pos FROM cases k
         WHERE {scope}
           AND k.status NOT IN ('DRAFT', 'ARCHIVED', 'VOID')
           AND (k.status <> 'FOLLOWED_UP' OR k.due_at IS NOT NULL)
           AND ($4 = '' OR k.id IN (SELECT o.case_id FROM case_orgs o WHERE o.org_id = $4))
         ORDER BY k.updated_pos DESC LIMIT $5",
        scope = Scope::sql(db.dialect, "k", 1),
    )))
    .bind(scope_lo)
    .bind(scope_hi)
    .bind(scope_org)
    .bind(org.unwrap_or(""))
    .bind(MAX_CANDIDATES)
    .fetch_all(&db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("updated_pos")?)))
        .collect()
}
