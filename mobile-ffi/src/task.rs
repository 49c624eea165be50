//! The task list (待办): what the signed-in user must do now on the cases this phone holds,
//! as the core defines it (`gridsync_core::workflow::task_for`), the same list the center
//! answers at `GET /v1/me/tasks` for the user's whole scope.

use gridsync_core::workflow as wf;

use crate::workflow::{Deadline, Status, WarningLevel};

/// What kind of work a task is. Kotlin/Python names are the wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskKind {
    /// 待受理
    Accept,
    /// 待分派
    Dispatch,
    /// 待签收: the lead organisation of a dispatch.
    Sign,
    /// 待处理: the organisation that signed for the case.
    Handle,
    /// 协办: a co-handling organisation of a joint dispatch, feedback not yet given.
    CoHandle,
    /// 待审批延期
    ExtensionDecision,
    /// 待回访
    FollowUp,
    /// 待补正: a returned case, back with whoever submitted it.
    Resubmit,
}

/// One row of the task list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record, serde::Serialize)]
pub struct Task {
    pub case_id: String,
    pub case_no: Option<String>,
    pub title: String,
    pub status: Status,
    pub kind: TaskKind,
    /// The event kind code of the step that does it (`SIGN_FOR`, `CO_HANDLING_FEEDBACK`, ...).
    pub step: String,
    /// The clock the task runs against, if any.
    pub deadline: Option<Deadline>,
    pub level: WarningLevel,
    /// Past its deadline: such tasks come first.
    pub overdue: bool,
}

impl From<wf::TaskKind> for TaskKind {
    fn from(k: wf::TaskKind) -> Self {
        use wf::TaskKind as K;
        match k {
            K::Accept => TaskKind::Accept,
            K::Dispatch => TaskKind::Dispatch,
            K::Sign => TaskKind::Sign,
            K::Handle => TaskKind::Handle,
            K::CoHandle => TaskKind::CoHandle,
            K::ExtensionDecision => TaskKind::ExtensionDecision,
            K::FollowUp => TaskKind::FollowUp,
            K::Resubmit => TaskKind::Resubmit,
        }
    }
}

impl From<wf::CaseTask> for Task {
    fn from(t: wf::CaseTask) -> Self {
        Task {
            case_id: t.case_id.to_string(),
            case_no: t.case_no,
            title: t.title,
            status: t.status.into(),
            kind: t.task.kind.into(),
            step: t.task.step.as_code().to_owned(),
            deadline: t.task.deadline.as_ref().map(Into::into),
            level: t.task.level.into(),
            overdue: t.task.overdue(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_kind_codes_are_the_core_codes() {
        for k in wf::TaskKind::ALL {
            assert_eq!(
                serde_json::to_value(TaskKind::from(*k)).unwrap(),
                serde_json::Value::String(k.as_code().to_owned())
            );
        }
    }
}
