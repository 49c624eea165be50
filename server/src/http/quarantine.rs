//! `GET /v1/quarantine`: what the trust boundary holds aside, for administrators only: stored
//! cases that no longer open (each refused on its own; every other case and phone goes on)
//! and changes parked while they wait for dependencies the center never received.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::ApiError;
use super::auth::AuthUser;
use super::state::AppState;
use crate::policy::{self, Permission};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/quarantine", get(list))
}

pub(crate) use crate::db::cases::{ParkedChange, UnavailableCase};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Quarantine {
    unavailable_cases: Vec<UnavailableCase>,
    parked_changes: Vec<ParkedChange>,
}

#[utoipa::path(get, path = "/v1/quarantine", tag = "operations", summary = "Cases that do not open and changes waiting for dependencies (administrators)", security(("bearer" = [])), responses((status = 200, body = Quarantine), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not an administrator", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Quarantine>, ApiError> {
    policy::require(&caller, Permission::ReadQuarantine)?;
    let (unavailable_cases, parked_changes) = crate::db::cases::quarantine(&state.db).await?;
    Ok(Json(Quarantine {
        unavailable_cases,
        parked_changes,
    }))
}
