//! The center's workflow (DESIGN §4): a state machine folded over the case's event log.
//!
//! Status is never stored. Each step appends an [`Event`] to the case document; [`fold`]
//! replays the merged log in document order through the state machine and derives status,
//! case number, tier, assignment, deadlines, supervision and warnings. Every replica holding
//! the same changes derives the same [`WorkflowState`]. An event that is not valid where it
//! lands in the merged order is kept, marked superseded in the timeline, and moves nothing.
//!
//! ```
//! use gridsync_core::workflow::{fold, Action, Author, Event, Role, Status, TimeLimits};
//! use gridsync_core::case::{Case, Timestamp};
//!
//! let worker = Author::new("u-wang", Role::GridWorker, "330182101201");
//! let center = Author::new("u-li", Role::Dispatcher, "330182000000");
//! let log = vec![
//!     Event::new("e1", &worker, Timestamp(0), &Action::Submit {}),
//!     Event::new("e2", &center, Timestamp(3_600_000), &Action::accept("330182-20261128-000001")),
//! ];
//! let state = fold(&Case::default(), &log, &TimeLimits::default(), Timestamp(7_200_000));
//! assert_eq!(state.status, Status::Accepted);
//! assert_eq!(state.case_no.as_deref(), Some("330182-20261128-000001"));
//! ```

mod fold;
mod task;

use serde::{Deserialize, Serialize};

use crate::case::code_enum;
use crate::case::{Agreement, FollowUp, Timestamp};

pub use fold::{
    CoFeedback, Deadline, DeadlineKind, Outcome, SupersedeReason, TimelineEntry, WarningLevel,
    WorkflowState, fold, warning_level,
};
pub use task::{CaseTask, Task, TaskKind, sort_tasks, task_for};

code_enum! {
    /// Where a case stands. Derived, never stored.
    pub enum Status {
        default Draft = "DRAFT", "草稿", "Draft";
        Submitted = "SUBMITTED", "已上报", "Submitted";
        Accepted = "ACCEPTED", "已受理", "Accepted";
        Dispatched = "DISPATCHED", "已分派", "Dispatched";
        Signed = "SIGNED", "已签收", "Signed for";
        InProgress = "IN_PROGRESS", "调处中", "In progress";
        Resolved = "RESOLVED", "已办结", "Resolved";
        FollowedUp = "FOLLOWED_UP", "已回访", "Followed up";
        Archived = "ARCHIVED", "已归档", "Archived";
        SelfResolved = "SELF_RESOLVED", "就地化解", "Resolved on the spot";
        Returned = "RETURNED", "已退回", "Returned for correction";
        Void = "VOID", "已作废", "Void";
        Escalated = "ESCALATED", "已提级", "Escalated";
    }
}

impl Status {
    /// Open: the center still owes work on it (supervision applies).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Submitted
                | Status::Accepted
                | Status::Dispatched
                | Status::Signed
                | Status::InProgress
                | Status::Escalated
                | Status::Returned
        )
    }

    /// Closed for good: nothing more happens.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Archived | Status::Void)
    }
}

code_enum! {
    /// Who a user is in the system. `System` is the server's own actor (auto-dispatch,
    /// automatic supervision); the permission table covers it like any other role.
    pub enum Role {
        default GridWorker = "GRID_WORKER", "网格员", "Grid worker";
        VillageMediator = "VILLAGE_MEDIATOR", "村调解员", "Village mediator";
        Dispatcher = "DISPATCHER", "中心受理派遣员", "Center dispatcher";
        DepartmentHandler = "DEPARTMENT_HANDLER", "部门承办人", "Department handler";
        Supervisor = "SUPERVISOR", "督办领导", "Supervisor";
        Admin = "ADMIN", "系统管理员", "Administrator";
        System = "SYSTEM", "系统", "System";
    }
}

code_enum! {
    /// A workflow step, as recorded in the event log.
    pub enum EventKind {
        default Submit = "SUBMIT", "上报", "submit";
        ResolveOnSite = "RESOLVE_ON_SITE", "就地化解", "resolve on the spot";
        Accept = "ACCEPT", "受理", "accept";
        Return = "RETURN", "退回", "return for correction";
        Void = "VOID", "作废", "void";
        Dispatch = "DISPATCH", "分派", "dispatch";
        SignFor = "SIGN_FOR", "签收", "sign for";
        SendBack = "SEND_BACK", "退单", "send back";
        StartHandling = "START_HANDLING", "开始调处", "start handling";
        ExtensionRequest = "EXTENSION_REQUEST", "延期申请", "request an extension";
        ExtensionDecision = "EXTENSION_DECISION", "延期审批", "decide an extension";
        Escalate = "ESCALATE", "提级", "escalate";
        Resolve = "RESOLVE", "办结", "resolve";
        FollowUp = "FOLLOW_UP", "回访", "follow up";
        Reopen = "REOPEN", "重办", "reopen";
        Archive = "ARCHIVE", "归档", "archive";
        Supervise = "SUPERVISE", "督办", "supervise";
        CoHandlingFeedback = "CO_HANDLING_FEEDBACK", "协办意见", "co-handling feedback";
    }
}

code_enum! {
    /// The tier handling a case (三级联动).
    pub enum Tier {
        default Village = "VILLAGE", "村(社区)", "Village";
        Township = "TOWNSHIP", "乡镇(街道)", "Township";
        County = "COUNTY", "县(区)", "County";
    }
}

code_enum! {
    /// Supervision (督办): only ratchets up.
    pub enum SupervisionLevel {
        default None = "NONE", "无", "None";
        Normal = "NORMAL", "一般督办", "Supervised";
        Yellow = "YELLOW", "黄牌督办", "Yellow card";
        Red = "RED", "红牌督办", "Red card";
    }
}

/// The permission table: which role may author which event kind.
pub fn may_author(role: Role, kind: EventKind) -> bool {
    use EventKind as K;
    use Role as R;
    match kind {
        K::Submit => matches!(role, R::GridWorker | R::VillageMediator | R::Dispatcher),
        K::ResolveOnSite => matches!(role, R::GridWorker | R::VillageMediator),
        K::Accept | K::Return | K::Void | K::Dispatch => matches!(role, R::Dispatcher | R::System),
        K::SignFor
        | K::SendBack
        | K::StartHandling
        | K::ExtensionRequest
        | K::Resolve
        | K::CoHandlingFeedback => {
            matches!(role, R::DepartmentHandler | R::VillageMediator)
        }
        K::ExtensionDecision => matches!(role, R::Dispatcher | R::Supervisor),
        K::Escalate => {
            matches!(
                role,
                R::DepartmentHandler | R::VillageMediator | R::Dispatcher
            )
        }
        // System: the applicant's own answer to the survey link, recorded by the center.
        K::FollowUp => matches!(
            role,
            R::GridWorker | R::VillageMediator | R::Dispatcher | R::Supervisor | R::System
        ),
        K::Reopen | K::Archive => matches!(role, R::Dispatcher),
        K::Supervise => matches!(role, R::Supervisor | R::Dispatcher | R::System),
    }
}

impl EventKind {
    /// Steps the center takes through its own API, never from a device: accepting numbers
    /// the case from the center's counter, dispatching names organisations from its
    /// registry, and returning, voiding, reopening and archiving dispose of the case.
    pub fn is_center_step(self) -> bool {
        use EventKind as K;
        matches!(
            self,
            K::Accept | K::Return | K::Void | K::Dispatch | K::Reopen | K::Archive
        )
    }
}

/// The permission table for events pushed from a device: [`may_author`] without the
/// center's own steps ([`EventKind::is_center_step`]).
pub fn may_push(role: Role, kind: EventKind) -> bool {
    may_author(role, kind) && !kind.is_center_step()
}

/// Who takes a step: a user, in a role, for an organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub user: String,
    pub role: Role,
    pub org: String,
}

impl Author {
    pub fn new(user: impl Into<String>, role: Role, org: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            role,
            org: org.into(),
        }
    }
}

/// An organisation an event names (dispatch target).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

impl OrgRef {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// A workflow step with its data. Stored as an event: the kind as a code, the data as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum Action {
    Submit {},
    ResolveOnSite {
        outcome: String,
        #[serde(default)]
        agreement: Option<Agreement>,
    },
    Accept {
        case_no: String,
        #[serde(default)]
        tier: Tier,
    },
    Return {
        reason: String,
    },
    Void {
        reason: String,
    },
    Dispatch {
        /// The lead organisation first; more than one is joint handling (会诊).
        to: Vec<OrgRef>,
        #[serde(default)]
        assignee: Option<String>,
        #[serde(default)]
        tier: Tier,
        #[serde(default)]
        note: String,
        /// Made by an auto-dispatch rule rather than a person.
        #[serde(default)]
        auto: bool,
    },
    SignFor {},
    SendBack {
        reason: String,
    },
    StartHandling {},
    ExtensionRequest {
        days: u32,
        reason: String,
    },
    ExtensionDecision {
        approved: bool,
        #[serde(default)]
        days: u32,
        #[serde(default)]
        note: String,
    },
    Escalate {
        to_tier: Tier,
        reason: String,
    },
    Resolve {
        success: bool,
        outcome: String,
        #[serde(default)]
        agreement: Option<Agreement>,
    },
    FollowUp(FollowUp),
    Reopen {
        reason: String,
    },
    Archive {},
    Supervise {
        level: SupervisionLevel,
        #[serde(default)]
        note: String,
        #[serde(default)]
        auto: bool,
    },
    /// 协办意见: a co-handling organisation of a joint dispatch (one named after the lead)
    /// records its feedback for the lead, who resolves with it in view.
    CoHandlingFeedback {
        opinion: String,
    },
}

impl Action {
    pub fn accept(case_no: impl Into<String>) -> Self {
        Action::Accept {
            case_no: case_no.into(),
            tier: Tier::County,
        }
    }

    /// A valid action of `kind` with the most permissive payload (see
    /// [`WorkflowState::allowed`]); `None` for a kind this version cannot build.
    pub fn probe(kind: EventKind) -> Option<Self> {
        let text = || "probe".to_owned();
        Some(match kind {
            EventKind::Submit => Action::Submit {},
            EventKind::ResolveOnSite => Action::ResolveOnSite {
                outcome: text(),
                agreement: None,
            },
            EventKind::Accept => Action::Accept {
                case_no: "000000-20000101-000001".into(),
                tier: Tier::County,
            },
            EventKind::Return => Action::Return { reason: text() },
            EventKind::Void => Action::Void { reason: text() },
            EventKind::Dispatch => Action::Dispatch {
                to: vec![OrgRef::new("probe", "probe")],
                assignee: None,
                tier: Tier::County,
                note: String::new(),
                auto: false,
            },
            EventKind::SignFor => Action::SignFor {},
            EventKind::SendBack => Action::SendBack { reason: text() },
            EventKind::StartHandling => Action::StartHandling {},
            EventKind::ExtensionRequest => Action::ExtensionRequest {
                days: 1,
                reason: text(),
            },
            EventKind::ExtensionDecision => Action::ExtensionDecision {
                approved: true,
                days: 0,
                note: String::new(),
            },
            EventKind::Escalate => Action::Escalate {
                to_tier: Tier::County,
                reason: text(),
            },
            EventKind::Resolve => Action::Resolve {
                success: true,
                outcome: text(),
                agreement: None,
            },
            EventKind::FollowUp => Action::FollowUp(FollowUp {
                satisfaction: 5,
                ..FollowUp::default()
            }),
            EventKind::Reopen => Action::Reopen { reason: text() },
            EventKind::Archive => Action::Archive {},
            EventKind::Supervise => Action::Supervise {
                level: SupervisionLevel::Red,
                note: String::new(),
                auto: false,
            },
            EventKind::CoHandlingFeedback => Action::CoHandlingFeedback { opinion: text() },
        })
    }

    pub fn dispatch_to(org: OrgRef, tier: Tier) -> Self {
        Action::Dispatch {
            to: vec![org],
            assignee: None,
            tier,
            note: String::new(),
            auto: false,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Action::Submit {} => EventKind::Submit,
            Action::ResolveOnSite { .. } => EventKind::ResolveOnSite,
            Action::Accept { .. } => EventKind::Accept,
            Action::Return { .. } => EventKind::Return,
            Action::Void { .. } => EventKind::Void,
            Action::Dispatch { .. } => EventKind::Dispatch,
            Action::SignFor {} => EventKind::SignFor,
            Action::SendBack { .. } => EventKind::SendBack,
            Action::StartHandling {} => EventKind::StartHandling,
            Action::ExtensionRequest { .. } => EventKind::ExtensionRequest,
            Action::ExtensionDecision { .. } => EventKind::ExtensionDecision,
            Action::Escalate { .. } => EventKind::Escalate,
            Action::Resolve { .. } => EventKind::Resolve,
            Action::FollowUp(_) => EventKind::FollowUp,
            Action::Reopen { .. } => EventKind::Reopen,
            Action::Archive {} => EventKind::Archive,
            Action::Supervise { .. } => EventKind::Supervise,
            Action::CoHandlingFeedback { .. } => EventKind::CoHandlingFeedback,
        }
    }

    /// The payload as stored in the event: JSON of the variant's data.
    pub fn payload_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        let payload = value.get_mut("payload").map(serde_json::Value::take);
        payload.unwrap_or_else(|| serde_json::json!({})).to_string()
    }

    /// Reads an action back from a stored kind code and payload.
    pub fn parse(kind: &str, payload: &str) -> Result<Self, String> {
        let payload: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
            .map_err(|e| e.to_string())
    }

    /// Checks the data an action must carry (reasons, targets, ranges), independent of state.
    pub fn validate(&self) -> Result<(), String> {
        self.problem().map_or(Ok(()), |(field, message)| {
            Err(format!("{field}: {message}"))
        })
    }

    /// The first field of the action's data that breaks its rule, and why: `None` when
    /// [`Action::validate`] passes. Text fields are held to the one table of field rules
    /// (`case::field_rule`).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        fn text(field: &'static str, value: &str) -> Option<(&'static str, String)> {
            let problem = crate::case::field_rule(field).check(value)?;
            Some((field, problem.message_en().to_owned()))
        }
        fn rule(ok: bool, field: &'static str, why: &str) -> Option<(&'static str, String)> {
            (!ok).then(|| (field, why.to_owned()))
        }
        fn agreement(a: &Option<Agreement>) -> Option<(&'static str, String)> {
            let a = a.as_ref()?;
            text("terms", &a.terms).or_else(|| {
                let paid = a.installments.iter().all(|i| i.amount >= 0);
                rule(
                    paid,
                    "installments",
                    "an installment's amount is not negative",
                )
            })
        }
        match self {
            Action::Return { reason }
            | Action::Void { reason }
            | Action::SendBack { reason }
            | Action::Reopen { reason }
            | Action::Escalate { reason, .. } => text("reason", reason),
            Action::CoHandlingFeedback { opinion } => text("opinion", opinion),
            Action::ExtensionRequest { days, reason } => text("reason", reason)
                .or_else(|| rule((1..=90).contains(days), "days", "days must be 1..=90")),
            Action::Accept { case_no, .. } => rule(
                crate::case::is_case_no(case_no),
                "case_no",
                &format!("case number {case_no:?} is not {{county6}}-{{yyyymmdd}}-{{seq}}"),
            ),
            Action::Dispatch { to, .. } => rule(
                !to.is_empty() && to.iter().all(|o| !o.id.trim().is_empty()),
                "to",
                "a dispatch names at least one organisation",
            ),
            Action::Resolve {
                outcome,
                agreement: a,
                ..
            }
            | Action::ResolveOnSite {
                outcome,
                agreement: a,
            } => text("outcome", outcome).or_else(|| agreement(a)),
            Action::FollowUp(f) => text("note", &f.note).or_else(|| {
                let ok = (1..=5).contains(&f.satisfaction);
                rule(ok, "satisfaction", "satisfaction must be 1..=5")
            }),
            Action::Supervise { level, note, .. } => text("note", note).or_else(|| {
                let ok = *level != SupervisionLevel::None;
                rule(
                    ok,
                    "level",
                    "supervision level must be NORMAL, YELLOW or RED",
                )
            }),
            Action::ExtensionDecision { note, .. } => text("note", note),
            _ => None,
        }
    }
}

/// One entry of a case's event log, as stored in the document. Kind and role stay raw
/// strings so an event written by a newer version (an unknown kind) still loads; the fold
/// marks it superseded instead of failing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub by_user: String,
    pub by_role: String,
    pub org: String,
    pub at: Timestamp,
    /// JSON of the action's data.
    pub payload: String,
}

impl Event {
    pub fn new(id: impl Into<String>, author: &Author, at: Timestamp, action: &Action) -> Self {
        Event {
            id: id.into(),
            kind: action.kind().as_code().to_owned(),
            by_user: author.user.clone(),
            by_role: author.role.as_code().to_owned(),
            org: author.org.clone(),
            at,
            payload: action.payload_json(),
        }
    }

    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_code(&self.kind)
    }

    pub fn action(&self) -> Result<Action, String> {
        Action::parse(&self.kind, &self.payload)
    }
}

/// Time limits, in milliseconds. A configuration value: the defaults are DESIGN §4's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimits {
    /// Submitted → accepted.
    pub accept: i64,
    /// Submitted → accepted for a red or flagged case.
    pub accept_high_risk: i64,
    /// Dispatched → signed for.
    pub sign: i64,
    /// Signed for → resolved, by difficulty ("3715").
    pub handle_simple: i64,
    pub handle_general: i64,
    pub handle_complex: i64,
    /// Resolved → followed up; also the reminder window before each installment falls due.
    pub follow_up: i64,
    /// Dispatched → each co-handling organisation's feedback (协办意见) on a joint case.
    /// Absent from limits written before joint handling: the default applies.
    #[serde(default = "TimeLimits::default_co_handle")]
    pub co_handle: i64,
    /// Warnings turn yellow at this share of a limit (percent) and red at 100 %.
    pub yellow_percent: u8,
}

impl Default for TimeLimits {
    fn default() -> Self {
        const H: i64 = Timestamp::HOUR;
        const D: i64 = Timestamp::DAY;
        TimeLimits {
            accept: D,
            accept_high_risk: 2 * H,
            sign: 24 * H,
            handle_simple: 3 * D,
            handle_general: 7 * D,
            handle_complex: 15 * D,
            follow_up: 7 * D,
            co_handle: Self::default_co_handle(),
            yellow_percent: 70,
        }
    }
}

impl TimeLimits {
    /// Co-handlers answer within 3 days of the dispatch by default.
    pub const fn default_co_handle() -> i64 {
        3 * Timestamp::DAY
    }

    pub fn handle(&self, difficulty: crate::case::Difficulty) -> i64 {
        use crate::case::Difficulty;
        match difficulty {
            Difficulty::Simple => self.handle_simple,
            Difficulty::General => self.handle_general,
            Difficulty::Complex => self.handle_complex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_event_payloads() {
        let actions = [
            Action::Submit {},
            Action::accept("330182-20261128-000001"),
            Action::dispatch_to(
                OrgRef::new("dept-labour", "人社局劳动监察大队"),
                Tier::County,
            ),
            Action::ExtensionRequest {
                days: 5,
                reason: "等待鉴定".into(),
            },
            Action::FollowUp(FollowUp {
                satisfaction: 5,
                ..FollowUp::default()
            }),
            Action::Supervise {
                level: SupervisionLevel::Red,
                note: String::new(),
                auto: true,
            },
        ];
        for a in actions {
            let json = a.payload_json();
            assert_eq!(
                Action::parse(a.kind().as_code(), &json).unwrap(),
                a,
                "{json}"
            );
        }
        assert_eq!(Action::Submit {}.payload_json(), "{}");
    }

    #[test]
    fn grid_workers_cannot_dispatch_and_system_cannot_resolve() {
        assert!(!may_author(Role::GridWorker, EventKind::Dispatch));
        assert!(may_author(Role::System, EventKind::Dispatch));
        assert!(!may_author(Role::System, EventKind::Resolve));
        assert!(!may_author(Role::Admin, EventKind::Accept));
    }
}
