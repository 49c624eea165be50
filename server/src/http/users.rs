//! `GET /v1/users`, `POST /v1/users` (create), `POST /v1/users/{id}/assign` (role and/or
//! organisation), `POST /v1/users/{id}/password` (a user changes their own password; an
//! administrator resets one in their subtree) and `POST /v1/users/{id}/disable`. The
//! administrators' rules are `crate::admin::users`'.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::error::{ApiJson, ApiQuery};
use super::state::AppState;
use super::throttle::ClientAddr;
use crate::admin::{self, Actor};
use crate::audit;
use crate::auth;
use crate::db::accounts::User;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list).post(create))
        .route("/v1/users/{id}/assign", post(assign))
        .route("/v1/users/{id}/password", post(set_password))
        .route("/v1/users/{id}/disable", post(disable))
}

/// A user account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserView {
    /// `u-` and the username.
    id: String,
    username: String,
    display_name: String,
    /// `GRID_WORKER`, `VILLAGE_MEDIATOR`, `DISPATCHER`, `DEPARTMENT_HANDLER`, `SUPERVISOR`
    /// or `ADMIN`.
    role: String,
    org_id: String,
    active: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role.as_code().to_owned(),
            org_id: u.org_id,
            active: u.active,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    /// By username.
    users: Vec<UserView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserQuery {
    /// Only users of this organisation and below it (in the caller's subtree).
    org_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    /// 1 to 64 of letters, digits, `.`, `_`, `-`; the user id is `u-` and it.
    username: String,
    /// 1 to 100 characters; default: the username.
    #[serde(default)]
    display_name: Option<String>,
    /// A role that fits the organisation's kind (docs/security.md).
    role: String,
    /// An organisation in the caller's subtree.
    org_id: String,
    /// At least 10 characters. Absent: one is generated and returned once.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedUser {
    user: UserView,
    /// The generated password, present only when none was given: shown this once, never
    /// stored in clear or logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignRequest {
    /// The new role (default: kept).
    #[serde(default)]
    role: Option<String>,
    /// The new organisation, in the caller's subtree (default: kept).
    #[serde(default)]
    org_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/users", tag = "users", summary = "Users the caller administers", description = "Who may call it: administrators (`ManageUsers`; anyone else 403 `not_permitted`). Users whose organisation lies in the caller's subtree, by username; `org_id` narrows to one organisation and below (400 `unknown_org`, 403 `out_of_scope` outside the subtree).", security(("bearer" = [])), params(UserQuery), responses((status = 200, body = UserList), (status = 400, description = "`unknown_org`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<UserList>, ApiError> {
    let under = q.org_id.filter(|o| !o.is_empty());
    let users = admin::users::list(&state.db, Actor::Staff(&caller), under.as_deref()).await?;
    Ok(Json(UserList {
        users: users.into_iter().map(UserView::from).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/users", tag = "users", summary = "Create a user", description = "Who may call it: administrators (`ManageUsers`), in an organisation of their subtree (403 `out_of_scope` otherwise), with a role that fits its kind (400 `role_org_mismatch`). Without `password` one is generated and returned once. Audited as `USER_CREATED` (never the password).", security(("bearer" = [])), request_body = CreateUserRequest, responses((status = 201, body = CreatedUser), (status = 400, description = "`invalid_username`, `invalid_name`, `invalid_role`, `unknown_org`, `role_org_mismatch`, `weak_password`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 409, description = "`username_taken`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let now = state.clock.now().0;
    let new = admin::users::NewUser {
        username: req.username,
        display_name: req.display_name,
        role: req.role,
        org_id: req.org_id,
        password: req.password,
    };
    let (user, password) = admin::users::create(&state.db, Actor::Staff(&caller), new, now).await?;
    tracing::info!(user = %user.id, by = %caller.user.id, "user created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: user.into(),
            password,
        }),
    ))
}

#[utoipa::path(post, path = "/v1/users/{id}/assign", tag = "users", summary = "Change a user's role and/or organisation", description = "Who may call it: administrators (`ManageUsers`), for a user in their subtree, to an organisation in it (403 `out_of_scope` otherwise); the role must fit the organisation's kind (400 `role_org_mismatch`). Not on themselves (409 `cannot_change_self`); not the last active administrator's role (409 `last_admin`). The user's phones take the new scope at their next sync. Audited as `USER_ROLE_CHANGED` and/or `USER_MOVED`.", security(("bearer" = [])), params(("id" = String, Path, description = "User id, e.g. `u-wang.grid`")), request_body = AssignRequest, responses((status = 200, body = UserView), (status = 400, description = "`nothing_to_change`, `invalid_role`, `unknown_org`, `role_org_mismatch`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`user_not_found`", body = crate::http::error::ErrorBody), (status = 409, description = "`cannot_change_self`, `last_admin`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn assign(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<Json<UserView>, ApiError> {
    let now = state.clock.now().0;
    let change = admin::users::Assignment {
        role: req.role,
        org_id: req.org_id,
    };
    let user = admin::users::assign(&state.db, Actor::Staff(&caller), &id, change, now).await?;
    tracing::info!(user = %id, by = %caller.user.id, "user assigned");
    Ok(Json(user.into()))
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

#[utoipa::path(post, path = "/v1/users/{id}/password", tag = "users", summary = "Change a password", description = "Who may call it: the user named by `id`, with `old_password` (a wrong one answers 403 `wrong_password` and counts as a failed sign-in for throttling), or an administrator (`ManageUsers`), without it, for a user whose organisation lies in their subtree (403 `out_of_scope` otherwise). Anyone else: 403 `not_permitted`. The user's sessions on other devices end (their refresh tokens are revoked; all of them on an administrator's reset); audited as `PASSWORD_CHANGED`.", security(("bearer" = [])), params(("id" = String, Path, description = "User id, e.g. `u-wang.grid`")), request_body = PasswordRequest, responses((status = 204, description = "Changed"), (status = 400, description = "Bad input: `weak_password`, `old_password_required`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted` (another user's password, not an administrator), `out_of_scope`, `wrong_password`", body = crate::http::error::ErrorBody), (status = 404, description = "`user_not_found` (administrators only)", body = crate::http::error::ErrorBody), (status = 429, description = "Too many wrong passwords (`rate_limited`, with Retry-After)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn set_password(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ClientAddr(addr): ClientAddr,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<StatusCode, Response> {
    if caller.user.id != id {
        // An administrator's reset: the domain judges permission, scope and strength.
        let now = state.clock.now().0;
        admin::users::set_password(&state.db, Actor::Staff(&caller), &id, req.new_password, now)
            .await
            .map_err(|r| ApiError::from(r).into_response())?;
        tracing::info!(user = %id, by = %caller.user.id, "password set");
        return Ok(StatusCode::NO_CONTENT);
    }
    auth::check_new_password(&req.new_password)
        .map_err(|m| ApiError::bad_request("weak_password", m).into_response())?;
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
    let new = req.new_password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|_| {
            ApiError::from(crate::Error::Config("hashing failed".into())).into_response()
        })?;
    let now = state.clock.now().0;
    // Own change: the phone it was made from keeps its session, others sign in again.
    let ended = state
        .db
        .set_password(&id, &hash, Some(caller.device_id.as_str()), now)
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
                "by": "SELF",
                "sessions_revoked": ended,
            }),
        ),
    )
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    tracing::info!(user = %id, "password changed by its user");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/users/{id}/disable", tag = "users", summary = "Disable a user", description = "Who may call it: administrators (`ManageUsers`; anyone else: 403 `not_permitted`), for a user in their subtree (403 `out_of_scope` otherwise); not on themselves (409 `cannot_disable_self`), not the last active administrator (409 `last_admin`). The user's devices are revoked (each wipes itself at its next contact), their refresh tokens end, and their access tokens are refused from now on. Audited as `USER_DISABLED`, and `DEVICE_REVOKED` per device.", security(("bearer" = [])), params(("id" = String, Path, description = "User id, e.g. `u-wang.grid`")), responses((status = 204, description = "Disabled (also when it was already)"), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`user_not_found`", body = crate::http::error::ErrorBody), (status = 409, description = "`cannot_disable_self`, `last_admin`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn disable(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now().0;
    let done = admin::users::disable(&state.db, Actor::Staff(&caller), &id, now).await?;
    tracing::info!(user = %id, by = %caller.user.id, devices = done.devices_revoked.len(), "user disabled");
    Ok(StatusCode::NO_CONTENT)
}
