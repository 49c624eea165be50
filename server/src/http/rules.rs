//! `GET/POST /v1/dispatch-rules`, `DELETE /v1/dispatch-rules/{id}`: the auto-dispatch rules.
//! Who reads and who changes them: `crate::policy`; changes only inside the caller's scope,
//! audited (`crate::center::rules::add_by`, `remove_by`).

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiJson;
use super::state::AppState;
use crate::center::rules::{self, DispatchRule};
use crate::policy::{self, Permission};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dispatch-rules", get(list).post(add))
        .route("/v1/dispatch-rules/{id}", delete(remove))
}

#[utoipa::path(get, path = "/v1/dispatch-rules", tag = "workflow", summary = "Auto-dispatch rules, in the order they are tried", security(("bearer" = [])), responses((status = 200, body = Vec<crate::center::rules::DispatchRule>), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<DispatchRule>>, ApiError> {
    policy::require(&caller, Permission::ReadDispatchRules)?;
    Ok(Json(rules::list(&state.db).await?))
}

#[utoipa::path(post, path = "/v1/dispatch-rules", tag = "workflow", summary = "Add an auto-dispatch rule (inside the caller's scope; audited)", security(("bearer" = [])), request_body = crate::center::rules::DispatchRule, responses((status = 201, body = crate::center::rules::DispatchRule), (status = 409, description = "The id exists", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input (`invalid_input`, naming the field): an unknown code, center or target", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or the area, center or target outside the caller's scope (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn add(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(rule): ApiJson<DispatchRule>,
) -> Result<(StatusCode, Json<DispatchRule>), ApiError> {
    policy::require(&caller, Permission::ManageDispatchRules)?;
    rules::add_by(&state, &caller, &rule).await?;
    tracing::info!(rule = %rule.id, by = %caller.user.id, "dispatch rule added");
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(delete, path = "/v1/dispatch-rules/{id}", tag = "workflow", summary = "Remove an auto-dispatch rule (inside the caller's scope; audited)", security(("bearer" = [])), params(("id" = String, Path, description = "Rule id")), responses((status = 204, description = "Removed"), (status = 404, description = "No such rule", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or the rule outside the caller's scope (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    policy::require(&caller, Permission::ManageDispatchRules)?;
    rules::remove_by(&state, &caller, &id).await?;
    tracing::info!(rule = %id, by = %caller.user.id, "dispatch rule removed");
    Ok(StatusCode::NO_CONTENT)
}
