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

use crate::county_time::Stamp;

/// A stored case that does not open.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnavailableCase {
    case_id: String,
    /// The error, for the operator (no personal data: a decoding error).
    error: String,
    found_at: Stamp,
    last_seen_at: Stamp,
}

/// A change waiting for its dependencies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ParkedChange {
    hash: String,
    case_id: String,
    device_id: String,
    /// When first parked; refused after seven days.
    received_at: Stamp,
}

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
    let (unavailable, parked) = crate::db::cases::quarantine(&state.db).await?;
    let time = &state.county_time;
    Ok(Json(Quarantine {
        unavailable_cases: unavailable
            .into_iter()
            .map(|u| UnavailableCase {
                case_id: u.case_id,
                error: u.error,
                found_at: time.stamp(u.found_at),
                last_seen_at: time.stamp(u.last_seen_at),
            })
            .collect(),
        parked_changes: parked
            .into_iter()
            .map(|p| ParkedChange {
                hash: p.hash,
                case_id: p.case_id,
                device_id: p.device_id,
                received_at: time.stamp(p.received_at),
            })
            .collect(),
    }))
}
