//! Suggested dispatches (建议分派): the dispatch rule that matches a case waiting for a
//! dispatch (SUBMITTED or ACCEPTED) — in practice a rule that is not automatic, since an
//! automatic one has already acted — shown on the case and on its row in the queue to
//! callers who may dispatch, and confirmed in one request: accept (numbering the case, if
//! SUBMITTED) and dispatch, in one transaction, audited like any step, checked exactly like
//! a dispatcher's own DISPATCH (the target registered, within the caller's reach, under its
//! registered name). Matching is `rules::first_match`'s, in the rules' order.

use std::collections::HashMap;

use gridsync_core::case::{Case, CaseDoc, CaseId};
use gridsync_core::workflow::{Action, EventKind, OrgRef, Status, WorkflowState, may_author};

use super::cases::{CaseFilter, CaseRow};
use super::rules::{self, DispatchRule};
use crate::caller::Caller;
use crate::db::accounts::Org;
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// A dispatch a rule suggests for a case.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The dispatch rule (`GET /v1/rules`); confirm with `POST /v1/cases/{id}/suggestion`
    /// naming it.
    pub rule_id: String,
    pub target_org_id: String,
    /// The target's registered name.
    pub target_org_name: String,
    /// The tier the dispatch goes to (the target's).
    pub tier: String,
    /// Whether the rule is automatic (one that matched after the case came in, or whose
    /// automatic dispatch failed).
    pub automatic: bool,
    /// What confirming takes: `["ACCEPT", "DISPATCH"]` for a submitted case, `["DISPATCH"]`
    /// for an accepted one.
    pub steps: Vec<String>,
}

/// A row of the queue: the case list's row with its suggested dispatch.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct QueueRow {
    #[serde(flatten)]
    pub case: CaseRow,
    /// Only for callers who may dispatch, on cases waiting for a dispatch.
    pub suggestion: Option<Suggestion>,
}

/// Whether the caller may take what a confirmation takes (the policy table and the
/// workflow's permission table: ACCEPT and DISPATCH).
fn may_confirm(caller: &Caller) -> bool {
    policy::permits(caller.user.role, Permission::TakeSteps)
        && may_author(caller.user.role, EventKind::Dispatch)
        && may_author(caller.user.role, EventKind::Accept)
}

fn waits_for_dispatch(status: Status) -> bool {
    matches!(status, Status::Submitted | Status::Accepted)
}

/// The target a rule names, if it is within the caller's reach (the check of a DISPATCH).
async fn target(center: &Center, caller: &Caller, rule: &DispatchRule) -> Result<Org, Refusal> {
    let mut orgs = super::reach::dispatch_targets(
        &center.db,
        &caller.org,
        std::slice::from_ref(&rule.target_org),
        "invalid_action",
        "rule_id",
    )
    .await?;
    Ok(orgs.remove(0))
}

fn suggestion(rule: &DispatchRule, org: &Org, status: Status) -> Suggestion {
    let mut steps = Vec::new();
    if status == Status::Submitted {
        steps.push(EventKind::Accept.as_code().to_owned());
    }
    steps.push(EventKind::Dispatch.as_code().to_owned());
    Suggestion {
        rule_id: rule.id.clone(),
        target_org_id: org.id.clone(),
        target_org_name: org.name.clone(),
        tier: org.tier.as_code().to_owned(),
        automatic: rule.automatic,
        steps,
    }
}

/// The suggested dispatch of one case for the caller, if any.
pub async fn for_case(
    center: &Center,
    caller: &Caller,
    case: &Case,
    state: &WorkflowState,
) -> Result<Option<Suggestion>, Refusal> {
    if !may_confirm(caller) || !waits_for_dispatch(state.status) {
        return Ok(None);
    }
    let rules = rules::list(&center.db).await?;
    let Some(rule) = rules::first_match(
        &rules,
        case.category.as_code(),
        case.risk_level.as_code(),
        &case.area_code,
    ) else {
        return Ok(None);
    };
    match target(center, caller, rule).await {
        Ok(org) => Ok(Some(suggestion(rule, &org, state.status))),
        Err(Refusal::Failed(e)) => Err(e.into()),
        // A target the caller cannot reach (or no longer registered) is no suggestion.
        Err(_) => Ok(None),
    }
}

/// The routing fields of a case not yet recorded (the intake desk's draft): what the rules
/// match on.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// The case's 12-digit area code (a village's, or a township's), inside the caller's
    /// scope.
    pub area_code: String,
    /// A category code; default `OTHER`, as at intake.
    #[serde(default)]
    pub category: Option<String>,
    /// A risk level code; default as at intake.
    #[serde(default)]
    pub risk_level: Option<String>,
}

/// The dispatch a rule would suggest for a case recorded now at the intake desk with the
/// draft's routing fields (`rules::first_match` over the rules in their order, the target
/// checked like a DISPATCH of the caller's, as for the queue): an automatic rule's
/// dispatch happens when the case is saved. Who: `Intake`. The area must lie in the
/// caller's scope (403 `out_of_scope`); bad codes are 400 `invalid_input` naming the field;
/// none matching (or its target out of the caller's reach) is 404 `no_suggestion`.
pub async fn for_draft(
    center: &Center,
    caller: &Caller,
    draft: &Draft,
) -> Result<Suggestion, Refusal> {
    use gridsync_core::case::{Category, RiskLevel};
    policy::require(caller, Permission::Intake)?;
    let invalid = |field: &str, message: String| Refusal::invalid("invalid_input", field, message);
    if !gridsync_core::case::is_area_code(&draft.area_code) {
        return Err(invalid(
            "area_code",
            "a 12-digit statistical division code".into(),
        ));
    }
    let category = match draft.category.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse::<Category>()
            .map_err(|e| invalid("category", e.to_string()))?,
        None => Category::default(),
    };
    let risk = match draft.risk_level.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => r
            .parse::<RiskLevel>()
            .map_err(|e| invalid("risk_level", e.to_string()))?,
        None => RiskLevel::default(),
    };
    if !caller
        .org
        .scope_prefix
        .as_deref()
        .is_some_and(|p| draft.area_code.starts_with(p))
    {
        return Err(Refusal::OutOfScope(
            "the area is outside your organisation's scope".into(),
        ));
    }
    let none = || Refusal::NotFound("no_suggestion", "no dispatch rule matches".into());
    let rules = rules::list(&center.db).await?;
    let rule = rules::first_match(&rules, category.as_code(), risk.as_code(), &draft.area_code)
        .ok_or_else(none)?;
    match target(center, caller, rule).await {
        Ok(org) => Ok(suggestion(rule, &org, Status::Submitted)),
        Err(Refusal::Failed(e)) => Err(e.into()),
        Err(_) => Err(none()),
    }
}

/// The case list ([`super::cases::list`]) with each row's suggested dispatch.
pub async fn queue(
    center: &Center,
    caller: &Caller,
    filter: &CaseFilter,
) -> Result<(Vec<QueueRow>, Option<i64>), Refusal> {
    let (rows, next) = super::cases::list(center, caller, filter).await?;
    let rules = if may_confirm(caller)
        && rows
            .iter()
            .any(|r| Status::from_code(&r.status).is_some_and(waits_for_dispatch))
    {
        rules::list(&center.db).await?
    } else {
        Vec::new()
    };
    // Each target's reach is checked once per page.
    let mut targets: HashMap<String, Option<Org>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let status = Status::from_code(&row.status).unwrap_or_default();
        let mut suggested = None;
        if waits_for_dispatch(status)
            && let Some(rule) =
                rules::first_match(&rules, &row.category, &row.risk_level, &row.area_code)
        {
            if !targets.contains_key(&rule.target_org) {
                let org = match target(center, caller, rule).await {
                    Ok(org) => Some(org),
                    Err(Refusal::Failed(e)) => return Err(e.into()),
                    Err(_) => None,
                };
                targets.insert(rule.target_org.clone(), org);
            }
            suggested = targets[&rule.target_org]
                .as_ref()
                .map(|org| suggestion(rule, org, status));
        }
        out.push(QueueRow {
            case: row,
            suggestion: suggested,
        });
    }
    Ok((out, next))
}

/// Confirms the suggested dispatch of case `id` (by id or case number), which must still be
/// the one of rule `rule_id` (409 `suggestion_changed` otherwise; 409 `no_suggestion` when
/// none matches): ACCEPT (numbered, if SUBMITTED) and DISPATCH to the rule's target, in one
/// transaction, each step audited. Returns the case id, the event ids and the document.
pub async fn confirm(
    center: &Center,
    caller: &Caller,
    id: &str,
    rule_id: &str,
) -> Result<(CaseId, Vec<String>, CaseDoc), Refusal> {
    policy::require(caller, Permission::TakeSteps)?;
    let (id, doc) = super::cases::find_in_scope(center, caller, id).await?;
    for kind in [EventKind::Accept, EventKind::Dispatch] {
        if !may_author(caller.user.role, kind) {
            return Err(gridsync_core::Error::NotPermitted {
                role: caller.user.role,
                kind,
            }
            .into());
        }
    }
    let case = doc.case();
    let state = doc.state(&center.limits, center.clock.now());
    if !waits_for_dispatch(state.status) {
        return Err(gridsync_core::Error::InvalidTransition {
            kind: EventKind::Dispatch,
            status: state.status,
            reason: "a suggestion is confirmed on a submitted or accepted case".into(),
        }
        .into());
    }
    let rules = rules::list(&center.db).await?;
    let Some(rule) = rules::first_match(
        &rules,
        case.category.as_code(),
        case.risk_level.as_code(),
        &case.area_code,
    ) else {
        return Err(Refusal::Conflict(
            "no_suggestion",
            "no dispatch rule matches this case".into(),
        ));
    };
    if rule.id != rule_id {
        return Err(Refusal::Conflict(
            "suggestion_changed",
            format!(
                "the rules changed: rule {:?} now suggests the dispatch of this case",
                rule.id
            ),
        ));
    }
    let org = target(center, caller, rule).await?;
    let mut steps = Vec::new();
    if state.status == Status::Submitted {
        steps.push(Action::Accept {
            case_no: String::new(), // numbered in the steps' transaction
            tier: caller.org.tier,
        });
    }
    steps.push(Action::Dispatch {
        to: vec![OrgRef::new(org.id.clone(), org.name.clone())],
        assignee: None,
        tier: org.tier,
        note: format!("按规则 {} 建议分派，已确认", rule.id),
        auto: false,
    });
    let events = super::cases::steps_by(center, caller, id, &steps).await?;
    let doc = super::cases::load(center, id)
        .await?
        .ok_or(crate::error::Error::NotFound("case"))?;
    Ok((id, events, doc))
}
