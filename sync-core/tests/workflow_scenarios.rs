//! Workflow scenarios as data (DESIGN §4): each scenario is a case's risk grading plus a
//! script; each line of the script is one step `(at, who, action)` or a clock reading, with
//! the derived state expected after it written out literally beside it.
//!
//! Every script runs twice:
//! - through [`CaseDoc::act`], as a phone or the server would take the step: a step the
//!   expectation marks `superseded=...` must be refused (`NotPermitted` for a role the
//!   permission table excludes, `InvalidTransition` otherwise) and leave the document
//!   untouched (same heads, no event appended);
//! - as a hand-built merged log of [`Event::new`] entries folded by [`fold`]: the same step
//!   is kept, marked superseded with that reason, and the state does not move.
//!
//! Both must render the expected line, and `WorkflowState::allowed` before the step must
//! list its kind when it applies and leave it out when the state, role, assignment or risk
//! refuse it. The rendering (see [`render`]) is
//! `STATUS case_no=… tier=… orgs=a,b assignee=… handler=… sup=… ext=Nd pending=Nd
//! send_backs=N reopened=N outcome=success|failure[/late] follow_ups=N` followed by every
//! running clock as `KIND[start..due]=LEVEL` (`INSTALLMENT:id[…]` for installments,
//! `CO_HANDLE:org[…]` for a co-handler's feedback; `feedback=org,…` lists feedback given), then
//! `superseded=reason` when the step did not apply. A field at its default (tier VILLAGE,
//! supervision NONE, zero counts, no value) is left out. Times are relative to
//! [`common::T0`], 2026-03-01 00:00 Beijing time: `1d2h30m`.

mod common;

use automerge::ActorId;
use common::{
    COUNTY_CENTER, DEPT_JUSTICE, DEPT_LABOUR, T0, TOWNSHIP_OFFICE, VILLAGE, Who, at, new_case, rel,
};
use gridsync_core::Error;
use gridsync_core::case::{
    Agreement, AgreementForm, Case, CaseDoc, Difficulty, FollowUp, FollowUpMethod, Installment,
    RiskFlag, RiskLevel, Timestamp, format_case_no, is_case_no,
};
use gridsync_core::workflow::{
    Action, DeadlineKind, Event, OrgRef, Role, Status, SupersedeReason, SupervisionLevel, Tier,
    TimeLimits, WorkflowState, fold,
};

use Who::*;

// ---- the language ------------------------------------------------------------------------

struct Scenario {
    name: &'static str,
    risk: RiskLevel,
    flags: &'static [RiskFlag],
    difficulty: Difficulty,
    script: Vec<Line>,
}

enum Line {
    /// `by` takes `action` at `at`; the state at `at` must render as `expect`.
    Step {
        at: &'static str,
        by: Who,
        action: Action,
        expect: &'static str,
    },
    /// Only the clock moves: the state at `now`.
    Clock {
        now: &'static str,
        expect: &'static str,
    },
    /// An installment is marked paid (a document edit, not a workflow step).
    Paid {
        at: &'static str,
        item: &'static str,
        expect: &'static str,
    },
}

fn scenario(
    name: &'static str,
    (risk, flags, difficulty): (RiskLevel, &'static [RiskFlag], Difficulty),
    script: Vec<Line>,
) -> Scenario {
    Scenario {
        name,
        risk,
        flags,
        difficulty,
        script,
    }
}

fn step(at: &'static str, by: Who, action: Action, expect: &'static str) -> Line {
    Line::Step {
        at,
        by,
        action,
        expect,
    }
}

fn clock(now: &'static str, expect: &'static str) -> Line {
    Line::Clock { now, expect }
}

fn paid(at: &'static str, item: &'static str, expect: &'static str) -> Line {
    Line::Paid { at, item, expect }
}

const GREEN: (RiskLevel, &[RiskFlag], Difficulty) = (RiskLevel::Green, &[], Difficulty::General);

// ---- actions, briefly ----------------------------------------------------------------------

fn org(id: &str) -> OrgRef {
    let name = match id {
        DEPT_LABOUR => "人社局劳动监察大队",
        DEPT_JUSTICE => "县司法局",
        TOWNSHIP_OFFICE => "某镇司法所",
        VILLAGE => "某村人民调解委员会",
        _ => "某单位",
    };
    OrgRef::new(id, name)
}

fn submit() -> Action {
    Action::Submit {}
}
fn on_site() -> Action {
    Action::ResolveOnSite {
        outcome: "双方当场达成一致，工资已结清".into(),
        agreement: None,
    }
}
fn accept(case_no: &str, tier: Tier) -> Action {
    Action::Accept {
        case_no: case_no.into(),
        tier,
    }
}
fn ret(reason: &str) -> Action {
    Action::Return {
        reason: reason.into(),
    }
}
fn void(reason: &str) -> Action {
    Action::Void {
        reason: reason.into(),
    }
}
fn dispatch(to: &[&str], tier: Tier) -> Action {
    Action::Dispatch {
        to: to.iter().map(|id| org(id)).collect(),
        assignee: None,
        tier,
        note: String::new(),
        auto: false,
    }
}
fn auto_dispatch(to: &[&str], tier: Tier) -> Action {
    Action::Dispatch {
        to: to.iter().map(|id| org(id)).collect(),
        assignee: None,
        tier,
        note: "规则: LABOUR_WAGES → 劳动监察".into(),
        auto: true,
    }
}
fn sign() -> Action {
    Action::SignFor {}
}
fn send_back(reason: &str) -> Action {
    Action::SendBack {
        reason: reason.into(),
    }
}
fn start() -> Action {
    Action::StartHandling {}
}
fn ext_request(days: u32) -> Action {
    Action::ExtensionRequest {
        days,
        reason: "等待伤残鉴定结论".into(),
    }
}
fn ext_decision(approved: bool, days: u32) -> Action {
    Action::ExtensionDecision {
        approved,
        days,
        note: String::new(),
    }
}
fn escalate(to_tier: Tier, reason: &str) -> Action {
    Action::Escalate {
        to_tier,
        reason: reason.into(),
    }
}
fn resolve(success: bool) -> Action {
    let outcome = if success {
        "调解成功"
    } else {
        "调解不成，引导诉讼"
    };
    Action::Resolve {
        success,
        outcome: outcome.into(),
        agreement: None,
    }
}
/// Resolved under a written agreement paid in installments `(id, due, amount in fen)`.
fn resolve_with(installments: &[(&str, &str, i64)]) -> Action {
    let agreement = Agreement {
        form: AgreementForm::Written,
        terms: "被申请人分期支付拖欠工资".into(),
        signed_at: None,
        installments: installments
            .iter()
            .map(|(id, due, amount)| Installment {
                id: (*id).into(),
                due_at: at(due),
                amount: *amount,
                paid_at: None,
            })
            .collect(),
    };
    Action::Resolve {
        success: true,
        outcome: "达成书面调解协议".into(),
        agreement: Some(agreement),
    }
}
fn follow_up(satisfaction: u8, performed: Option<bool>) -> Action {
    Action::FollowUp(FollowUp {
        method: FollowUpMethod::Phone,
        satisfaction,
        agreement_performed: performed,
        note: String::new(),
    })
}
fn reopen(reason: &str) -> Action {
    Action::Reopen {
        reason: reason.into(),
    }
}
fn archive() -> Action {
    Action::Archive {}
}
fn feedback(opinion: &str) -> Action {
    Action::CoHandlingFeedback {
        opinion: opinion.into(),
    }
}
fn supervise(level: SupervisionLevel) -> Action {
    Action::Supervise {
        level,
        note: String::new(),
        auto: false,
    }
}

const CN: &str = "330182-20260301-000001";

// ---- the scenarios: every transition of DESIGN §4 -----------------------------------------

#[rustfmt::skip]
fn transition_scenarios() -> Vec<Scenario> {
    use SupervisionLevel as Sup;
    use Tier::*;
    vec![
        scenario("four steps: submit, accept, dispatch, sign, handle, resolve, follow up, archive", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("2h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("3h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[3h..1d3h]=NONE"),
            step("5h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[5h..7d5h]=NONE"),
            step("6h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[5h..7d5h]=NONE"),
            step("3d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=NONE"),
            step("4d", Center, follow_up(5, Some(true)), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1"),
            step("5d", Center, archive(), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1"),
            step("6d", Center, archive(), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 superseded=invalid_transition(ARCHIVED)"),
            step("6d", Supervisor, supervise(Sup::Red), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 superseded=invalid_transition(ARCHIVED)"),
            step("6d", Worker, follow_up(5, None), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 superseded=invalid_transition(ARCHIVED)"),
        ]),
        scenario("resolved on the spot from a draft, followed up by the grid worker", (RiskLevel::Green, &[], Difficulty::Simple), vec![
            step("0", Worker, on_site(), "SELF_RESOLVED outcome=success FOLLOW_UP[0..7d]=NONE"),
            step("30m", Worker, submit(), "SELF_RESOLVED outcome=success FOLLOW_UP[0..7d]=NONE superseded=invalid_transition(SELF_RESOLVED)"),
            step("1d", Worker, follow_up(4, None), "FOLLOWED_UP outcome=success follow_ups=1"),
            step("2d", Center, archive(), "ARCHIVED outcome=success follow_ups=1"),
        ]),
        scenario("resolved on the spot after submitting: a later acceptance is refused", (RiskLevel::Yellow, &[], Difficulty::General), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Mediator, on_site(), "SELF_RESOLVED outcome=success FOLLOW_UP[1h..7d1h]=NONE"),
            step("2h", Center, accept(CN, County), "SELF_RESOLVED outcome=success FOLLOW_UP[1h..7d1h]=NONE superseded=invalid_transition(SELF_RESOLVED)"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "SELF_RESOLVED outcome=success FOLLOW_UP[1h..7d1h]=NONE superseded=invalid_transition(SELF_RESOLVED)"),
            step("2h", Center, supervise(Sup::Normal), "SELF_RESOLVED outcome=success FOLLOW_UP[1h..7d1h]=NONE superseded=invalid_transition(SELF_RESOLVED)"),
        ]),
        scenario("resolved on the spot, merged after the center's dispatch: superseded", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("1h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[1h..1d1h]=NONE"),
            step("2h", Worker, on_site(), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[1h..1d1h]=NONE superseded=invalid_transition(DISPATCHED)"),
        ]),
        scenario("red risk: never resolved on the spot, accepted within 2 hours", (RiskLevel::Red, &[], Difficulty::General), vec![
            step("0", Worker, on_site(), "DRAFT superseded=risk_too_high"),
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..2h]=NONE"),
            step("10m", Worker, on_site(), "SUBMITTED ACCEPT[0..2h]=NONE superseded=risk_too_high"),
            step("30m", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
        ]),
        scenario("a danger flag on a green case: never resolved on the spot", (RiskLevel::Green, &[RiskFlag::Threats], Difficulty::Simple), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..2h]=NONE"),
            step("1h", Worker, on_site(), "SUBMITTED ACCEPT[0..2h]=NONE superseded=risk_too_high"),
        ]),
        scenario("orange risk: never resolved on the spot, ordinary acceptance limit", (RiskLevel::Orange, &[], Difficulty::General), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Mediator, on_site(), "SUBMITTED ACCEPT[0..1d]=NONE superseded=risk_too_high"),
        ]),
        scenario("returned for correction, resubmitted, accepted", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("30m", Center, ret(" "), "SUBMITTED ACCEPT[0..1d]=NONE superseded=malformed"),
            step("1h", Center, ret("缺少被申请人身份证号"), "RETURNED"),
            step("1h", Center, accept(CN, County), "RETURNED superseded=invalid_transition(RETURNED)"),
            step("1h", Center, archive(), "RETURNED superseded=invalid_transition(RETURNED)"),
            step("2h", Worker, submit(), "SUBMITTED ACCEPT[2h..1d2h]=NONE"),
            step("3h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
        ]),
        scenario("void", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, void("重复上报"), "VOID"),
            step("2h", Worker, submit(), "VOID superseded=invalid_transition(VOID)"),
            step("2h", Supervisor, supervise(Sup::Normal), "VOID superseded=invalid_transition(VOID)"),
        ]),
        scenario("archive a submitted case: refused", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, archive(), "SUBMITTED ACCEPT[0..1d]=NONE superseded=invalid_transition(SUBMITTED)"),
            step("1h", Center, dispatch(&[DEPT_LABOUR], County), "SUBMITTED ACCEPT[0..1d]=NONE superseded=invalid_transition(SUBMITTED)"),
        ]),
        scenario("joint dispatch to two departments, sent back, dispatched again, the second signs", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[], County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY superseded=malformed"),
            step("2h", Center, dispatch(&[DEPT_LABOUR, DEPT_JUSTICE], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE"),
            step("3h", TownshipOffice, sign(), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_assigned"),
            step("3h", TownshipOffice, send_back("不属于本单位职责"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_assigned"),
            step("3h", Labour, send_back("欠薪主体在外县，请协调"), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY send_backs=1"),
            step("3h", Justice, sign(), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY send_backs=1 superseded=invalid_transition(ACCEPTED)"),
            step("4h", Center, dispatch(&[DEPT_JUSTICE, DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour send_backs=1 SIGN[4h..1d4h]=NONE CO_HANDLE:dept-labour[4h..3d4h]=NONE"),
            step("5h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour assignee=u-chen handler=dept-labour send_backs=1 HANDLE[5h..7d5h]=NONE CO_HANDLE:dept-justice[4h..3d4h]=NONE"),
            step("5h", Justice, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour assignee=u-chen handler=dept-labour send_backs=1 HANDLE[5h..7d5h]=NONE CO_HANDLE:dept-justice[4h..3d4h]=NONE superseded=invalid_transition(SIGNED)"),
            step("6h", Justice, start(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour assignee=u-chen handler=dept-labour send_backs=1 HANDLE[5h..7d5h]=NONE CO_HANDLE:dept-justice[4h..3d4h]=NONE superseded=not_assigned"),
            step("6h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour assignee=u-chen handler=dept-labour send_backs=1 HANDLE[5h..7d5h]=NONE CO_HANDLE:dept-justice[4h..3d4h]=NONE"),
            step("1d", Justice, resolve(true), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour assignee=u-chen handler=dept-labour send_backs=1 HANDLE[5h..7d5h]=NONE CO_HANDLE:dept-justice[4h..3d4h]=NONE superseded=not_assigned"),
        ]),
        scenario("joint handling (会诊): the lead signs and handles, the co-handler gives its feedback, the lead resolves with it in view", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("1h", Justice, feedback("建议劳动仲裁"), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY superseded=invalid_transition(ACCEPTED)"),
            step("2h", Center, dispatch(&[DEPT_LABOUR, DEPT_JUSTICE], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE"),
            step("3h", Worker, feedback("村里已调解两次"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_permitted(GRID_WORKER)"),
            step("3h", Center, feedback("请加快"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_permitted(DISPATCHER)"),
            step("3h", TownshipOffice, feedback("非本所辖区"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_assigned"),
            step("3h", Labour, feedback("牵头单位不写协办意见"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=not_assigned"),
            step("4h", Justice, feedback(" "), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice SIGN[2h..1d2h]=NONE CO_HANDLE:dept-justice[2h..3d2h]=NONE superseded=malformed"),
            step("4h", Justice, feedback("欠薪事实清楚，建议先行支付令"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice feedback=dept-justice SIGN[2h..1d2h]=NONE"),
            step("5h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour feedback=dept-justice HANDLE[5h..7d5h]=NONE"),
            step("6h", Justice, feedback("补充：可申请法律援助"), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour feedback=dept-justice,dept-justice HANDLE[5h..7d5h]=NONE"),
            step("6h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour feedback=dept-justice,dept-justice HANDLE[5h..7d5h]=NONE"),
            step("2d", Justice, resolve(true), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour feedback=dept-justice,dept-justice HANDLE[5h..7d5h]=NONE superseded=not_assigned"),
            step("2d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour outcome=success feedback=dept-justice,dept-justice FOLLOW_UP[2d..9d]=NONE"),
            step("2d1h", Justice, feedback("迟到的意见"), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour,dept-justice assignee=u-chen handler=dept-labour outcome=success feedback=dept-justice,dept-justice FOLLOW_UP[2d..9d]=NONE superseded=invalid_transition(RESOLVED)"),
        ]),
        scenario("joint handling: a silent co-handler warns at 70 % and 100 % of its own limit; an escalation ends the group and a new dispatch starts another", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", TownshipCenter, accept(CN, Township), "ACCEPTED case_no=330182-20260301-000001 tier=TOWNSHIP"),
            step("2h", TownshipCenter, dispatch(&[TOWNSHIP_OFFICE, VILLAGE], Township), "DISPATCHED case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs,330182101201 SIGN[2h..1d2h]=NONE CO_HANDLE:330182101201[2h..3d2h]=NONE"),
            step("3h", TownshipOffice, sign(), "SIGNED case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs,330182101201 assignee=u-zhou handler=330182101-sfs HANDLE[3h..7d3h]=NONE CO_HANDLE:330182101201[2h..3d2h]=NONE"),
            step("4h", TownshipOffice, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs,330182101201 assignee=u-zhou handler=330182101-sfs HANDLE[3h..7d3h]=NONE CO_HANDLE:330182101201[2h..3d2h]=NONE"),
            clock("2d4h24m", "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs,330182101201 assignee=u-zhou handler=330182101-sfs HANDLE[3h..7d3h]=NONE CO_HANDLE:330182101201[2h..3d2h]=YELLOW"),
            clock("3d2h", "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs,330182101201 assignee=u-zhou handler=330182101-sfs HANDLE[3h..7d3h]=NONE CO_HANDLE:330182101201[2h..3d2h]=RED"),
            step("3d3h", TownshipOffice, escalate(County, "涉及跨镇用工主体"), "ESCALATED case_no=330182-20260301-000001 tier=COUNTY"),
            step("3d3h", Mediator, feedback("村里的意见"), "ESCALATED case_no=330182-20260301-000001 tier=COUNTY superseded=invalid_transition(ESCALATED)"),
            step("3d4h", Center, dispatch(&[DEPT_JUSTICE, DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour SIGN[3d4h..4d4h]=NONE CO_HANDLE:dept-labour[3d4h..6d4h]=NONE"),
            step("3d5h", Mediator, feedback("村里的意见"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour SIGN[3d4h..4d4h]=NONE CO_HANDLE:dept-labour[3d4h..6d4h]=NONE superseded=not_assigned"),
            step("3d6h", Labour, feedback("用工主体在外县，已函请协查"), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice,dept-labour feedback=dept-labour SIGN[3d4h..4d4h]=NONE"),
        ]),
        scenario("extension: requested, approved, refused, approved for fewer days", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("1d", Labour, ext_request(3), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE superseded=invalid_transition(SIGNED)"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("2d", Center, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE superseded=nothing_pending"),
            step("2d", Justice, ext_request(3), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE superseded=not_assigned"),
            step("2d", Labour, ext_request(0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE superseded=malformed"),
            step("2d", Labour, ext_request(91), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE superseded=malformed"),
            step("2d", Labour, ext_request(3), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=3d HANDLE[1d..8d]=NONE"),
            step("2d1h", Worker, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=3d HANDLE[1d..8d]=NONE superseded=not_permitted(GRID_WORKER)"),
            step("2d1h", Labour, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=3d HANDLE[1d..8d]=NONE superseded=not_permitted(DEPARTMENT_HANDLER)"),
            step("3d", Center, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=NONE"),
            step("4d", Labour, ext_request(5), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d pending=5d HANDLE[1d..11d]=NONE"),
            step("5d", Supervisor, ext_decision(false, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=NONE"),
            step("6d", Labour, ext_request(5), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d pending=5d HANDLE[1d..11d]=NONE"),
            step("6d", Supervisor, ext_decision(true, 2), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=5d HANDLE[1d..13d]=NONE"),
            step("11d", Labour, ext_request(2), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=5d pending=2d HANDLE[1d..13d]=YELLOW"),
            // Resolving drops the request nobody decided: nothing is left to extend.
            step("12d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=5d outcome=success FOLLOW_UP[12d..19d]=NONE"),
            step("12d", Center, ext_decision(true, 0), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=5d outcome=success FOLLOW_UP[12d..19d]=NONE superseded=invalid_transition(RESOLVED)"),
        ]),
        scenario("escalation village → township → county", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", TownshipCenter, accept(CN, Township), "ACCEPTED case_no=330182-20260301-000001 tier=TOWNSHIP"),
            step("2h", TownshipCenter, dispatch(&[VILLAGE], Village), "DISPATCHED case_no=330182-20260301-000001 orgs=330182101201 SIGN[2h..1d2h]=NONE"),
            step("3h", Mediator, escalate(Township, "调解不成"), "DISPATCHED case_no=330182-20260301-000001 orgs=330182101201 SIGN[2h..1d2h]=NONE superseded=invalid_transition(DISPATCHED)"),
            step("3h", Mediator, sign(), "SIGNED case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[3h..7d3h]=NONE"),
            step("4h", Mediator, start(), "IN_PROGRESS case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[3h..7d3h]=NONE"),
            step("5h", Worker, escalate(Township, "调解不成"), "IN_PROGRESS case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[3h..7d3h]=NONE superseded=not_permitted(GRID_WORKER)"),
            step("5h", Mediator, escalate(Village, "调解不成"), "IN_PROGRESS case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[3h..7d3h]=NONE superseded=not_higher_tier(VILLAGE)"),
            step("5h", Mediator, escalate(Township, ""), "IN_PROGRESS case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[3h..7d3h]=NONE superseded=malformed"),
            step("1d", Mediator, escalate(Township, "双方分歧大，需司法所介入"), "ESCALATED case_no=330182-20260301-000001 tier=TOWNSHIP"),
            // Dispatching an escalated case below the tier it was escalated to would undo it.
            step("1d1h", TownshipCenter, dispatch(&[VILLAGE], Village), "ESCALATED case_no=330182-20260301-000001 tier=TOWNSHIP superseded=not_higher_tier(TOWNSHIP)"),
            step("1d1h", TownshipCenter, dispatch(&[TOWNSHIP_OFFICE], Township), "DISPATCHED case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs SIGN[1d1h..2d1h]=NONE"),
            step("1d2h", Mediator, sign(), "DISPATCHED case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs SIGN[1d1h..2d1h]=NONE superseded=not_assigned"),
            step("1d2h", TownshipOffice, sign(), "SIGNED case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs assignee=u-zhou handler=330182101-sfs HANDLE[1d2h..8d2h]=NONE"),
            step("1d3h", TownshipOffice, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs assignee=u-zhou handler=330182101-sfs HANDLE[1d2h..8d2h]=NONE"),
            step("2d", TownshipOffice, escalate(Township, "涉及多个乡镇"), "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs assignee=u-zhou handler=330182101-sfs HANDLE[1d2h..8d2h]=NONE superseded=not_higher_tier(TOWNSHIP)"),
            step("2d", Labour, escalate(County, "涉及多个乡镇"), "IN_PROGRESS case_no=330182-20260301-000001 tier=TOWNSHIP orgs=330182101-sfs assignee=u-zhou handler=330182101-sfs HANDLE[1d2h..8d2h]=NONE superseded=not_assigned"),
            step("3d", TownshipOffice, escalate(County, "涉及多个乡镇"), "ESCALATED case_no=330182-20260301-000001 tier=COUNTY"),
            step("3d1h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[3d1h..4d1h]=NONE"),
            step("3d2h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3d2h..10d2h]=NONE"),
            step("3d3h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3d2h..10d2h]=NONE"),
            step("4d", Labour, escalate(County, "再提级"), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3d2h..10d2h]=NONE superseded=not_higher_tier(COUNTY)"),
            step("5d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[5d..12d]=NONE"),
        ]),
        scenario("the center escalates a case it does not handle", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", TownshipCenter, accept(CN, Township), "ACCEPTED case_no=330182-20260301-000001 tier=TOWNSHIP"),
            step("1h", TownshipCenter, dispatch(&[VILLAGE], Village), "DISPATCHED case_no=330182-20260301-000001 orgs=330182101201 SIGN[1h..1d1h]=NONE"),
            step("2h", Mediator, sign(), "SIGNED case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[2h..7d2h]=NONE"),
            step("2h", Mediator, start(), "IN_PROGRESS case_no=330182-20260301-000001 orgs=330182101201 assignee=u-zhao handler=330182101201 HANDLE[2h..7d2h]=NONE"),
            step("1d", TownshipCenter, escalate(County, "群体性苗头，提级县级"), "ESCALATED case_no=330182-20260301-000001 tier=COUNTY"),
            step("1d", TownshipCenter, escalate(County, "重复提级"), "ESCALATED case_no=330182-20260301-000001 tier=COUNTY superseded=invalid_transition(ESCALATED)"),
            step("1d1h", Center, dispatch(&[DEPT_JUSTICE], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-justice SIGN[1d1h..2d1h]=NONE"),
        ]),
        scenario("resolved under a written agreement paid in installments; repeat follow-up", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("3h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3h..7d3h]=NONE"),
            step("4h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3h..7d3h]=NONE"),
            step("2d", Labour, resolve_with(&[("i1", "20d", 925_000), ("i2", "40d", 925_000)]), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[2d..9d]=NONE INSTALLMENT:i1[13d..20d]=NONE INSTALLMENT:i2[33d..40d]=NONE"),
            step("3d", Center, follow_up(5, None), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[13d..20d]=NONE INSTALLMENT:i2[33d..40d]=NONE"),
            step("3d", Center, follow_up(6, None), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[13d..20d]=NONE INSTALLMENT:i2[33d..40d]=NONE superseded=malformed"),
            clock("18d", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[13d..20d]=YELLOW INSTALLMENT:i2[33d..40d]=NONE"),
            paid("19d", "i1", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i2[33d..40d]=NONE"),
            clock("41d", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i2[33d..40d]=RED"),
            step("41d", Worker, follow_up(4, Some(false)), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=2 INSTALLMENT:i2[33d..40d]=RED"),
            paid("42d", "i2", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=2"),
            step("43d", Center, archive(), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=2"),
        ]),
        scenario("unsatisfied follow-up: reopened, resolved again", (RiskLevel::Green, &[], Difficulty::Simple), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("3h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3h..3d3h]=NONE"),
            step("4h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[3h..3d3h]=NONE"),
            step("1d", Labour, ext_request(2), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=2d HANDLE[3h..3d3h]=NONE"),
            step("1d1h", Center, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d HANDLE[3h..5d3h]=NONE"),
            step("2d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d outcome=success FOLLOW_UP[2d..9d]=NONE"),
            step("3d", Center, reopen("当事人反映未履行"), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d outcome=success FOLLOW_UP[2d..9d]=NONE superseded=invalid_transition(RESOLVED)"),
            step("3d", Center, follow_up(1, Some(false)), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d outcome=success follow_ups=1"),
            step("4d", Worker, reopen("当事人不满意"), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d outcome=success follow_ups=1 superseded=not_permitted(GRID_WORKER)"),
            step("4d", Center, reopen(""), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=2d outcome=success follow_ups=1 superseded=malformed"),
            // Reopening restarts the handling clock without the old extension or outcome.
            step("4d", Center, reopen("当事人未按协议履行"), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour reopened=1 follow_ups=1 HANDLE[4d..7d]=NONE"),
            step("6d", Labour, resolve(false), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour reopened=1 outcome=failure follow_ups=1 FOLLOW_UP[6d..13d]=NONE"),
            step("7d", Center, follow_up(3, None), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour reopened=1 outcome=failure follow_ups=2"),
            step("8d", Center, archive(), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour reopened=1 outcome=failure follow_ups=2"),
        ]),
        scenario("supervision ratchets up: normal → yellow → red, never down", GREEN, vec![
            step("0", Supervisor, supervise(Sup::Normal), "DRAFT superseded=invalid_transition(DRAFT)"),
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Supervisor, supervise(Sup::Normal), "SUBMITTED sup=NORMAL ACCEPT[0..1d]=NONE"),
            step("2h", Center, supervise(Sup::Yellow), "SUBMITTED sup=YELLOW ACCEPT[0..1d]=NONE"),
            step("3h", Worker, supervise(Sup::Red), "SUBMITTED sup=YELLOW ACCEPT[0..1d]=NONE superseded=not_permitted(GRID_WORKER)"),
            step("3h", Supervisor, supervise(Sup::None), "SUBMITTED sup=YELLOW ACCEPT[0..1d]=NONE superseded=malformed"),
            step("1d", System, Action::Supervise { level: Sup::Red, note: "受理超时".into(), auto: true }, "SUBMITTED sup=RED ACCEPT[0..1d]=RED"),
            step("1d1h", Supervisor, supervise(Sup::Normal), "SUBMITTED sup=RED ACCEPT[0..1d]=RED"),
            step("1d1h", Center, supervise(Sup::Yellow), "SUBMITTED sup=RED ACCEPT[0..1d]=RED"),
            step("1d2h", Center, accept("330182-20260302-000001", County), "ACCEPTED case_no=330182-20260302-000001 tier=COUNTY sup=RED"),
        ]),
        scenario("the permission table, and steps whose data is malformed", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("0", Labour, submit(), "SUBMITTED ACCEPT[0..1d]=NONE superseded=not_permitted(DEPARTMENT_HANDLER)"),
            step("1h", Worker, accept(CN, County), "SUBMITTED ACCEPT[0..1d]=NONE superseded=not_permitted(GRID_WORKER)"),
            step("1h", Admin, accept(CN, County), "SUBMITTED ACCEPT[0..1d]=NONE superseded=not_permitted(ADMIN)"),
            step("1h", Labour, accept(CN, County), "SUBMITTED ACCEPT[0..1d]=NONE superseded=not_permitted(DEPARTMENT_HANDLER)"),
            step("1h", Supervisor, void("重复"), "SUBMITTED ACCEPT[0..1d]=NONE superseded=not_permitted(SUPERVISOR)"),
            step("1h", System, accept("330182-2026031-1", County), "SUBMITTED ACCEPT[0..1d]=NONE superseded=malformed"),
            step("1h", System, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("1h", Worker, dispatch(&[DEPT_LABOUR], County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY superseded=not_permitted(GRID_WORKER)"),
            step("1h", Mediator, dispatch(&[DEPT_LABOUR], County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY superseded=not_permitted(VILLAGE_MEDIATOR)"),
            step("1h", Supervisor, dispatch(&[DEPT_LABOUR], County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY superseded=not_permitted(SUPERVISOR)"),
            step("1h", System, auto_dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[1h..1d1h]=NONE"),
            step("2h", System, sign(), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[1h..1d1h]=NONE superseded=not_permitted(SYSTEM)"),
            step("2h", Center, sign(), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[1h..1d1h]=NONE superseded=not_permitted(DISPATCHER)"),
            step("2h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[2h..7d2h]=NONE"),
            step("2h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[2h..7d2h]=NONE"),
            step("3h", System, resolve(true), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[2h..7d2h]=NONE superseded=not_permitted(SYSTEM)"),
            step("3h", Supervisor, resolve(true), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[2h..7d2h]=NONE superseded=not_permitted(SUPERVISOR)"),
            step("3h", Worker, on_site(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[2h..7d2h]=NONE superseded=invalid_transition(IN_PROGRESS)"),
            step("3h", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3h..7d3h]=NONE"),
            step("4h", Labour, follow_up(5, None), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3h..7d3h]=NONE superseded=not_permitted(DEPARTMENT_HANDLER)"),
            step("4h", Mediator, follow_up(0, None), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3h..7d3h]=NONE superseded=malformed"),
            step("4h", Mediator, follow_up(5, Some(true)), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1"),
            step("5h", Supervisor, archive(), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 superseded=not_permitted(SUPERVISOR)"),
            step("5h", System, archive(), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 superseded=not_permitted(SYSTEM)"),
            step("5h", Center, archive(), "ARCHIVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1"),
        ]),
    ]
}

// ---- the scenarios: warnings at 69 %, 70 % and 100 % of every limit ------------------------

#[rustfmt::skip]
fn warning_scenarios() -> Vec<Scenario> {
    use Tier::County;
    vec![
        scenario("accept, ordinary risk: 1 day", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            clock("16h33m36s", "SUBMITTED ACCEPT[0..1d]=NONE"),
            clock("16h48m", "SUBMITTED ACCEPT[0..1d]=YELLOW"),
            clock("23h59m59s", "SUBMITTED ACCEPT[0..1d]=YELLOW"),
            clock("1d", "SUBMITTED ACCEPT[0..1d]=RED"),
            clock("5d", "SUBMITTED ACCEPT[0..1d]=RED"),
        ]),
        scenario("accept, red risk: 2 hours", (RiskLevel::Red, &[], Difficulty::General), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..2h]=NONE"),
            clock("1h22m48s", "SUBMITTED ACCEPT[0..2h]=NONE"),
            clock("1h24m", "SUBMITTED ACCEPT[0..2h]=YELLOW"),
            clock("2h", "SUBMITTED ACCEPT[0..2h]=RED"),
        ]),
        scenario("accept, a green case flagged for group petition: 2 hours", (RiskLevel::Green, &[RiskFlag::GroupPetition], Difficulty::General), vec![
            step("1h", Worker, submit(), "SUBMITTED ACCEPT[1h..3h]=NONE"),
            clock("2h22m48s", "SUBMITTED ACCEPT[1h..3h]=NONE"),
            clock("2h24m", "SUBMITTED ACCEPT[1h..3h]=YELLOW"),
            clock("3h", "SUBMITTED ACCEPT[1h..3h]=RED"),
        ]),
        scenario("sign for: 24 hours from dispatch", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            clock("18h33m36s", "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            clock("18h48m", "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=YELLOW"),
            clock("1d2h", "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=RED"),
            step("1d3h", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d3h..8d3h]=NONE"),
        ]),
        scenario("handle, simple: 3 days; resolved late", (RiskLevel::Green, &[], Difficulty::Simple), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..4d]=NONE"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..4d]=NONE"),
            clock("3d1h40m48s", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..4d]=NONE"),
            clock("3d2h24m", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..4d]=YELLOW"),
            clock("4d", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..4d]=RED"),
            step("4d1h", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success/late FOLLOW_UP[4d1h..11d1h]=NONE"),
        ]),
        scenario("handle, general: 7 days; resolved on the last moment", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            clock("5d19h55m12s", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            clock("5d21h36m", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=YELLOW"),
            clock("8d", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=RED"),
            step("8d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[8d..15d]=NONE"),
        ]),
        scenario("handle, complex: 15 days", (RiskLevel::Green, &[], Difficulty::Complex), vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..16d]=NONE"),
            clock("11d8h24m", "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..16d]=NONE"),
            clock("11d12h", "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..16d]=YELLOW"),
            clock("16d", "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..16d]=RED"),
        ]),
        scenario("handle, general with an approved 3-day extension: 10 days", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("2d", Labour, ext_request(3), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=3d HANDLE[1d..8d]=NONE"),
            clock("8d", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour pending=3d HANDLE[1d..8d]=RED"),
            step("2d1h", Center, ext_decision(true, 0), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=NONE"),
            clock("7d21h36m", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=NONE"),
            clock("8d", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=YELLOW"),
            clock("11d", "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour ext=3d HANDLE[1d..11d]=RED"),
        ]),
        scenario("follow-up: 7 days from resolution", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("3d", Labour, resolve(true), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=NONE"),
            clock("7d19h55m12s", "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=NONE"),
            clock("7d21h36m", "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=YELLOW"),
            clock("10d", "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=RED"),
        ]),
        scenario("follow-up after resolving on the spot: 7 days", (RiskLevel::Yellow, &[], Difficulty::Simple), vec![
            step("2h", Worker, on_site(), "SELF_RESOLVED outcome=success FOLLOW_UP[2h..7d2h]=NONE"),
            clock("4d21h55m12s", "SELF_RESOLVED outcome=success FOLLOW_UP[2h..7d2h]=NONE"),
            clock("4d23h36m", "SELF_RESOLVED outcome=success FOLLOW_UP[2h..7d2h]=YELLOW"),
            clock("7d2h", "SELF_RESOLVED outcome=success FOLLOW_UP[2h..7d2h]=RED"),
        ]),
        scenario("installment due: a reminder window of 7 days before the due date", GREEN, vec![
            step("0", Worker, submit(), "SUBMITTED ACCEPT[0..1d]=NONE"),
            step("1h", Center, accept(CN, County), "ACCEPTED case_no=330182-20260301-000001 tier=COUNTY"),
            step("2h", Center, dispatch(&[DEPT_LABOUR], County), "DISPATCHED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour SIGN[2h..1d2h]=NONE"),
            step("1d", Labour, sign(), "SIGNED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("1d1h", Labour, start(), "IN_PROGRESS case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour HANDLE[1d..8d]=NONE"),
            step("3d", Labour, resolve_with(&[("i1", "30d", 1_850_000)]), "RESOLVED case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success FOLLOW_UP[3d..10d]=NONE INSTALLMENT:i1[23d..30d]=NONE"),
            step("4d", Center, follow_up(5, None), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[23d..30d]=NONE"),
            clock("27d19h55m12s", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[23d..30d]=NONE"),
            clock("27d21h36m", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[23d..30d]=YELLOW"),
            clock("30d", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour outcome=success follow_ups=1 INSTALLMENT:i1[23d..30d]=RED"),
            // An installment still owed keeps the case open to supervision (the scanner's
            // automatic one at red), though it is followed up.
            step("30d", System, Action::Supervise { level: SupervisionLevel::Normal, note: "分期履行逾期".into(), auto: true }, "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour sup=NORMAL outcome=success follow_ups=1 INSTALLMENT:i1[23d..30d]=RED"),
            paid("30d1h", "i1", "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour sup=NORMAL outcome=success follow_ups=1"),
            // Paid: nothing is owed, nothing left to supervise.
            step("30d2h", Supervisor, supervise(SupervisionLevel::Yellow), "FOLLOWED_UP case_no=330182-20260301-000001 tier=COUNTY orgs=dept-labour assignee=u-chen handler=dept-labour sup=NORMAL outcome=success follow_ups=1 superseded=invalid_transition(FOLLOWED_UP)"),
        ]),
    ]
}

// ---- the runner ------------------------------------------------------------------------------

/// The derived state as one line (see the module doc).
fn render(s: &WorkflowState) -> String {
    let mut out = vec![s.status.as_code().to_owned()];
    if let Some(n) = &s.case_no {
        out.push(format!("case_no={n}"));
    }
    if s.tier != Tier::Village {
        out.push(format!("tier={}", s.tier));
    }
    if !s.assigned_orgs.is_empty() {
        let ids: Vec<&str> = s.assigned_orgs.iter().map(|o| o.id.as_str()).collect();
        out.push(format!("orgs={}", ids.join(",")));
    }
    if let Some(a) = &s.assignee {
        out.push(format!("assignee={a}"));
    }
    if let Some(h) = &s.handling_org {
        out.push(format!("handler={h}"));
    }
    if s.supervision != SupervisionLevel::None {
        out.push(format!("sup={}", s.supervision));
    }
    if s.extension_days > 0 {
        out.push(format!("ext={}d", s.extension_days));
    }
    if let Some(p) = s.pending_extension {
        out.push(format!("pending={p}d"));
    }
    if s.send_backs > 0 {
        out.push(format!("send_backs={}", s.send_backs));
    }
    if s.reopened > 0 {
        out.push(format!("reopened={}", s.reopened));
    }
    if let Some(o) = &s.outcome {
        let result = if o.success { "success" } else { "failure" };
        let late = if o.on_time { "" } else { "/late" };
        out.push(format!("outcome={result}{late}"));
    }
    if !s.follow_ups.is_empty() {
        out.push(format!("follow_ups={}", s.follow_ups.len()));
    }
    if !s.co_feedback.is_empty() {
        let orgs: Vec<&str> = s.co_feedback.iter().map(|f| f.org.id.as_str()).collect();
        out.push(format!("feedback={}", orgs.join(",")));
    }
    for d in &s.deadlines {
        let kind = match d.kind {
            DeadlineKind::Accept => "ACCEPT".to_owned(),
            DeadlineKind::Sign => "SIGN".to_owned(),
            DeadlineKind::Handle => "HANDLE".to_owned(),
            DeadlineKind::FollowUp => "FOLLOW_UP".to_owned(),
            DeadlineKind::Installment => {
                format!("INSTALLMENT:{}", d.item.as_deref().unwrap_or("?"))
            }
            DeadlineKind::CoHandle => format!("CO_HANDLE:{}", d.item.as_deref().unwrap_or("?")),
        };
        let level = match d.level {
            gridsync_core::workflow::WarningLevel::None => "NONE",
            gridsync_core::workflow::WarningLevel::Yellow => "YELLOW",
            gridsync_core::workflow::WarningLevel::Red => "RED",
        };
        out.push(format!(
            "{kind}[{}..{}]={level}",
            rel(d.started_at),
            rel(d.due_at)
        ));
    }
    out.join(" ")
}

fn render_reason(r: &SupersedeReason) -> String {
    match r {
        SupersedeReason::UnknownKind => "unknown_kind".into(),
        SupersedeReason::MalformedPayload { .. } => "malformed".into(),
        SupersedeReason::NotPermitted { role } => format!("not_permitted({role})"),
        SupersedeReason::InvalidTransition { from } => format!("invalid_transition({from})"),
        SupersedeReason::RiskTooHigh => "risk_too_high".into(),
        SupersedeReason::NotAssigned => "not_assigned".into(),
        SupersedeReason::NothingPending => "nothing_pending".into(),
        SupersedeReason::NotHigherTier { current } => format!("not_higher_tier({current})"),
    }
}

/// Splits `"STATE superseded=reason"` into the state and the reason.
fn split_expect(expect: &str) -> (&str, Option<&str>) {
    match expect.split_once(" superseded=") {
        Some((state, reason)) => (state, Some(reason)),
        None => (expect, None),
    }
}

fn without_timeline(s: &WorkflowState) -> WorkflowState {
    let mut s = s.clone();
    s.timeline.clear();
    s
}

/// Runs one scenario both ways; the first mismatch, if any.
fn run(s: &Scenario) -> Result<(), String> {
    let limits = TimeLimits::default();
    let recorder = Worker.author();
    let new = new_case(s.risk, s.flags, s.difficulty);
    let mut doc = CaseDoc::record(&new, &recorder, "phone-wang", T0, ActorId::random())
        .map_err(|e| format!("record: {e}"))?;
    let mut case = Case {
        risk_level: s.risk,
        risk_flags: s.flags.to_vec(),
        difficulty: s.difficulty,
        ..Case::default()
    };
    let mut log: Vec<Event> = Vec::new();

    for (n, line) in s.script.iter().enumerate() {
        let here = |path: &str| format!("{}, line {} ({path})", s.name, n + 1);
        let check = |path: &str, got: String, want: &str| {
            if got == want {
                Ok(())
            } else {
                Err(format!("{}\n  want: {want}\n  got:  {got}", here(path)))
            }
        };
        match line {
            Line::Step {
                at: t,
                by,
                action,
                expect,
            } => {
                let t = at(t);
                let author = by.author();
                let (want_state, want_reason) = split_expect(expect);

                // The hand-built merged log: the event is kept, superseded or not.
                let before = fold(&case, &log, &limits, t);
                log.push(Event::new(format!("e{n}"), &author, t, action));
                let mut after = fold(&case, &log, &limits, t);
                let superseded = after.timeline.last().and_then(|e| e.superseded.clone());
                let mut got = render(&after);
                if let Some(r) = &superseded {
                    after = fold(&case, &log, &limits, t);
                    got = format!("{} superseded={}", render(&after), render_reason(r));
                    let status_after = after.timeline.last().map(|e| e.status_after);
                    if without_timeline(&before) != without_timeline(&after)
                        || status_after != Some(before.status)
                    {
                        return Err(format!(
                            "{}: a superseded event moved the state",
                            here("fold")
                        ));
                    }
                }
                check("fold", got, expect)?;

                // What `allowed` lists: every kind that applied, and no kind refused for
                // the state, the role, the assignment or the risk (a payload may still be
                // refused: malformed, below an escalation's tier).
                let listed = before.allowed(&case, &author).contains(&action.kind());
                let refused_as_kind = superseded.as_ref().is_some_and(|r| {
                    !matches!(
                        r,
                        SupersedeReason::MalformedPayload { .. }
                            | SupersedeReason::NotHigherTier { .. }
                    )
                });
                if superseded.is_none() && !listed {
                    return Err(format!(
                        "{}: applied, yet not in allowed()",
                        here("allowed")
                    ));
                }
                if refused_as_kind && listed {
                    return Err(format!("{}: refused, yet in allowed()", here("allowed")));
                }

                // The document: the step is taken through `act`, or refused untouched.
                let heads = sorted(doc.heads());
                let count = doc.events().len();
                let status = doc.state(&limits, t).status;
                match (doc.act(action, &author, t), want_reason) {
                    (Ok(id), None) => {
                        let events = doc.events();
                        if events.len() != count + 1 || events.last().map(|e| &e.id) != Some(&id) {
                            return Err(format!("{}: the event was not appended", here("act")));
                        }
                    }
                    (Ok(_), Some(reason)) => {
                        return Err(format!(
                            "{}: act accepted a step superseded as {reason}",
                            here("act")
                        ));
                    }
                    (Err(e), None) => {
                        return Err(format!("{}: act refused a valid step: {e}", here("act")));
                    }
                    (Err(e), Some(reason)) => {
                        let kind = action.kind();
                        let right_error = if reason.starts_with("not_permitted") {
                            matches!(&e, Error::NotPermitted { role, kind: k } if *role == author.role && *k == kind)
                        } else {
                            matches!(&e, Error::InvalidTransition { kind: k, status: st, .. } if *k == kind && *st == status)
                        };
                        if !right_error {
                            return Err(format!(
                                "{}: wrong error for {reason}: {e:?}",
                                here("act")
                            ));
                        }
                        if sorted(doc.heads()) != heads || doc.events().len() != count {
                            return Err(format!(
                                "{}: a refused step changed the document",
                                here("act")
                            ));
                        }
                    }
                }
                check("document", render(&doc.state(&limits, t)), want_state)?;
            }
            Line::Clock { now, expect } => {
                let now = at(now);
                check("fold", render(&fold(&case, &log, &limits, now)), expect)?;
                check("document", render(&doc.state(&limits, now)), expect)?;
            }
            Line::Paid {
                at: t,
                item,
                expect,
            } => {
                let t = at(t);
                doc.mark_installment_paid(item, t, t)
                    .map_err(|e| format!("{}: {e}", here("document")))?;
                case.payments.insert(item.to_string(), t);
                check("fold", render(&fold(&case, &log, &limits, t)), expect)?;
                check("document", render(&doc.state(&limits, t)), expect)?;
            }
        }
    }
    Ok(())
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn run_all(scenarios: Vec<Scenario>) {
    let total = scenarios.len();
    let lines: usize = scenarios.iter().map(|s| s.script.len()).sum();
    let failures: Vec<String> = scenarios.iter().filter_map(|s| run(s).err()).collect();
    eprintln!(
        "{total} scenarios, {lines} lines, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} scenarios failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn transitions() {
    run_all(transition_scenarios());
}

#[test]
fn warnings_at_69_70_and_100_percent() {
    run_all(warning_scenarios());
}

// ---- beyond the table ----------------------------------------------------------------------

/// The case numbers written in the scenarios are what the center's formatter makes for the
/// acceptance times they carry (Beijing calendar days).
#[test]
fn case_numbers_in_the_scenarios_follow_the_format() {
    let beijing = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    let format_case_no =
        |county: &str, t: Timestamp, seq| format_case_no(county, t.date_at(beijing), seq);
    assert_eq!(format_case_no("330182", at("1h"), 1), CN);
    assert_eq!(format_case_no("330182", at("23h59m59s"), 1), CN);
    assert_eq!(
        format_case_no("330182", at("1d2h"), 1),
        "330182-20260302-000001"
    );
    assert_eq!(
        format_case_no("330182", Timestamp(T0.0 - 1), 1),
        "330182-20260228-000001"
    );
    assert!(is_case_no(CN));
    assert!(!is_case_no("330182-2026031-1"));
}

/// Events a newer version wrote, or that were tampered with, are kept in the timeline and move
/// nothing.
#[test]
fn foreign_events_are_kept_and_move_nothing() {
    let limits = TimeLimits::default();
    let case = Case::default();
    let worker = Worker.author();
    let raw = |id: &str, kind: &str, role: &str, payload: &str| Event {
        id: id.into(),
        kind: kind.into(),
        by_user: "u-x".into(),
        by_role: role.into(),
        org: COUNTY_CENTER.into(),
        at: at("1h"),
        payload: payload.into(),
    };
    let log = vec![
        Event::new("e1", &worker, at("0"), &submit()),
        raw("e2", "MEDIATE_ONLINE", "DISPATCHER", "{}"),
        raw(
            "e3",
            "ACCEPT",
            "DEPUTY_MAYOR",
            r#"{"case_no":"330182-20260301-000001"}"#,
        ),
        raw("e4", "ACCEPT", "DISPATCHER", "not json"),
        raw("e5", "ACCEPT", "DISPATCHER", r#"{"tier":"COUNTY"}"#),
        raw(
            "e6",
            "ACCEPT",
            "DISPATCHER",
            r#"{"case_no":"330182-20260301-000001","tier":"PROVINCE"}"#,
        ),
    ];
    let state = fold(&case, &log, &limits, at("2h"));
    assert_eq!(render(&state), "SUBMITTED ACCEPT[0..1d]=NONE");
    let reasons: Vec<String> = state
        .timeline
        .iter()
        .map(|t| {
            t.superseded
                .as_ref()
                .map(render_reason)
                .unwrap_or_else(|| "applied".into())
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "applied",
            "unknown_kind",
            "not_permitted(DEPUTY_MAYOR)",
            "malformed",
            "malformed",
            "malformed"
        ]
    );
    assert_eq!(state.superseded().count(), 5);
    assert!(
        state
            .timeline
            .iter()
            .all(|t| t.status_after == Status::Submitted)
    );
    // A role code the permission table does not know is refused as such.
    assert!(matches!(
        &state.timeline[2].superseded,
        Some(SupersedeReason::NotPermitted { role }) if role == "DEPUTY_MAYOR"
    ));
    // The same log, minus the foreign entries, derives the same state.
    let clean = fold(&case, &log[..1], &limits, at("2h"));
    assert_eq!(without_timeline(&clean), without_timeline(&state));
    // The author's role string decides permission, not the user.
    assert_eq!(Role::from_code("DISPATCHER"), Some(Role::Dispatcher));
}
