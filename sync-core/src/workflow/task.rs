//! What a user must do on a case now (待办): the one definition, used by the center's
//! `GET /v1/me/tasks` over the cases in the caller's scope and by the phone over its store.
//!
//! A task is offered only when the user may take its step now ([`WorkflowState::check`]
//! with the step's most permissive payload), so the list never shows a step the workflow
//! would refuse. One task per case and user: the states exclude each other (the lead signs
//! and handles, the other organisations of a joint dispatch co-handle, the center accepts,
//! dispatches, decides extensions and follows up).

use serde::{Deserialize, Serialize};

use super::{
    Action, Author, Deadline, DeadlineKind, EventKind, Role, Status, WarningLevel, WorkflowState,
};
use crate::case::{Case, CaseId, code_enum};

code_enum! {
    /// What kind of work a task is.
    pub enum TaskKind {
        default Accept = "ACCEPT", "待受理", "To accept";
        Dispatch = "DISPATCH", "待分派", "To dispatch";
        Sign = "SIGN", "待签收", "To sign for";
        Handle = "HANDLE", "待处理", "To handle";
        CoHandle = "CO_HANDLE", "协办", "To give co-handling feedback";
        ExtensionDecision = "EXTENSION_DECISION", "待审批延期", "To decide an extension";
        FollowUp = "FOLLOW_UP", "待回访", "To follow up";
        Resubmit = "RESUBMIT", "待补正", "To correct and resubmit";
    }
}

/// One thing a user must do on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    /// The workflow step that does it.
    pub step: EventKind,
    /// The clock the task runs against, if any (accepting, signing, handling, co-handling,
    /// following up, an installment falling due).
    pub deadline: Option<Deadline>,
    /// The deadline's level at the fold's `now` (`NONE` without one).
    pub level: WarningLevel,
}

impl Task {
    /// Past its deadline.
    pub fn overdue(&self) -> bool {
        self.level == WarningLevel::Red
    }

    /// The order of a task list: overdue first, then the nearest deadline, tasks without
    /// one last. Ties are left to the caller (a stable sort keeps its order).
    pub fn urgency(&self) -> (bool, i64) {
        (
            !self.overdue(),
            self.deadline.as_ref().map_or(i64::MAX, |d| d.due_at.0),
        )
    }
}

/// A task with the case it is on: a row of a task list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTask {
    pub case_id: CaseId,
    pub case_no: Option<String>,
    pub title: String,
    pub status: Status,
    pub task: Task,
}

/// Sorts a task list: overdue first, then by deadline (tasks without one last), then by
/// case id so the order is stable across calls.
pub fn sort_tasks(tasks: &mut [CaseTask]) {
    tasks.sort_by(|a, b| {
        a.task
            .urgency()
            .cmp(&b.task.urgency())
            .then_with(|| a.case_id.0.cmp(&b.case_id.0))
    });
}

const HANDLERS: [Role; 2] = [Role::DepartmentHandler, Role::VillageMediator];

/// What `user` must do now on the case `state` was folded from, if anything.
pub fn task_for(state: &WorkflowState, case: &Case, user: &Author) -> Option<Task> {
    use Status as S;
    use TaskKind as T;
    let role = user.role;
    let org = user.org.as_str();
    let handler = HANDLERS.contains(&role);
    let (kind, clock): (TaskKind, Option<Deadline>) = match state.status {
        S::Submitted if role == Role::Dispatcher => (T::Accept, clock(state, DeadlineKind::Accept)),
        S::Accepted | S::Escalated if role == Role::Dispatcher => (T::Dispatch, None),
        S::Dispatched if handler && state.lead().is_some_and(|o| o.id == org) => {
            (T::Sign, clock(state, DeadlineKind::Sign))
        }
        S::Signed | S::InProgress if handler && state.handling_org.as_deref() == Some(org) => {
            (T::Handle, clock(state, DeadlineKind::Handle))
        }
        S::Dispatched | S::Signed | S::InProgress
            if handler && state.co_handlers().any(|o| o.id == org) && !state.has_fed_back(org) =>
        {
            let d = state
                .deadlines
                .iter()
                .find(|d| d.kind == DeadlineKind::CoHandle && d.item.as_deref() == Some(org));
            (T::CoHandle, d.cloned())
        }
        S::InProgress
            if state.pending_extension.is_some()
                && matches!(role, Role::Dispatcher | Role::Supervisor) =>
        {
            (T::ExtensionDecision, clock(state, DeadlineKind::Handle))
        }
        S::Resolved if role == Role::Dispatcher => {
            (T::FollowUp, clock(state, DeadlineKind::FollowUp))
        }
        S::SelfResolved
            if matches!(
                role,
                Role::Dispatcher | Role::GridWorker | Role::VillageMediator
            ) =>
        {
            (T::FollowUp, clock(state, DeadlineKind::FollowUp))
        }
        // A repeat visit at each installment date, once its reminder window opens.
        S::FollowedUp if role == Role::Dispatcher => {
            let due = state
                .deadlines
                .iter()
                .filter(|d| d.kind == DeadlineKind::Installment && d.level != WarningLevel::None)
                .min_by_key(|d| d.due_at)?;
            (T::FollowUp, Some(due.clone()))
        }
        S::Returned if submitted_by(state) == Some(user.user.as_str()) => (T::Resubmit, None),
        _ => return None,
    };
    let step = match kind {
        T::Accept => EventKind::Accept,
        T::Dispatch => EventKind::Dispatch,
        T::Sign => EventKind::SignFor,
        T::Handle => {
            if state.status == S::Signed {
                EventKind::StartHandling
            } else {
                EventKind::Resolve
            }
        }
        T::CoHandle => EventKind::CoHandlingFeedback,
        T::ExtensionDecision => EventKind::ExtensionDecision,
        T::FollowUp => EventKind::FollowUp,
        T::Resubmit => EventKind::Submit,
    };
    // The workflow has the last word: a task is a step the user may take now.
    let probe = Action::probe(step)?;
    state.check(case, user, &probe).ok()?;
    let level = clock.as_ref().map(|d| d.level).unwrap_or_default();
    Some(Task {
        kind,
        step,
        deadline: clock,
        level,
    })
}

fn clock(state: &WorkflowState, kind: DeadlineKind) -> Option<Deadline> {
    state.deadlines.iter().find(|d| d.kind == kind).cloned()
}

/// Who submitted the case last (a returned case goes back to them).
fn submitted_by(state: &WorkflowState) -> Option<&str> {
    state
        .timeline
        .iter()
        .rev()
        .find(|t| t.superseded.is_none() && t.kind == EventKind::Submit.as_code())
        .map(|t| t.by_user.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Timestamp;
    use crate::workflow::{Event, OrgRef, Tier, TimeLimits, fold};

    #[test]
    fn the_lead_signs_the_co_handler_feeds_back_and_overdue_comes_first() {
        let worker = Author::new("w", Role::GridWorker, "v1");
        let center = Author::new("c", Role::Dispatcher, "county");
        let lead = Author::new("l", Role::DepartmentHandler, "dept-labour");
        let co = Author::new("j", Role::DepartmentHandler, "dept-justice");
        let other = Author::new("o", Role::DepartmentHandler, "dept-police");
        let h = Timestamp::HOUR;
        let log = vec![
            Event::new("e1", &worker, Timestamp(0), &Action::Submit {}),
            Event::new(
                "e2",
                &center,
                Timestamp(h),
                &Action::accept("330182-20261128-000001"),
            ),
            Event::new(
                "e3",
                &center,
                Timestamp(2 * h),
                &Action::Dispatch {
                    to: vec![
                        OrgRef::new("dept-labour", "劳动监察"),
                        OrgRef::new("dept-justice", "司法局"),
                    ],
                    assignee: None,
                    tier: Tier::County,
                    note: String::new(),
                    auto: false,
                },
            ),
        ];
        let limits = TimeLimits::default();
        let case = Case::default();
        let now = Timestamp(30 * h);
        let state = fold(&case, &log, &limits, now);
        let sign = task_for(&state, &case, &lead).unwrap();
        assert_eq!((sign.kind, sign.step), (TaskKind::Sign, EventKind::SignFor));
        assert!(sign.overdue(), "24 h to sign, 28 h gone");
        let co_task = task_for(&state, &case, &co).unwrap();
        assert_eq!(co_task.kind, TaskKind::CoHandle);
        assert_eq!(co_task.level, WarningLevel::None);
        assert_eq!(task_for(&state, &case, &other), None);
        assert_eq!(task_for(&state, &case, &center), None);
        assert_eq!(task_for(&state, &case, &worker), None);
        let mut tasks = [co_task.clone(), sign.clone()];
        tasks.sort_by_key(Task::urgency);
        assert_eq!(tasks[0].kind, TaskKind::Sign);

        let mut log = log;
        log.push(Event::new(
            "e4",
            &co,
            Timestamp(3 * h),
            &Action::CoHandlingFeedback {
                opinion: "建议先行垫付".into(),
            },
        ));
        let state = fold(&case, &log, &limits, now);
        assert_eq!(task_for(&state, &case, &co), None);
        assert_eq!(state.co_feedback.len(), 1);
        assert_eq!(state.co_feedback[0].event_id, "e4");
    }
}
