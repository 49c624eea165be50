//! `GET/POST /v1/dispatch-rules`, `DELETE /v1/dispatch-rules/{id}`: the auto-dispatch rules.
//! Dispatchers, supervisors and administrators read them; dispatchers and administrators
//! change them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use gridsync_core::workflow::Role;

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiJson;
use crate::rules::{self, DispatchRule};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dispatch-rules", get(list).post(add))
        .route("/v1/dispatch-rules/{id}", delete(remove))
}

fn may_read(role: Role) -> bool {
    matches!(role, Role::Dispatcher | Role::Supervisor | Role::Admin)
}

fn may_change(role: Role) -> bool {
    matches!(role, Role::Dispatcher | Role::Admin)
}

#[utoipa::path(get, path = "/v1/dispatch-rules", tag = "workflow", summary = "Auto-dispatch rules, in the order they are tried", security(("bearer" = [])), responses((status = 200, body = Vec<crate::rules::DispatchRule>), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<DispatchRule>>, ApiError> {
    if !may_read(caller.user.role) {
        return Err(ApiError::forbidden(
            "not_permitted",
            "dispatch rules are for center staff",
        ));
    }
    Ok(Json(rules::list(&state.db).await?))
}

#[utoipa::path(post, path = "/v1/dispatch-rules", tag = "workflow", summary = "Add an auto-dispatch rule", security(("bearer" = [])), request_body = crate::rules::DispatchRule, responses((status = 201, body = crate::rules::DispatchRule), (status = 409, description = "The id exists", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn add(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(rule): ApiJson<DispatchRule>,
) -> Result<(StatusCode, Json<DispatchRule>), ApiError> {
    if !may_change(caller.user.role) {
        return Err(ApiError::forbidden(
            "not_permitted",
            "only dispatchers and administrators change dispatch rules",
        ));
    }
    rules::add(&state.db, &rule, state.clock.now().0).await?;
    tracing::info!(rule = %rule.id, by = %caller.user.id, "dispatch rule added");
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(delete, path = "/v1/dispatch-rules/{id}", tag = "workflow", summary = "Remove an auto-dispatch rule", security(("bearer" = [])), params(("id" = String, Path, description = "Rule id")), responses((status = 204, description = "Removed"), (status = 404, description = "No such rule", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !may_change(caller.user.role) {
        return Err(ApiError::forbidden(
            "not_permitted",
            "only dispatchers and administrators change dispatch rules",
        ));
    }
    rules::remove(&state.db, &id).await?;
    tracing::info!(rule = %id, by = %caller.user.id, "dispatch rule removed");
    Ok(StatusCode::NO_CONTENT)
}
