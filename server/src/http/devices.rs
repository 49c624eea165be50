//! `GET /v1/devices` (the devices of the users an administrator manages, with their last
//! sync and app version) and `POST /v1/devices/{id}/revoke`. The rules are
//! `crate::admin::devices`'.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiQuery;
use super::state::AppState;
use crate::admin::{self, Actor};
use crate::county_time::{CountyTime, Stamp};
use crate::db::accounts::DeviceInfo;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", get(list))
        .route("/v1/devices/{id}/revoke", post(revoke))
}

/// A device (a phone, or a web session's pseudo-device `web-…`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeviceView {
    id: String,
    user_id: String,
    username: String,
    /// The user's organisation now.
    org_id: String,
    created_at: Stamp,
    /// Its last sync (minute resolution); its registration until then.
    last_seen_at: Option<Stamp>,
    /// What it last said it runs: its sanitized `User-Agent`, e.g. `gridsync-ffi/0.1.0`.
    app_version: Option<String>,
    revoked: bool,
    revoked_at: Option<Stamp>,
}

impl DeviceView {
    fn of(d: DeviceInfo, time: &CountyTime) -> Self {
        DeviceView {
            id: d.id,
            user_id: d.user_id,
            username: d.username,
            org_id: d.org_id,
            created_at: time.stamp(d.created_at),
            last_seen_at: time.stamp_opt(d.last_seen_at),
            app_version: d.app_version,
            revoked: d.revoked_at.is_some(),
            revoked_at: time.stamp_opt(d.revoked_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeviceList {
    /// Newest first.
    devices: Vec<DeviceView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceQuery {
    /// Only this user's devices.
    user_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/devices", tag = "administration", summary = "Devices of the users the caller administers", description = "Who may call it: administrators (`ManageDevices`; anyone else 403 `not_permitted`). The devices of users whose organisation lies in the caller's subtree, newest first, with the last sync time and app version.", security(("bearer" = [])), params(DeviceQuery), responses((status = 200, body = DeviceList), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> Result<Json<DeviceList>, ApiError> {
    let user = q.user_id.filter(|u| !u.is_empty());
    let devices = admin::devices::list(&state.db, Actor::Staff(&caller), user.as_deref()).await?;
    Ok(Json(DeviceList {
        devices: devices
            .into_iter()
            .map(|d| DeviceView::of(d, &state.county_time))
            .collect(),
    }))
}

#[utoipa::path(post, path = "/v1/devices/{id}/revoke", tag = "administration", summary = "Revoke a device", description = "Who may call it: administrators (`ManageDevices`), for a device whose user lies in their subtree (403 `out_of_scope` otherwise). Its refresh tokens end, every request with its tokens is refused (403 `device_revoked`), and its next sync tells it to wipe its data. Revoking a revoked device changes nothing; the device the caller calls from cannot be revoked (409 `cannot_revoke_own_device`: sign out instead). Audited as `DEVICE_REVOKED`.", security(("bearer" = [])), params(("id" = String, Path, description = "Device id")), responses((status = 200, body = DeviceView), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`device_not_found`", body = crate::http::error::ErrorBody), (status = 409, description = "`cannot_revoke_own_device`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let now = state.clock.now().0;
    let device = admin::devices::revoke(&state.db, Actor::Staff(&caller), &id, now).await?;
    Ok(Json(DeviceView::of(device, &state.county_time)))
}
