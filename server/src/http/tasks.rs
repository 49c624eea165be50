//! `GET /v1/me/tasks`: the caller's task list (待办), as the workflow defines it
//! (`gridsync_core::workflow::task_for`, the same list phones show from their stores).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::ApiError;
use super::auth::AuthUser;
use super::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/me/tasks", get(mine))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Tasks {
    /// Overdue first, then by deadline; tasks without a deadline last.
    items: Vec<crate::center::tasks::TaskRow>,
}

/// What the caller must do now (待受理, 待分派, 待签收, 待处理, 协办, 待审批延期, 待回访,
/// 待补正), with deadlines (RFC 3339) and warning levels. Who: every role that works cases
/// (grid workers, village mediators, dispatchers, department handlers, supervisors; not
/// administrators). Scope: the caller's own (the cases `GET /v1/cases` lists to them), at
/// most 2000 candidate cases, most recently changed first.
#[utoipa::path(get, path = "/v1/me/tasks", tag = "cases", summary = "My tasks: what the caller must do now, overdue first", security(("bearer" = [])), responses((status = 200, body = Tasks), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (administrators)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn mine(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Tasks>, ApiError> {
    let items = crate::center::tasks::mine(&state, &caller).await?;
    Ok(Json(Tasks { items }))
}
