//! `POST /v1/users/{id}/password` (a user changes their own password; an administrator
//! sets anyone's) and `POST /v1/users/{id}/disable` (administrators only).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiJson;
use super::state::AppState;
use super::throttle::ClientAddr;
use crate::audit;
use crate::auth;
use crate::policy::{self, Permission};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users/{id}/password", post(set_password))
        .route("/v1/users/{id}/disable", post(disable))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordRequest {
    /// The current password: required when users change their own (administrators setting
    /// someone else's leave it out).
    #[serde(default)]
    old_password: Option<String>,
    /// At least 10 characters, at most 1024 bytes.
    new_password: String,
}

#[utoipa::path(post, path = "/v1/users/{id}/password", tag = "users", summary = "Change a password", description = "Who may call it: the user named by `id`, with `old_password` (a wrong one answers 403 `wrong_password` and counts as a failed sign-in for throttling), or an administrator, for any user, without it. Anyone else: 403 `not_permitted`. The user's sessions on other devices end (their refresh tokens are revoked); audited as `PASSWORD_CHANGED`.", security(("bearer" = [])), params(("id" = String, Path, description = "User id, e.g. `u-wang.grid`")), request_body = PasswordRequest, responses((status = 204, description = "Changed"), (status = 400, description = "Bad input: `weak_password`, `old_password_required`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted` (another user's password, not an administrator), `wrong_password`", body = crate::http::error::ErrorBody), (status = 404, description = "No such user (administrators only)", body = crate::http::error::ErrorBody), (status = 429, description = "Too many wrong passwords (`rate_limited`, with Retry-After)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn set_password(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<StatusCode, Response> {
    let own = caller.user.id == id;
    if !own {
        policy::require(&caller, Permission::ManageUsers)
            .map_err(|r| ApiError::from(r).into_response())?;
    }
    auth::check_new_password(&req.new_password)
        .map_err(|m| ApiError::bad_request("weak_password", m).into_response())?;
    if own {
        let Some(old) = req.old_password else {
            return Err(ApiError::bad_request(
                "old_password_required",
                "changing your own password takes the current one",
            )
            .into_response());
        };
        // A stolen access token must not become a password oracle: wrong old passwords
        // are throttled like failed sign-ins.
        let limits = state.limits_http.login;
        let attempt = state
            .throttle
            .attempt(&limits, &caller.user.username, addr, state.clock.now().0)
            .map_err(IntoResponse::into_response)?;
        let hash = state
            .db
            .password_hash(&id)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .unwrap_or_default();
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&old, &hash))
            .await
            .unwrap_or(false);
        if !ok {
            attempt.failed(state.clock.now().0);
            return Err(
                ApiError::forbidden("wrong_password", "the current password is not right")
                    .into_response(),
            );
        }
        attempt.succeeded();
    } else if state
        .db
        .user(&id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .is_none()
    {
        return Err(ApiError::from(crate::Error::NotFound("user")).into_response());
    }
    let new = req.new_password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|_| {
            ApiError::from(crate::Error::Config("hashing failed".into())).into_response()
        })?;
    let now = state.clock.now().0;
    // Own change: the phone it was made from keeps its session, others sign in again.
    let keep = own.then_some(caller.device_id.as_str());
    let ended = state
        .db
        .set_password(&id, &hash, keep, now)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    audit::append(
        &state,
        audit::Entry::by(
            &caller,
            audit::PASSWORD_CHANGED,
            None,
            serde_json::json!({
                "user_id": id,
                "by": if own { "SELF" } else { "ADMIN" },
                "sessions_revoked": ended,
            }),
        ),
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    tracing::info!(user = %id, by = %caller.user.id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/users/{id}/disable", tag = "users", summary = "Disable a user", description = "Who may call it: administrators only (anyone else: 403 `not_permitted`); not on themselves (409 `cannot_disable_self`, so an installation keeps an administrator). The user's devices are revoked (each wipes itself at its next contact), their refresh tokens end, and their access tokens are refused from now on. Audited as `USER_DISABLED`, and `DEVICE_REVOKED` per device.", security(("bearer" = [])), params(("id" = String, Path, description = "User id, e.g. `u-wang.grid`")), responses((status = 204, description = "Disabled (also when it was already)"), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not an administrator (`not_permitted`)", body = crate::http::error::ErrorBody), (status = 404, description = "No such user", body = crate::http::error::ErrorBody), (status = 409, description = "`cannot_disable_self`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn disable(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    policy::require(&caller, Permission::ManageUsers)?;
    if caller.user.id == id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cannot_disable_self",
            "administrators cannot disable themselves",
        ));
    }
    let now = state.clock.now().0;
    let (devices, ended) = state.db.disable_user(&id, now).await?;
    audit::append(
        &state,
        audit::Entry::by(
            &caller,
            audit::USER_DISABLED,
            None,
            serde_json::json!({
                "user_id": id,
                "devices_revoked": devices,
                "sessions_revoked": ended,
            }),
        ),
    )
    .await?;
    for device in &devices {
        audit::append(
            &state,
            audit::Entry::by(
                &caller,
                audit::DEVICE_REVOKED,
                None,
                serde_json::json!({ "device_id": device, "user_id": id }),
            ),
        )
        .await?;
    }
    tracing::info!(user = %id, by = %caller.user.id, devices = devices.len(), "user disabled");
    Ok(StatusCode::NO_CONTENT)
}
