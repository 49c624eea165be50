//! `POST /v1/auth/login`, `/v1/auth/refresh`, `/v1/auth/logout`, and the `AuthUser`
//! extractor every protected handler takes.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::error::ApiJson;
use super::state::AppState;
use super::throttle::ClientAddr;
use crate::auth::{self, ACCESS_TTL_SECS, REFRESH_TTL_SECS, TokenError};
use crate::caller::Caller;
use crate::db::accounts::{DeviceState, Org, User};
use crate::error::Error;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
    /// The phone's device id; web sessions may leave it out.
    #[serde(default)]
    device_id: Option<String>,
    /// The Automerge actor ids this device writes under (hex).
    #[serde(default)]
    actor_ids: Vec<String>,
    /// This installation's Ed25519 public key (64 hex characters, or the base64 of its 32
    /// bytes): the changes of `actor_ids` are signed with it. Bound to the device; a key
    /// registered to another device is refused 409 `key_in_use`.
    #[serde(default)]
    signing_key: Option<String>,
}

impl LoginRequest {
    /// A browser's sign-in: no device of its own (a `web-…` pseudo-device is made).
    pub(crate) fn web(username: String, password: String) -> LoginRequest {
        LoginRequest {
            username,
            password,
            device_id: None,
            actor_ids: Vec::new(),
            signing_key: None,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
    #[serde(default)]
    device_id: Option<String>,
    /// This installation's Ed25519 public key, as at sign-in. An app updated while signed
    /// in made its key after its actors were bound: the device's actors that have no key
    /// yet take this one (audited `SIGNING_KEY_REGISTERED`); an actor keeps a key it has.
    #[serde(default)]
    signing_key: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutRequest {
    refresh_token: String,
}

/// Who signed in, as the phone needs it (its identity for authoring events).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserInfo {
    id: String,
    username: String,
    display_name: String,
    role: String,
    org_id: String,
    org_name: String,
    area_code: String,
    /// What the role may do at the center (`crate::policy`'s table): which pages and
    /// buttons a client shows. Scope and the case's state are still judged per request.
    permissions: Vec<crate::policy::Permission>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    refresh_expires_in: i64,
    device_id: String,
    user: UserInfo,
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", summary = "Sign in (a phone registers its device and Automerge actors)", description = "Anyone may call it. Failed sign-ins slow down the (account, address) pair and the address that made them (429 `rate_limited` with Retry-After), never the account from elsewhere. Every sign-in and refusal is audited (`SIGN_IN`, `SIGN_IN_REFUSED` with the code).", request_body = LoginRequest, responses((status = 200, body = TokenResponse), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "Wrong username or password (`invalid_credentials`), account disabled (`account_disabled`)", body = crate::http::error::ErrorBody), (status = 403, description = "Device revoked (`device_revoked`)", body = crate::http::error::ErrorBody), (status = 409, description = "Device, actor (`actor_taken`) or signing key (`key_in_use`) registered to another user or device", body = crate::http::error::ErrorBody), (status = 429, description = "Too many failed sign-ins from this address (`rate_limited`, with Retry-After)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, Response> {
    let (user, device_id) = check_sign_in(&state, addr, &headers, req, Via::App).await?;
    let family = uuid::Uuid::new_v4().simple().to_string();
    Ok(Json(
        issue(&state, user, device_id, &family)
            .await
            .map_err(IntoResponse::into_response)?,
    ))
}

/// Where a sign-in comes from: the app (tokens) or the console (a session cookie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    App,
    Console,
}

/// A sign-in checked: throttled, the password verified, the account active, the device
/// registered (a `web-…` pseudo-device without one), the app version kept and the
/// sign-in audited (`SIGN_IN`, or `SIGN_IN_REFUSED` with the code). Returns the user and
/// the device id. Through the console, a role without console work (a grid worker) is
/// refused 403 `use_the_app` once the password is right.
pub(crate) async fn check_sign_in(
    state: &AppState,
    addr: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    req: LoginRequest,
    via: Via,
) -> Result<(User, String), Response> {
    let state = state.clone();
    let limits = state.limits_http.login;
    // Before the password is looked at: a slowed-down guesser costs no argon2, and the
    // answer is the same whether or not the account exists.
    let attempt = match state
        .throttle
        .attempt(&limits, &req.username, addr, state.clock.now().0)
    {
        Ok(a) => a,
        Err(limited) => {
            if limited.first {
                let user = state
                    .db
                    .user_by_username(req.username.trim())
                    .await
                    .ok()
                    .flatten()
                    .map(|(u, _)| u);
                refused(&state, user.as_ref(), "rate_limited")
                    .await
                    .map_err(IntoResponse::into_response)?;
            }
            return Err(limited.into_response());
        }
    };
    match sign_in(&state, req, via).await {
        Ok((user, device_id)) => {
            attempt.succeeded();
            if let Some(version) = app_version(headers) {
                state
                    .db
                    .set_app_version(&device_id, &version)
                    .await
                    .map_err(|e| ApiError::from(e).into_response())?;
            }
            audit_user(
                &state,
                &user,
                crate::audit::SIGN_IN,
                serde_json::json!({ "device_id": device_id }),
            )
            .await
            .map_err(IntoResponse::into_response)?;
            Ok((user, device_id))
        }
        Err(Refusal { error, user }) => {
            if error.code == "invalid_credentials" {
                attempt.failed(state.clock.now().0);
            }
            // Other refusals (disabled account, revoked device) came with the right
            // password: they are not guesses.
            refused(&state, user.as_ref(), &error.code)
                .await
                .map_err(IntoResponse::into_response)?;
            Err(error.into_response())
        }
    }
}

/// A refused sign-in, and the account it named if the password was checked against one.
struct Refusal {
    error: ApiError,
    user: Option<User>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal { error, user: None }
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        ApiError::from(e).into()
    }
}

/// `SIGN_IN_REFUSED` with the answer's code; ids only (the username typed is never kept).
async fn refused(state: &AppState, user: Option<&User>, code: &str) -> Result<(), ApiError> {
    let detail = serde_json::json!({ "code": code });
    match user {
        Some(u) => audit_user(state, u, crate::audit::SIGN_IN_REFUSED, detail).await,
        None => Ok(crate::audit::append(
            state,
            crate::audit::Entry {
                user_id: String::new(),
                role: String::new(),
                org_id: String::new(),
                action: crate::audit::SIGN_IN_REFUSED.into(),
                case_id: None,
                detail,
            },
        )
        .await?),
    }
}

/// An audit entry about `user`, by `user` (sign-ins have no caller yet).
pub(crate) async fn audit_user(
    state: &AppState,
    user: &User,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    crate::audit::append(
        state,
        crate::audit::Entry {
            user_id: user.id.clone(),
            role: user.role.as_code().to_owned(),
            org_id: user.org_id.clone(),
            action: action.to_owned(),
            case_id: None,
            detail,
        },
    )
    .await?;
    Ok(())
}

async fn sign_in(state: &AppState, req: LoginRequest, via: Via) -> Result<(User, String), Refusal> {
    let invalid = || ApiError::unauthorized("invalid_credentials", "wrong username or password");
    let found = state.db.user_by_username(req.username.trim()).await?;
    // Verify even for unknown users, so timing does not tell which usernames exist.
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok => u,
        user => {
            return Err(Refusal {
                error: invalid(),
                user,
            });
        }
    };
    let refuse = |error: ApiError| Refusal {
        error,
        user: Some(user.clone()),
    };
    if !user.active {
        return Err(refuse(account_disabled()));
    }
    if via == Via::Console && !has_console_work(user.role) {
        return Err(refuse(ApiError::forbidden(
            "use_the_app",
            "grid workers work in the app, not in the console: sign in on your phone",
        )));
    }
    let now = state.clock.now().0;
    let device_id = match req.device_id.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() && d.len() <= 128 => d.to_owned(),
        Some(_) => {
            return Err(refuse(ApiError::bad_request(
                "invalid_input",
                "device_id must be 1..=128 characters",
            )));
        }
        None => format!("web-{}", uuid::Uuid::new_v4().simple()),
    };
    match state.db.register_device(&device_id, &user.id, now).await? {
        DeviceState::Active => {}
        DeviceState::Revoked => return Err(refuse(device_revoked())),
        DeviceState::OtherUser => {
            return Err(refuse(ApiError::new(
                StatusCode::CONFLICT,
                "device_in_use",
                "this device is registered to another user",
            )));
        }
    }
    let key = signing_key(req.signing_key.as_deref()).map_err(refuse)?;
    if let Some(key) = &key {
        state
            .db
            .register_key(&device_id, key, now)
            .await
            .map_err(|e| refuse(key_error(e)))?;
    }
    state
        .db
        .bind_actors(&device_id, &req.actor_ids, key.as_deref())
        .await
        .map_err(|e| match e {
            Error::Conflict(m) => refuse(ApiError::new(StatusCode::CONFLICT, "actor_taken", m)),
            other => refuse(other.into()),
        })?;
    tracing::info!(user = %user.id, device = %device_id, "login");
    Ok((user, device_id))
}

/// A `signing_key` as sent (hex or base64 of 32 bytes), as the hex the center keeps; none
/// for an absent or empty one.
fn signing_key(text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match gridsync_core::signing::parse_public_key(text) {
            Some(key) => Ok(Some(hex::encode(key))),
            None => Err(ApiError::bad_request(
                "invalid_signing_key",
                "signing_key must be an Ed25519 public key: 64 hex characters or the base64 of 32 bytes",
            )),
        },
    }
}

/// A key registered to another device is 409 `key_in_use`: a signature names one device.
fn key_error(e: Error) -> ApiError {
    match e {
        Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "key_in_use", m),
        other => other.into(),
    }
}

/// Whether a role has work in the console: everyone but the grid worker (who records
/// cases on the phone) and the center's own system role.
pub(crate) fn has_console_work(role: gridsync_core::workflow::Role) -> bool {
    use gridsync_core::workflow::Role;
    !matches!(role, Role::GridWorker | Role::System)
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", summary = "Rotate a refresh token", description = "Anyone holding a refresh token may call it, for the device it was issued to: `device_id` is required (400 `device_id_required`); another device's id ends the token's whole session family (401 `device_mismatch`). A token used twice ends its family too (401 `refresh_reused`). With `signing_key`, the device's actors bound before it had a key take that key (audited `SIGNING_KEY_REGISTERED`); a key registered to another device is 409 `key_in_use` and the token is spent.", request_body = RefreshRequest, responses((status = 200, body = TokenResponse), (status = 400, description = "Bad input, `device_id_required`, `invalid_signing_key`", body = crate::http::error::ErrorBody), (status = 401, description = "Unknown, expired, reused or revoked token; `device_mismatch`; `account_disabled`", body = crate::http::error::ErrorBody), (status = 403, description = "Device revoked (`device_revoked`)", body = crate::http::error::ErrorBody), (status = 409, description = "The signing key is registered to another device (`key_in_use`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let now = state.clock.now().0;
    // A refresh token is bound to its device: the caller must say which device it is.
    let Some(device_id) = req.device_id.as_deref().filter(|d| !d.trim().is_empty()) else {
        return Err(ApiError::bad_request(
            "device_id_required",
            "device_id is required: a refresh token is bound to its device",
        ));
    };
    // Checked before the token is spent: a malformed key costs the phone nothing.
    let key = signing_key(req.signing_key.as_deref())?;
    let hash = auth::token_hash(&req.refresh_token);
    let Some(row) = state.db.refresh_row(&hash).await? else {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "unknown refresh token",
        ));
    };
    if device_id != row.device_id {
        // The token left its device (copied off the phone): the whole session ends.
        state.db.revoke_family(&row.family_id, now).await?;
        tracing::warn!(device = %row.device_id, "refresh token presented by another device; session family revoked");
        return Err(ApiError::unauthorized(
            "device_mismatch",
            "the refresh token belongs to another device; sign in again",
        ));
    }
    if let Some(p) = state.db.principal(&row.user_id, &row.device_id).await?
        && p.revoked
    {
        return Err(device_revoked());
    }
    if row.revoked_at.is_some() {
        return Err(ApiError::unauthorized(
            "refresh_revoked",
            "this session has ended; sign in again",
        ));
    }
    if row.used_at.is_some() || !state.db.use_refresh(&hash, now).await? {
        // A refresh token used twice was copied: end the whole session family.
        state.db.revoke_family(&row.family_id, now).await?;
        tracing::warn!(device = %row.device_id, "refresh token reused; session family revoked");
        return Err(ApiError::unauthorized(
            "refresh_reused",
            "refresh token reused; sign in again",
        ));
    }
    if row.expires_at <= now {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the session expired; sign in again",
        ));
    }
    let Some(user) = state.db.user(&row.user_id).await?.filter(|u| u.active) else {
        return Err(account_disabled());
    };
    if let Some(key) = &key {
        let actors = state
            .db
            .adopt_key(&row.device_id, key, now)
            .await
            .map_err(key_error)?;
        if !actors.is_empty() {
            audit_user(
                &state,
                &user,
                crate::audit::SIGNING_KEY_REGISTERED,
                serde_json::json!({ "device_id": row.device_id, "key": key, "actors": actors }),
            )
            .await?;
        }
    }
    if let Some(version) = app_version(&headers) {
        state.db.set_app_version(&row.device_id, &version).await?;
    }
    Ok(Json(
        issue(&state, user, row.device_id, &row.family_id).await?,
    ))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", summary = "End the session family of a refresh token", description = "Anyone holding the refresh token (it is the credential). Ends every token of its family; a live one is audited as `SIGN_OUT` (`via` `app`).", request_body = LogoutRequest, responses((status = 204, description = "Signed out"), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    if let Some(row) = state
        .db
        .refresh_row(&auth::token_hash(&req.refresh_token))
        .await?
    {
        state
            .db
            .revoke_family(&row.family_id, state.clock.now().0)
            .await?;
        // A token already spent or revoked signs nobody out: nothing to record.
        if row.revoked_at.is_none()
            && let Some(principal) = state.db.principal(&row.user_id, &row.device_id).await?
        {
            audit_user(
                &state,
                &principal.user,
                crate::audit::SIGN_OUT,
                serde_json::json!({ "device_id": row.device_id, "via": "app" }),
            )
            .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn issue(
    state: &AppState,
    user: User,
    device_id: String,
    family: &str,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now().0;
    let info = user_info(state, &user).await?;
    let access_token = state.keys.issue(&user.id, &device_id, now / 1000);
    let refresh_token = auth::random_secret();
    state
        .db
        .insert_refresh(
            &auth::token_hash(&refresh_token),
            family,
            &user.id,
            &device_id,
            now,
            now + REFRESH_TTL_SECS * 1000,
        )
        .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token,
        refresh_expires_in: REFRESH_TTL_SECS,
        device_id,
        user: info,
    })
}

/// Who signed in, with their organisation's name and area.
pub(crate) async fn user_info(state: &AppState, user: &User) -> Result<UserInfo, ApiError> {
    let org: Org = state
        .db
        .org(&user.org_id)
        .await?
        .ok_or(Error::NotFound("organisation"))?;
    Ok(UserInfo {
        id: user.id.clone(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role.as_code().to_owned(),
        org_id: org.id,
        org_name: org.name,
        area_code: org.area_code,
        permissions: crate::policy::permissions_of(user.role),
    })
}

/// The longest app version kept (a browser's User-Agent is cut here).
pub(crate) const APP_VERSION_MAX: usize = 64;

/// The app a request comes from, as its `User-Agent` says (`gridsync-ffi/0.1.0` from the
/// phones), sanitized: printable ASCII only (anything else becomes `?`), whitespace runs
/// folded, at most [`APP_VERSION_MAX`] characters. `None` without the header or when
/// nothing printable is left.
pub(crate) fn app_version(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(axum::http::header::USER_AGENT)?.as_bytes();
    let mut out = String::with_capacity(APP_VERSION_MAX);
    for &b in raw {
        if out.len() >= APP_VERSION_MAX {
            break;
        }
        let c = match b {
            b' ' | b'\t' => ' ',
            0x21..=0x7e => b as char,
            _ => '?',
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end().to_owned();
    (!out.is_empty()).then_some(out)
}

fn account_disabled() -> ApiError {
    ApiError::unauthorized("account_disabled", "this account is disabled")
}

pub(crate) fn device_revoked() -> ApiError {
    ApiError::forbidden(
        "device_revoked",
        "this device has been revoked; wipe its local data",
    )
}

/// A precomputed hash so unknown usernames cost the same as wrong passwords.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2X2lNQKYIW0X9wZ2oYh8cCvTFGZ6bB2DsV3GzXq5C4Y";

/// The authenticated caller: a valid access token for a live device of an active user.
#[derive(Debug, Clone)]
pub(crate) struct AuthUser(pub(crate) Caller);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        AuthUser::from_headers(&parts.headers, &parts.method, state).await
    }
}

impl AuthUser {
    /// Authenticates from the `Authorization` header, or else from the console's session
    /// cookie (for handlers that must read their body before answering, so a refusal never
    /// cuts off a client mid-upload). With the cookie, an unsafe `method` needs the
    /// session's CSRF token in `X-CSRF-Token` (403 `csrf_failed`).
    pub(crate) async fn from_headers(
        headers: &axum::http::HeaderMap,
        method: &axum::http::Method,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let Some(header) = headers.get(axum::http::header::AUTHORIZATION) else {
            if let Some(secret) = state.limits_http.session.secret(headers) {
                return Self::from_session(secret, headers, method, state).await;
            }
            return Err(ApiError::unauthorized(
                "missing_token",
                "an Authorization: Bearer token is required",
            ));
        };
        let header = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("invalid_token", "expected a Bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "expected a Bearer token"))?;
        let now = state.clock.now().0;
        let mut verified = state.keys.verify(token.trim(), now / 1000);
        // Signed under a key this process has not loaded: another process (or the admin
        // command) may have rotated. Keys from a file or the environment never reload.
        if verified == Err(TokenError::UnknownKey)
            && state.keys.reloadable()
            && state.keys.reload_if_stale(&state.db, now).await?
        {
            verified = state.keys.verify(token.trim(), now / 1000);
        }
        let claims = verified.map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthorized("token_expired", "the access token expired; refresh it")
            }
            TokenError::Invalid | TokenError::UnknownKey => {
                ApiError::unauthorized("invalid_token", "the access token is not valid")
            }
        })?;
        let Some(principal) = state.db.principal(&claims.sub, &claims.dev).await? else {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the access token names no known device",
            ));
        };
        Self::of_principal(principal, claims.dev, headers, state).await
    }

    /// A console session: live (not ended, within the idle and absolute limits), CSRF
    /// checked for unsafe methods, its pseudo-device not revoked, its user active.
    async fn from_session(
        secret: &str,
        headers: &axum::http::HeaderMap,
        method: &axum::http::Method,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let (session, principal) = live_session(state, secret).await?;
        if super::session::is_unsafe(method)
            && !super::session::csrf_matches(headers, &session.csrf_token)
        {
            return Err(ApiError::forbidden(
                "csrf_failed",
                "the X-CSRF-Token header is missing or wrong; reload the page",
            ));
        }
        Self::of_principal(principal, session.device_id, headers, state).await
    }

    async fn of_principal(
        principal: crate::db::accounts::Principal,
        device_id: String,
        headers: &axum::http::HeaderMap,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        if principal.revoked {
            return Err(device_revoked());
        }
        if !principal.user.active {
            return Err(account_disabled());
        }
        // Every authenticated request (a sync among them) keeps the device's app version
        // current; it writes only when the version changed.
        if let Some(version) = app_version(headers)
            && principal.app_version.as_deref() != Some(version.as_str())
        {
            state.db.set_app_version(&device_id, &version).await?;
        }
        Ok(AuthUser(Caller {
            user: principal.user,
            org: principal.org,
            device_id,
            former_org: None,
        }))
    }
}

/// The console session a cookie's secret names, if it is live (not ended, used within the
/// idle limit, before its absolute end), with its user and device as they are now; marks it
/// used. 401 `session_expired` otherwise.
pub(crate) async fn live_session(
    state: &AppState,
    secret: &str,
) -> Result<
    (
        crate::db::sessions::WebSession,
        crate::db::accounts::Principal,
    ),
    ApiError,
> {
    let expired = || {
        ApiError::unauthorized(
            "session_expired",
            "the console session has ended; sign in again",
        )
    };
    let now = state.clock.now().0;
    let hash = auth::token_hash(secret);
    let Some(session) = state.db.web_session(&hash).await? else {
        return Err(expired());
    };
    let idle = i64::try_from(state.limits_http.session.idle.as_millis()).unwrap_or(i64::MAX);
    if session.ended_at.is_some()
        || now >= session.expires_at
        || now.saturating_sub(session.last_seen_at) >= idle
    {
        return Err(expired());
    }
    let Some(principal) = state
        .db
        .principal(&session.user_id, &session.device_id)
        .await?
    else {
        return Err(expired());
    };
    state.db.touch_web_session(&hash, now).await?;
    Ok((session, principal))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::{APP_VERSION_MAX, app_version};

    #[test]
    fn the_app_version_is_the_user_agent_sanitized_and_bounded() {
        let of = |raw: &[u8]| {
            let mut h = HeaderMap::new();
            h.insert(header::USER_AGENT, HeaderValue::from_bytes(raw).unwrap());
            app_version(&h)
        };
        assert_eq!(app_version(&HeaderMap::new()), None);
        assert_eq!(
            of(b"gridsync-ffi/0.1.0").as_deref(),
            Some("gridsync-ffi/0.1.0")
        );
        assert_eq!(
            of(b"  gridsync-ffi/0.1.0 \t (android 14)  ").as_deref(),
            Some("gridsync-ffi/0.1.0 (android 14)")
        );
        assert_eq!(of("网格/1.0".as_bytes()).as_deref(), Some("??????/1.0"));
        assert_eq!(of(b"   "), None);
        let long = of(&[b'a'; 300]).unwrap();
        assert_eq!(long.len(), APP_VERSION_MAX);
    }
}
