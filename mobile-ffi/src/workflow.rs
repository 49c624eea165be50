//! The workflow as the apps see it: derived status, deadlines with their warning levels,
//! the timeline, and the inputs of the steps a phone may take.
//!
//! The derived values the apps branch on (a status badge, a red deadline) are UniFFI enums:
//! the sets are fixed by the workflow's state machine, and an exhaustive `when` / `switch`
//! in the app is what should break when they change. Their Kotlin and Python names are the
//! wire codes (`Status.IN_PROGRESS` is `"IN_PROGRESS"`); labels come from
//! [`crate::code_label`]. Event kinds and roles inside a timeline stay strings: a log can
//! hold events written by a newer version.

use gridsync_core::case as core;
use gridsync_core::workflow as wf;

use crate::FieldError;
use crate::codes::{follow_up_method_code, parse_follow_up_method};

/// Where a case stands (derived from its event log, never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Draft,
    Submitted,
    Accepted,
    Dispatched,
    Signed,
    InProgress,
    Resolved,
    FollowedUp,
    Archived,
    SelfResolved,
    Returned,
    Void,
    Escalated,
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    GridWorker,
    VillageMediator,
    Dispatcher,
    DepartmentHandler,
    Supervisor,
    Admin,
    System,
}

/// The tier handling a case (三级联动).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    Village,
    Township,
    County,
}

/// Supervision (督办) of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SupervisionLevel {
    None,
    Normal,
    Yellow,
    Red,
}

/// What a running clock is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeadlineKind {
    /// 受理时限: submitted, not yet accepted.
    Accept,
    /// 签收时限: dispatched, not yet signed for.
    Sign,
    /// 办理时限: signed for, not yet resolved.
    Handle,
    /// 回访时限: resolved, not yet followed up.
    FollowUp,
    /// An agreement installment not yet paid.
    Installment,
    /// 协办时限: a co-handling organisation (the deadline's `item`) has not given its
    /// feedback on a joint case.
    CoHandle,
}

/// How far along a time limit is: yellow at 70 % (by default), red at 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningLevel {
    None,
    Yellow,
    Red,
}

/// A running clock with its warning level at the time of reading.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// Milliseconds since the Unix epoch, like every time in this API.
    pub started_at: i64,
    pub due_at: i64,
    pub level: WarningLevel,
    /// For installments: which one; for co-handling: the organisation's id.
    pub item: Option<String>,
}

/// One row of a case's timeline: every event, applied or superseded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct TimelineEntry {
    pub event_id: String,
    /// The event kind's code (`SUBMIT`, `DISPATCH`, ...; see `CodeKind.EVENT_KIND`). A
    /// string: an event written by a newer app has a kind this version does not know.
    pub kind: String,
    pub by_user: String,
    /// The author's role code, as recorded.
    pub by_role: String,
    pub org: String,
    pub at: i64,
    /// Status after this entry (unchanged when superseded).
    pub status_after: Status,
    /// Kept in the log but did not move the state (DESIGN §4): show it struck through.
    pub superseded: bool,
    /// Why, when superseded: `unknown_kind`, `malformed_payload`, `not_permitted`,
    /// `invalid_transition`, `risk_too_high`, `not_assigned`, `nothing_pending`,
    /// `not_higher_tier`.
    pub superseded_reason: Option<String>,
}

/// An organisation a case is dispatched to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// A co-handling organisation's feedback (协办意见) on a joint case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct CoFeedback {
    pub org: OrgRef,
    pub opinion: String,
    pub by_user: String,
    pub at: i64,
}

impl From<&wf::CoFeedback> for CoFeedback {
    fn from(f: &wf::CoFeedback) -> Self {
        CoFeedback {
            org: (&f.org).into(),
            opinion: f.opinion.clone(),
            by_user: f.by_user.clone(),
            at: f.at.0,
        }
    }
}

/// The outcome of the resolve (or resolve-on-the-spot) that stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Outcome {
    pub success: bool,
    pub text: String,
    pub at: i64,
    pub by_org: String,
    /// Resolved within the handling limit.
    pub on_time: bool,
}

/// A follow-up visit (回访) as recorded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct FollowUp {
    /// `PHONE`, `VISIT` or `SMS`.
    pub method: String,
    /// 1 (very unsatisfied) .. 5 (very satisfied).
    pub satisfaction: u8,
    pub agreement_performed: Option<bool>,
    pub note: String,
}

/// A follow-up visit to record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FollowUpInput {
    /// `PHONE`, `VISIT` or `SMS`.
    #[uniffi(default = "PHONE")]
    pub method: String,
    /// 1 (very unsatisfied) .. 5 (very satisfied); 4 and 5 count as satisfied.
    pub satisfaction: u8,
    /// Whether the parties kept the agreement, when there was one.
    #[uniffi(default = None)]
    pub agreement_performed: Option<bool>,
    #[uniffi(default = "")]
    pub note: String,
}

/// One installment of an agreement.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Installment {
    pub id: String,
    pub due_at: i64,
    /// Fen (1/100 CNY).
    pub amount: i64,
    pub paid_at: Option<i64>,
}

/// The agreement of the resolve that stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Agreement {
    /// `WRITTEN` or `ORAL`.
    pub form: String,
    pub terms: String,
    pub signed_at: Option<i64>,
    pub installments: Vec<Installment>,
}

impl From<wf::Status> for Status {
    fn from(s: wf::Status) -> Self {
        use wf::Status as S;
        match s {
            S::Draft => Status::Draft,
            S::Submitted => Status::Submitted,
            S::Accepted => Status::Accepted,
            S::Dispatched => Status::Dispatched,
            S::Signed => Status::Signed,
            S::InProgress => Status::InProgress,
            S::Resolved => Status::Resolved,
            S::FollowedUp => Status::FollowedUp,
            S::Archived => Status::Archived,
            S::SelfResolved => Status::SelfResolved,
            S::Returned => Status::Returned,
            S::Void => Status::Void,
            S::Escalated => Status::Escalated,
        }
    }
}

impl From<Status> for wf::Status {
    fn from(s: Status) -> Self {
        use wf::Status as S;
        match s {
            Status::Draft => S::Draft,
            Status::Submitted => S::Submitted,
            Status::Accepted => S::Accepted,
            Status::Dispatched => S::Dispatched,
            Status::Signed => S::Signed,
            Status::InProgress => S::InProgress,
            Status::Resolved => S::Resolved,
            Status::FollowedUp => S::FollowedUp,
            Status::Archived => S::Archived,
            Status::SelfResolved => S::SelfResolved,
            Status::Returned => S::Returned,
            Status::Void => S::Void,
            Status::Escalated => S::Escalated,
        }
    }
}

impl Status {
    /// The wire code (`"IN_PROGRESS"`).
    pub fn as_code(self) -> &'static str {
        wf::Status::from(self).as_code()
    }

    /// Parses a wire code; unknown → `invalid_code`.
    pub fn from_code(code: &str) -> Result<Status, FieldError> {
        crate::codes::parse::<wf::Status>(code).map(Status::from)
    }
}

impl From<Role> for wf::Role {
    fn from(r: Role) -> Self {
        use wf::Role as R;
        match r {
            Role::GridWorker => R::GridWorker,
            Role::VillageMediator => R::VillageMediator,
            Role::Dispatcher => R::Dispatcher,
            Role::DepartmentHandler => R::DepartmentHandler,
            Role::Supervisor => R::Supervisor,
            Role::Admin => R::Admin,
            Role::System => R::System,
        }
    }
}

impl Role {
    /// The wire code (`"GRID_WORKER"`).
    pub fn as_code(self) -> &'static str {
        wf::Role::from(self).as_code()
    }
}

impl From<wf::Role> for Role {
    fn from(r: wf::Role) -> Self {
        use wf::Role as R;
        match r {
            R::GridWorker => Role::GridWorker,
            R::VillageMediator => Role::VillageMediator,
            R::Dispatcher => Role::Dispatcher,
            R::DepartmentHandler => Role::DepartmentHandler,
            R::Supervisor => Role::Supervisor,
            R::Admin => Role::Admin,
            R::System => Role::System,
        }
    }
}

impl From<wf::Tier> for Tier {
    fn from(t: wf::Tier) -> Self {
        match t {
            wf::Tier::Village => Tier::Village,
            wf::Tier::Township => Tier::Township,
            wf::Tier::County => Tier::County,
        }
    }
}

impl From<wf::SupervisionLevel> for SupervisionLevel {
    fn from(l: wf::SupervisionLevel) -> Self {
        use wf::SupervisionLevel as L;
        match l {
            L::None => SupervisionLevel::None,
            L::Normal => SupervisionLevel::Normal,
            L::Yellow => SupervisionLevel::Yellow,
            L::Red => SupervisionLevel::Red,
        }
    }
}

impl From<wf::DeadlineKind> for DeadlineKind {
    fn from(k: wf::DeadlineKind) -> Self {
        use wf::DeadlineKind as K;
        match k {
            K::Accept => DeadlineKind::Accept,
            K::Sign => DeadlineKind::Sign,
            K::Handle => DeadlineKind::Handle,
            K::FollowUp => DeadlineKind::FollowUp,
            K::Installment => DeadlineKind::Installment,
            K::CoHandle => DeadlineKind::CoHandle,
        }
    }
}

impl From<wf::WarningLevel> for WarningLevel {
    fn from(l: wf::WarningLevel) -> Self {
        match l {
            wf::WarningLevel::None => WarningLevel::None,
            wf::WarningLevel::Yellow => WarningLevel::Yellow,
            wf::WarningLevel::Red => WarningLevel::Red,
        }
    }
}

impl From<&wf::Deadline> for Deadline {
    fn from(d: &wf::Deadline) -> Self {
        Deadline {
            kind: d.kind.into(),
            started_at: d.started_at.0,
            due_at: d.due_at.0,
            level: d.level.into(),
            item: d.item.clone(),
        }
    }
}

impl From<&wf::TimelineEntry> for TimelineEntry {
    fn from(t: &wf::TimelineEntry) -> Self {
        TimelineEntry {
            event_id: t.event_id.clone(),
            kind: t.kind.clone(),
            by_user: t.by_user.clone(),
            by_role: t.by_role.clone(),
            org: t.org.clone(),
            at: t.at.0,
            status_after: t.status_after.into(),
            superseded: t.superseded.is_some(),
            superseded_reason: t.superseded.as_ref().map(supersede_code),
        }
    }
}

/// The reason's snake_case tag, the same the core's serde form uses.
fn supersede_code(r: &wf::SupersedeReason) -> String {
    use wf::SupersedeReason as R;
    match r {
        R::UnknownKind => "unknown_kind",
        R::MalformedPayload { .. } => "malformed_payload",
        R::NotPermitted { .. } => "not_permitted",
        R::InvalidTransition { .. } => "invalid_transition",
        R::RiskTooHigh => "risk_too_high",
        R::NotAssigned => "not_assigned",
        R::NothingPending => "nothing_pending",
        R::NotHigherTier { .. } => "not_higher_tier",
    }
    .to_owned()
}

impl From<&wf::OrgRef> for OrgRef {
    fn from(o: &wf::OrgRef) -> Self {
        OrgRef {
            id: o.id.clone(),
            name: o.name.clone(),
        }
    }
}

impl From<&wf::Outcome> for Outcome {
    fn from(o: &wf::Outcome) -> Self {
        Outcome {
            success: o.success,
            text: o.text.clone(),
            at: o.at.0,
            by_org: o.by_org.clone(),
            on_time: o.on_time,
        }
    }
}

impl From<&core::FollowUp> for FollowUp {
    fn from(f: &core::FollowUp) -> Self {
        FollowUp {
            method: follow_up_method_code(f.method),
            satisfaction: f.satisfaction,
            agreement_performed: f.agreement_performed,
            note: f.note.clone(),
        }
    }
}

impl TryFrom<FollowUpInput> for core::FollowUp {
    type Error = FieldError;
    fn try_from(f: FollowUpInput) -> Result<Self, FieldError> {
        Ok(core::FollowUp {
            method: parse_follow_up_method(&f.method)?,
            satisfaction: f.satisfaction,
            agreement_performed: f.agreement_performed,
            note: f.note,
        })
    }
}

impl From<&core::Agreement> for Agreement {
    fn from(a: &core::Agreement) -> Self {
        Agreement {
            form: a.form.as_code().to_owned(),
            terms: a.terms.clone(),
            signed_at: a.signed_at.map(|t| t.0),
            installments: a
                .installments
                .iter()
                .map(|i| Installment {
                    id: i.id.clone(),
                    due_at: i.due_at.0,
                    amount: i.amount,
                    paid_at: i.paid_at.map(|t| t.0),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_the_core_codes() {
        for s in wf::Status::ALL {
            let mirrored = Status::from(*s);
            assert_eq!(mirrored.as_code(), s.as_code());
            assert_eq!(Status::from_code(s.as_code()).unwrap(), mirrored);
            // The JSON form (CLI `--json`) is the code too.
            assert_eq!(
                serde_json::to_value(mirrored).unwrap(),
                serde_json::Value::String(s.as_code().to_owned())
            );
        }
        assert_eq!(
            Status::from_code("DONE").unwrap_err().code(),
            "invalid_code"
        );
    }
}
