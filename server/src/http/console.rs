//! The center's web console: its pages and assets, embedded in the binary and served at
//! `/console/`, and the console's sign-in, `POST|GET|DELETE /v1/auth/session` (a session
//! cookie plus a CSRF token; see [`super::session`]).
//!
//! The pages are plain HTML, CSS and JavaScript modules (no build step, nothing fetched from
//! elsewhere); they hold no copy of the workflow and call the public API with the cookie.
//! Every page answers with a strict Content-Security-Policy (no inline script or style).
//! The page routes are not API operations and are left out of `/v1/openapi.json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{self, LoginRequest, UserInfo, Via};
use super::error::ApiJson;
use super::state::AppState;
use super::throttle::ClientAddr;

/// The console pages' policy: everything from this server, nothing inline, no framing.
pub(crate) const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The embedded files under `/console/assets/{name}`: name, media type, path under
/// `server/console/`, bytes.
macro_rules! assets {
    ($(($name:literal, $kind:ident, $path:literal)),* $(,)?) => {
        const ASSETS: &[(&str, &str, &str, &[u8])] =
            &[$(($name, $kind, $path, include_bytes!(concat!("../../console/", $path)))),*];
    };
}
assets![
    ("app.css", CSS, "app.css"),
    ("print.css", CSS, "print.css"),
    ("app.js", JS, "app.js"),
    ("api.js", JS, "api.js"),
    ("i18n.js", JS, "i18n.js"),
    ("dom.js", JS, "dom.js"),
    ("tasks.js", JS, "tasks.js"),
    ("cases.js", JS, "cases.js"),
    ("case.js", JS, "case.js"),
    ("form.js", JS, "form.js"),
    ("intake.js", JS, "intake.js"),
    ("orgpicker.js", JS, "orgpicker.js"),
    ("live.js", JS, "live.js"),
    ("warnings.js", JS, "warnings.js"),
    ("stats.js", JS, "stats.js"),
    ("admin.js", JS, "admin.js"),
    ("admin-ui.js", JS, "admin-ui.js"),
    ("admin-orgs.js", JS, "admin-orgs.js"),
    ("admin-users.js", JS, "admin-users.js"),
    ("admin-devices.js", JS, "admin-devices.js"),
    ("admin-rules.js", JS, "admin-rules.js"),
    ("admin-audit.js", JS, "admin-audit.js"),
    ("agreement.js", JS, "agreement.js"),
    // Apache ECharts (vendor/README.md): the statistics screen's charts.
    ("echarts.esm.min.js", JS, "vendor/echarts.esm.min.js"),
];
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const INDEX: &[u8] = include_bytes!("../../console/index.html");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/auth/session",
            get(current_session)
                .post(create_session)
                .delete(end_session),
        )
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(page))
        .route("/console/assets/{file}", get(asset))
        .route("/console/{*page}", get(page))
}

/// Every console page is the one document; its script reads the path.
async fn page(headers: HeaderMap) -> Response {
    served(&headers, HTML, "index.html", INDEX)
}

async fn asset(headers: HeaderMap, Path(file): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(name, ..)| *name == file)
        .map(|(_, kind, path, bytes)| served(&headers, kind, path, bytes))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))
}

/// A debug build started with `GRIDSYNC_CONSOLE_DIR=server/console` serves the console's
/// files from that folder as they are now, so a page can be changed and reloaded without
/// rebuilding. Release builds always serve what was embedded.
fn dev_dir() -> Option<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        cfg!(debug_assertions)
            .then(|| std::env::var_os("GRIDSYNC_CONSOLE_DIR").map(Into::into))
            .flatten()
    })
    .as_deref()
}

/// An embedded file with its validator: browsers revalidate (`no-cache`) and get 304 while
/// the binary is the same, so an upgrade is seen at the next page load and an unchanged
/// file (the charting library among them) is not sent again.
fn served(headers: &HeaderMap, kind: &'static str, path: &str, bytes: &'static [u8]) -> Response {
    served_with(headers, kind, path, bytes, CONSOLE_CSP)
}

/// [`served`] under another page's policy (the citizens' pages have their own).
pub(crate) fn served_with(
    headers: &HeaderMap,
    kind: &'static str,
    path: &str,
    bytes: &'static [u8],
    csp: &'static str,
) -> Response {
    let bytes: std::borrow::Cow<'static, [u8]> = match dev_dir() {
        Some(dir) => std::fs::read(dir.join(path)).map_or(bytes.into(), Into::into),
        None => bytes.into(),
    };
    let etag = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        format!("\"{:016x}\"", hasher.finish())
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let common = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex is a header value"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        match bytes {
            std::borrow::Cow::Borrowed(b) => axum::body::Body::from(b),
            std::borrow::Cow::Owned(v) => axum::body::Body::from(v),
        },
    )
        .into_response()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionRequest {
    username: String,
    password: String,
}

/// A console session: the CSRF token unsafe requests echo in `X-CSRF-Token`, who signed
/// in, and its limits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionResponse {
    csrf_token: String,
    /// The session's pseudo-device (`web-…`): revoking it ends the session.
    device_id: String,
    user: UserInfo,
    /// The session ends after this many seconds unused.
    idle_timeout_secs: u64,
    /// And at the latest this many seconds from now.
    expires_in: i64,
    /// The county's IANA time zone: the dates a user picks (statistics periods) are the
    /// county's, whatever zone the browser runs in.
    time_zone: String,
}

#[utoipa::path(post, path = "/v1/auth/session", tag = "auth", summary = "Sign in to the console (a session cookie)", description = "The console's sign-in with the same accounts and throttle as `/v1/auth/login`. Sets an `HttpOnly; SameSite=Strict; Path=/` session cookie (`Secure` and named `__Host-gridsync_session` with `--secure-cookies`) for a `web-…` pseudo-device, and answers the CSRF token every unsafe request with the cookie must carry in `X-CSRF-Token`. A grid worker is refused 403 `use_the_app`. Audited like every sign-in.", request_body = SessionRequest, responses((status = 200, body = SessionResponse, headers(("set-cookie" = String, description = "The session cookie"))), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "Wrong username or password (`invalid_credentials`), account disabled (`account_disabled`)", body = crate::http::error::ErrorBody), (status = 403, description = "A role without console work (`use_the_app`)", body = crate::http::error::ErrorBody), (status = 429, description = "Too many failed sign-ins (`rate_limited`, with Retry-After)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn create_session(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SessionRequest>,
) -> Result<Response, Response> {
    let login = LoginRequest::web(req.username, req.password);
    let (user, device_id) =
        auth::check_sign_in(&state, addr, &headers, login, Via::Console).await?;
    let limits = state.limits_http.session;
    let now = state.clock.now().0;
    let secret = crate::auth::random_secret();
    let csrf_token = crate::auth::random_secret();
    let absolute = i64::try_from(limits.absolute.as_millis()).unwrap_or(i64::MAX);
    let answer = async {
        state
            .db
            .insert_web_session(
                &crate::auth::token_hash(&secret),
                &user.id,
                &device_id,
                &csrf_token,
                now,
                now.saturating_add(absolute),
            )
            .await?;
        Ok::<_, ApiError>(SessionResponse {
            csrf_token,
            device_id,
            user: auth::user_info(&state, &user).await?,
            idle_timeout_secs: limits.idle.as_secs(),
            expires_in: absolute / 1000,
            time_zone: state.county_time.name().to_owned(),
        })
    }
    .await
    .map_err(IntoResponse::into_response)?;
    Ok((
        [(header::SET_COOKIE, limits.set_cookie(&secret))],
        Json(answer),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/auth/session", tag = "auth", summary = "The console session the cookie names", description = "Who is signed in and the session's CSRF token (a page reloaded asks again). 401 `session_expired` without a live session.", responses((status = 200, body = SessionResponse), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No live session (`session_expired`)", body = crate::http::error::ErrorBody), (status = 403, description = "Device revoked (`device_revoked`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn current_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionResponse>, ApiError> {
    let limits = state.limits_http.session;
    let secret = limits
        .secret(&headers)
        .ok_or_else(|| ApiError::unauthorized("session_expired", "no console session; sign in"))?;
    let (session, principal) = auth::live_session(&state, secret).await?;
    if principal.revoked {
        return Err(auth::device_revoked());
    }
    let now = state.clock.now().0;
    Ok(Json(SessionResponse {
        csrf_token: session.csrf_token,
        device_id: session.device_id,
        user: auth::user_info(&state, &principal.user).await?,
        idle_timeout_secs: limits.idle.as_secs(),
        expires_in: (session.expires_at - now) / 1000,
        time_zone: state.county_time.name().to_owned(),
    }))
}

#[utoipa::path(delete, path = "/v1/auth/session", tag = "auth", summary = "Sign out of the console", description = "Ends the session the cookie names and removes the cookie (audited as `SIGN_OUT`, `via` `console`). With a live session the request must carry its CSRF token in `X-CSRF-Token` (403 `csrf_failed`); without one there is nothing to end (204).", responses((status = 204, description = "Signed out"), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 403, description = "CSRF token missing or wrong (`csrf_failed`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let limits = state.limits_http.session;
    if let Some(secret) = limits.secret(&headers)
        && let Ok((session, principal)) = auth::live_session(&state, secret).await
    {
        if !super::session::csrf_matches(&headers, &session.csrf_token) {
            return Err(ApiError::forbidden(
                "csrf_failed",
                "the X-CSRF-Token header is missing or wrong; reload the page",
            ));
        }
        state
            .db
            .end_web_session(&crate::auth::token_hash(secret), state.clock.now().0)
            .await?;
        auth::audit_user(
            &state,
            &principal.user,
            crate::audit::SIGN_OUT,
            serde_json::json!({ "device_id": session.device_id, "via": "console" }),
        )
        .await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, limits.clear_cookie())],
    )
        .into_response())
}
