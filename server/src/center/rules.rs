//! Auto-dispatch (智能导办 / 分类转办): rules map a submitted case's category, risk and area
//! to the responsible organisation. An automatic rule has the server's `system` actor accept
//! the case (numbering it) and dispatch it within the sync that brought it, so the phone's
//! answer already carries the dispatch and the department's phones see the case at once.
//!
//! Rules are tried in `priority` order (then id); the first that matches wins. A rule that
//! is not automatic is a suggestion shown to dispatchers. Staff change rules only inside
//! their scope ([`add_by`], [`remove_by`]), and every change is audited.

use gridsync_core::case::CaseId;
use gridsync_core::workflow::{Action, Author, OrgRef, Role, Status, Tier};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::caller::Caller;
use crate::db::Db;
use crate::db::accounts::Org;
use crate::error::{Error, Result};
use crate::policy::{self, Refusal};
use crate::state::AppState;

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

impl DispatchRule {
    pub fn matches(&self, category: &str, risk_level: &str, area_code: &str) -> bool {
        self.category.as_deref().is_none_or(|c| c == category)
            && self.risk_level.as_deref().is_none_or(|r| r == risk_level)
            && self
                .area_prefix
                .as_deref()
                .is_none_or(|p| area_code.starts_with(p))
    }
}

fn rule_from_row(r: &sqlx::any::AnyRow) -> Result<DispatchRule> {
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
pub async fn list(db: &Db) -> Result<Vec<DispatchRule>> {
    let rows = sqlx::query("SELECT * FROM dispatch_rules ORDER BY priority, id")
        .fetch_all(&db.pool())
        .await?;
    rows.iter().map(rule_from_row).collect()
}

/// What makes a rule sound, whoever adds it: known codes; a center (`center_org`) whose
/// scope holds the rule's area (no `area_prefix`: a county-level center); a target that
/// handles cases within that center's reach (`cases::dispatch_targets`, the same check as a
/// dispatcher's DISPATCH: unknown 400, outside the reach 403 `out_of_scope`).
async fn check(db: &Db, rule: &DispatchRule) -> Result<Org, Refusal> {
    let invalid = |field: &str, message: String| Refusal::invalid("invalid_input", field, message);
    super::check_rule_fields(
        &rule.id,
        rule.category.as_deref(),
        rule.area_prefix.as_deref(),
    )?;
    if let Some(r) = &rule.risk_level {
        r.parse::<gridsync_core::case::RiskLevel>()
            .map_err(|e| invalid("risk_level", e.to_string()))?;
    }
    let center = db
        .org(&rule.center_org)
        .await?
        .filter(|o| o.kind == "CENTER")
        .ok_or_else(|| invalid("center_org", format!("no center {:?}", rule.center_org)))?;
    let holds_area = match (rule.area_prefix.as_deref(), center.scope_prefix.as_deref()) {
        (Some(area), Some(scope)) => area.starts_with(scope),
        (None, Some(_)) => center.tier == Tier::County,
        (_, None) => false,
    };
    if !holds_area {
        return Err(invalid(
            "area_prefix",
            format!(
                "the area lies outside {}'s scope (no area_prefix: a county center's rule)",
                center.id
            ),
        ));
    }
    crate::center::cases::dispatch_targets(
        db,
        &center,
        std::slice::from_ref(&rule.target_org),
        "invalid_input",
        "target_org",
    )
    .await?;
    Ok(center)
}

/// Adds a rule after checking it (trusted callers: the demo, `gridsync admin`; staff go
/// through [`add_by`]).
pub async fn add(db: &Db, rule: &DispatchRule, now: i64) -> Result<()> {
    check(db, rule).await.map_err(|r| match r {
        Refusal::Failed(e) => e,
        other => Error::Invalid(other.to_string()),
    })?;
    let mut conn = db.writer.acquire().await?;
    insert(&mut conn, rule, now).await
}

/// Adds a rule for a caller: its area inside the caller's scope (none: county-wide, for a
/// county-level center's staff or an administrator), its center the caller's own or one
/// below, and sound ([`check`]); audited in the same transaction.
pub async fn add_by(state: &AppState, caller: &Caller, rule: &DispatchRule) -> Result<(), Refusal> {
    if !policy::covers(caller, rule.area_prefix.as_deref()) {
        return Err(Refusal::OutOfScope(
            "the rule's area is outside your scope (no area_prefix: the whole county)".into(),
        ));
    }
    let center = check(&state.db, rule).await?;
    if !policy::covers_org(caller, &center) {
        return Err(Refusal::OutOfScope(format!(
            "{} is not your center or one below it",
            center.id
        )));
    }
    let mut tx = state.db.writer.begin().await?;
    insert(&mut tx, rule, state.clock.now().0).await?;
    let entry = crate::audit::Entry::by(caller, crate::audit::RULE_ADDED, None, audited(rule));
    crate::audit::append_in(&mut tx, state, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Ids and codes of a rule, for the audit log.
fn audited(rule: &DispatchRule) -> serde_json::Value {
    serde_json::json!({
        "rule": rule.id,
        "priority": rule.priority,
        "category": rule.category,
        "risk_level": rule.risk_level,
        "area_prefix": rule.area_prefix,
        "center_org": rule.center_org,
        "target_org": rule.target_org,
        "automatic": rule.automatic,
    })
}

async fn insert(conn: &mut sqlx::AnyConnection, rule: &DispatchRule, now: i64) -> Result<()> {
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

pub async fn remove(db: &Db, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM dispatch_rules WHERE id = $1")
        .bind(id)
        .execute(&db.writer)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("dispatch rule"));
    }
    Ok(())
}

/// Removes a rule for a caller: only a rule whose area and center lie inside the caller's
/// scope (a township's staff never remove the county's rules); audited in the same
/// transaction.
pub async fn remove_by(state: &AppState, caller: &Caller, id: &str) -> Result<(), Refusal> {
    let Some(rule) = list(&state.db).await?.into_iter().find(|r| r.id == id) else {
        return Err(Error::NotFound("dispatch rule").into());
    };
    let center = state.db.org(&rule.center_org).await?;
    if !policy::covers(caller, rule.area_prefix.as_deref())
        || !center.is_some_and(|c| policy::covers_org(caller, &c))
    {
        return Err(Refusal::OutOfScope(
            "the rule lies outside your scope".into(),
        ));
    }
    let mut tx = state.db.writer.begin().await?;
    let done = sqlx::query("DELETE FROM dispatch_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("dispatch rule").into());
    }
    let entry = crate::audit::Entry::by(caller, crate::audit::RULE_REMOVED, None, audited(&rule));
    crate::audit::append_in(&mut tx, state, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// The first rule matching a case, if any.
pub fn first_match<'a>(
    rules: &'a [DispatchRule],
    category: &str,
    risk: &str,
    area: &str,
) -> Option<&'a DispatchRule> {
    rules.iter().find(|r| r.matches(category, risk, area))
}

/// Applies the automatic rules to cases that a sync just brought in SUBMITTED. Returns the
/// cases dispatched. A failure on one case is logged and leaves it for a dispatcher.
pub async fn auto_dispatch(state: &AppState, ids: &[CaseId]) -> Result<Vec<CaseId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rules: Vec<DispatchRule> = list(&state.db)
        .await?
        .into_iter()
        .filter(|r| r.automatic)
        .collect();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut done = Vec::new();
    for id in ids {
        let Some(doc) = crate::center::cases::load(state, *id).await? else {
            continue;
        };
        let case = doc.case();
        let wf = doc.state(&state.limits, state.clock.now());
        if wf.status != Status::Submitted {
            continue;
        }
        let Some(rule) = first_match(
            &rules,
            case.category.as_code(),
            case.risk_level.as_code(),
            &case.area_code,
        ) else {
            continue;
        };
        match apply(state, *id, rule).await {
            Ok(()) => done.push(*id),
            Err(e) => {
                tracing::warn!(case = %id, rule = %rule.id, error = %e, "auto-dispatch failed; left for a dispatcher")
            }
        }
    }
    Ok(done)
}

async fn apply(state: &AppState, id: CaseId, rule: &DispatchRule) -> Result<()> {
    let center = state
        .db
        .org(&rule.center_org)
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    let target = state
        .db
        .org(&rule.target_org)
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    let system = Author::new("system", Role::System, center.id.clone());
    let county: String = center.area_code.chars().take(6).collect();
    let accept = Action::Accept {
        case_no: String::new(), // the county's next number, taken in the same transaction
        tier: center.tier,
    };
    let dispatch = Action::Dispatch {
        to: vec![OrgRef::new(target.id.clone(), target.name.clone())],
        assignee: None,
        tier: target.tier,
        note: format!("自动分派 (rule {})", rule.id),
        auto: true,
    };
    // One transaction, one commit: this runs inside a phone's sync.
    crate::center::cases::act_all(state, id, &[accept, dispatch], Some(&county), &system).await?;
    tracing::info!(case = %id, rule = %rule.id, to = %target.id, "auto-dispatched");
    Ok(())
}

/// The default rules of the demo county: traffic accidents and marriage/family disputes go
/// straight to their specialised mediation rooms; wage arrears are suggested to labour
/// inspection (a dispatcher confirms).
pub fn demo_rules() -> Vec<DispatchRule> {
    let rule = |id: &str, priority, category: &str, target: &str, automatic| DispatchRule {
        id: id.into(),
        priority,
        category: Some(category.into()),
        risk_level: None,
        area_prefix: Some("330182".into()),
        center_org: "330182-center".into(),
        target_org: target.into(),
        automatic,
    };
    vec![
        rule(
            "traffic-room",
            10,
            "TRAFFIC_ACCIDENT",
            "330182-room-traffic",
            true,
        ),
        rule(
            "family-room",
            20,
            "MARRIAGE_FAMILY",
            "330182-room-family",
            true,
        ),
        rule("wages-labour", 30, "LABOUR_WAGES", "330182-labour", false),
    ]
}
