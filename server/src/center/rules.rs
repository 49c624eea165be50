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

use crate::caller::Caller;
use crate::db::accounts::Org;
pub use crate::db::rules::DispatchRule;
use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::policy::{self, Refusal};
use crate::state::Center;

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

/// Every rule, in the order they are tried.
pub async fn list(db: &Db) -> Result<Vec<DispatchRule>> {
    db::rules::list(db).await
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
    let owner = db
        .org(&rule.center_org)
        .await?
        .filter(|o| o.kind == "CENTER")
        .ok_or_else(|| invalid("center_org", format!("no center {:?}", rule.center_org)))?;
    let holds_area = match (rule.area_prefix.as_deref(), owner.scope_prefix.as_deref()) {
        (Some(area), Some(scope)) => area.starts_with(scope),
        (None, Some(_)) => owner.tier == Tier::County,
        (_, None) => false,
    };
    if !holds_area {
        return Err(invalid(
            "area_prefix",
            format!(
                "the area lies outside {}'s scope (no area_prefix: a county center's rule)",
                owner.id
            ),
        ));
    }
    super::reach::dispatch_targets(
        db,
        &owner,
        std::slice::from_ref(&rule.target_org),
        "invalid_input",
        "target_org",
    )
    .await?;
    Ok(owner)
}

/// Adds a rule after checking it (trusted callers: the demo, `gridsync admin`; staff go
/// through [`add_by`]).
pub async fn add(db: &Db, rule: &DispatchRule, now: i64) -> Result<()> {
    check(db, rule).await.map_err(|r| match r {
        Refusal::Failed(e) => e,
        other => Error::Invalid(other.to_string()),
    })?;
    let mut conn = db.writer.acquire().await?;
    db::rules::insert(&mut conn, rule, now).await
}

/// Adds a rule for a caller: its area inside the caller's scope (none: county-wide, for a
/// county-level center's staff or an administrator), its center the caller's own or one
/// below, and sound ([`check`]); audited in the same transaction.
pub async fn add_by(center: &Center, caller: &Caller, rule: &DispatchRule) -> Result<(), Refusal> {
    if !policy::covers(caller, rule.area_prefix.as_deref()) {
        return Err(Refusal::OutOfScope(
            "the rule's area is outside your scope (no area_prefix: the whole county)".into(),
        ));
    }
    let owner = check(&center.db, rule).await?;
    if !policy::covers_org(caller, &owner) {
        return Err(Refusal::OutOfScope(format!(
            "{} is not your center or one below it",
            owner.id
        )));
    }
    let mut tx = center.db.writer.begin().await?;
    db::rules::insert(&mut tx, rule, center.clock.now().0).await?;
    let entry = crate::audit::Entry::by(caller, crate::audit::RULE_ADDED, None, audited(rule));
    crate::audit::append_in(&mut tx, center, entry).await?;
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

/// [`add`] from the server's shell (`gridsync admin add-rule`): the same checks, audited as
/// `OPERATOR` in the same transaction.
pub async fn add_by_operator(db: &Db, rule: &DispatchRule, now: i64) -> Result<()> {
    check(db, rule).await.map_err(|r| match r {
        Refusal::Failed(e) => e,
        other => Error::Invalid(other.to_string()),
    })?;
    let mut tx = db.writer.begin().await?;
    db::rules::insert(&mut tx, rule, now).await?;
    let entry = crate::audit::Entry::operator(crate::audit::RULE_ADDED, audited(rule));
    crate::audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a rule from the server's shell (`gridsync admin remove-rule`), audited as
/// `OPERATOR`.
pub async fn remove_by_operator(db: &Db, id: &str, now: i64) -> Result<()> {
    let rule = list(db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(Error::NotFound("dispatch rule"))?;
    let mut tx = db.writer.begin().await?;
    db::rules::delete(&mut tx, id).await?;
    let entry = crate::audit::Entry::operator(crate::audit::RULE_REMOVED, audited(&rule));
    crate::audit::append_in_at(&mut tx, db.dialect, now, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a rule for a caller: only a rule whose area and center lie inside the caller's
/// scope (a township's staff never remove the county's rules); audited in the same
/// transaction.
pub async fn remove_by(center: &Center, caller: &Caller, id: &str) -> Result<(), Refusal> {
    let Some(rule) = list(&center.db).await?.into_iter().find(|r| r.id == id) else {
        return Err(Error::NotFound("dispatch rule").into());
    };
    let owner = center.db.org(&rule.center_org).await?;
    if !policy::covers(caller, rule.area_prefix.as_deref())
        || !owner.is_some_and(|c| policy::covers_org(caller, &c))
    {
        return Err(Refusal::OutOfScope(
            "the rule lies outside your scope".into(),
        ));
    }
    let mut tx = center.db.writer.begin().await?;
    db::rules::delete(&mut tx, id).await?;
    let entry = crate::audit::Entry::by(caller, crate::audit::RULE_REMOVED, None, audited(&rule));
    crate::audit::append_in(&mut tx, center, entry).await?;
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
pub async fn auto_dispatch(center: &Center, ids: &[CaseId]) -> Result<Vec<CaseId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rules: Vec<DispatchRule> = list(&center.db)
        .await?
        .into_iter()
        .filter(|r| r.automatic)
        .collect();
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut done = Vec::new();
    for id in ids {
        let Some(doc) = crate::center::cases::load(center, *id).await? else {
            continue;
        };
        let case = doc.case();
        let wf = doc.state(&center.limits, center.clock.now());
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
        match apply(center, *id, rule).await {
            Ok(()) => done.push(*id),
            Err(e) => {
                tracing::warn!(case = %id, rule = %rule.id, error = %e, "auto-dispatch failed; left for a dispatcher")
            }
        }
    }
    Ok(done)
}

async fn apply(center: &Center, id: CaseId, rule: &DispatchRule) -> Result<()> {
    let owner = center
        .db
        .org(&rule.center_org)
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    let target = center
        .db
        .org(&rule.target_org)
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    let system = Author::new("system", Role::System, owner.id.clone());
    let county: String = owner.area_code.chars().take(6).collect();
    let accept = Action::Accept {
        case_no: String::new(), // the county's next number, taken in the same transaction
        tier: owner.tier,
    };
    let dispatch = Action::Dispatch {
        to: vec![OrgRef::new(target.id.clone(), target.name.clone())],
        assignee: None,
        tier: target.tier,
        note: format!("自动分派 (rule {})", rule.id),
        auto: true,
    };
    // One transaction, one commit: this runs inside a phone's sync.
    crate::center::cases::act_all(center, id, &[accept, dispatch], Some(&county), &system).await?;
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
