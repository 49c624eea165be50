//! My tasks (待办, `GET /v1/me/tasks`): what the caller must do now on the cases in their
//! scope. The definition is the workflow's (`gridsync_core::workflow::task_for`), the same
//! the phones run over their stores; the center preselects the candidates from the
//! projection (`db::tasks`) and folds each one's fields and events at the current time
//! (from `Center::cases` while the case has not changed since it was last read).

use gridsync_core::workflow::{Author, CaseTask, Role, sort_tasks, task_for};

use crate::caller::Caller;
use crate::county_time::Stamp;
use crate::db;
use crate::policy::{self, Permission, Refusal};
use crate::state::Center;

/// A row of the task list.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TaskRow {
    pub case_id: String,
    pub case_no: Option<String>,
    pub title: String,
    /// The case's status code.
    pub status: String,
    /// `ACCEPT` 待受理, `DISPATCH` 待分派, `SIGN` 待签收, `HANDLE` 待处理, `CO_HANDLE` 协办,
    /// `EXTENSION_DECISION` 待审批延期, `FOLLOW_UP` 待回访, `RESUBMIT` 待补正.
    pub kind: String,
    pub label_zh: String,
    pub label_en: String,
    /// The action kind that does it (`POST /v1/cases/{id}/actions` `kind`).
    pub step: String,
    /// The deadline the task runs against (`ACCEPT`, `SIGN`, `HANDLE`, `CO_HANDLE`,
    /// `FOLLOW_UP`, `INSTALLMENT`), if any.
    pub deadline_kind: Option<String>,
    pub started_at: Option<Stamp>,
    pub due_at: Option<Stamp>,
    /// `NONE`, `YELLOW` (at the yellow share of the limit) or `RED` (past it).
    pub level: String,
    pub overdue: bool,
}

/// The caller's tasks, overdue first, then by deadline (tasks without one last). Any role
/// that works cases (`Permission::ReadTasks`); the caller's own scope, as the case list's.
pub async fn mine(center: &Center, caller: &Caller) -> Result<Vec<TaskRow>, Refusal> {
    policy::require(caller, Permission::ReadTasks)?;
    // A department's work is always on cases dispatched to it: the index narrows at once.
    let org = (caller.user.role == Role::DepartmentHandler).then_some(caller.org.id.as_str());
    let ids = db::tasks::candidates(&center.db, caller.scope(), org).await?;
    let me = Author::new(
        caller.user.id.clone(),
        caller.user.role,
        caller.org.id.clone(),
    );
    let now = center.clock.now();
    let mut tasks = Vec::new();
    for (id, pos) in ids {
        let Ok(id) = id.parse() else { continue };
        let kept = match center.cases.get(id, pos) {
            Some(kept) => kept,
            // A case that does not open is reported by `load` and left out here.
            None => {
                let Ok(Some(doc)) = super::cases::load(center, id).await else {
                    continue;
                };
                let kept = crate::case_cache::Kept {
                    case: doc.case().into(),
                    events: doc.events().into(),
                };
                center.cases.put(id, pos, kept.clone());
                kept
            }
        };
        let (case, events) = (&*kept.case, &*kept.events);
        let state = gridsync_core::workflow::fold(case, events, &center.limits, now);
        if let Some(task) = task_for(&state, case, &me) {
            tasks.push(CaseTask {
                case_id: id,
                case_no: state.case_no.clone(),
                title: case.title.clone(),
                status: state.status,
                task,
            });
        }
    }
    sort_tasks(&mut tasks);
    Ok(tasks.into_iter().map(|t| row(center, t)).collect())
}

fn row(center: &Center, t: CaseTask) -> TaskRow {
    let code = |v: serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let deadline = t.task.deadline.as_ref();
    TaskRow {
        case_id: t.case_id.to_string(),
        case_no: t.case_no,
        title: t.title,
        status: t.status.as_code().to_owned(),
        kind: t.task.kind.as_code().to_owned(),
        label_zh: t.task.kind.label_zh().to_owned(),
        label_en: t.task.kind.label_en().to_owned(),
        step: t.task.step.as_code().to_owned(),
        deadline_kind: deadline
            .and_then(|d| serde_json::to_value(d.kind).ok())
            .map(code),
        started_at: deadline.map(|d| center.county_time.stamp(d.started_at.0)),
        due_at: deadline.map(|d| center.county_time.stamp(d.due_at.0)),
        level: serde_json::to_value(t.task.level)
            .map(code)
            .unwrap_or_default(),
        overdue: t.task.overdue(),
    }
}
