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

async fn list(
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

async fn add(
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

async fn remove(
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
