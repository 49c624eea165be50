//! The citizens' pages (no account): a county's filing page `/public/{county}`, the case
//! follow page `/public/track`, the survey page `/public/survey`, and their API under
//! `/v1/public/`. Plus, for staff, the filing page's QR code and a printable poster with it
//! (`/public/{county}/poster`: the image is the staff endpoint's, the page holds nothing). The rules are
//! `crate::citizens`'; the request rates `super::public_limits`'.
//!
//! Anyone may call the public operations: each is rate-limited per client address (429
//! `rate_limited`), codes also per mobile, and bodies are closed JSON objects with every
//! field judged. The pages are their own small documents with their own policy (nothing
//! of the staff console is loaded), and render every value with `textContent`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::error::{ApiJson, ApiQuery};
use super::state::AppState;
use super::throttle::ClientAddr;
use crate::citizens::{self, County, Filed, PublicCase, Purpose};

/// The citizens' pages' policy: this server's scripts, styles and API only; no forms posted
/// elsewhere, no framing, no inline code.
const PUBLIC_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

macro_rules! pages {
    ($(($name:literal, $kind:ident, $path:literal)),* $(,)?) => {
        const FILES: &[(&str, &str, &str, &[u8])] =
            &[$(($name, $kind, $path, include_bytes!(concat!("../../console/", $path)))),*];
    };
}
pages![
    ("file.html", HTML, "public/file.html"),
    ("track.html", HTML, "public/track.html"),
    ("survey.html", HTML, "public/survey.html"),
    ("poster.html", HTML, "public/poster.html"),
    ("public.css", CSS, "public/public.css"),
    ("public.js", JS, "public/public.js"),
    ("file.js", JS, "public/file.js"),
    ("track.js", JS, "public/track.js"),
    ("survey.js", JS, "public/survey.js"),
    ("poster.js", JS, "public/poster.js"),
];
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/public/track",
            get(|h: HeaderMap| async move { file(&h, "track.html") }),
        )
        .route(
            "/public/survey",
            get(|h: HeaderMap| async move { file(&h, "survey.html") }),
        )
        .route("/public/assets/{file}", get(asset))
        .route(
            "/public/{county}/poster",
            get(|h: HeaderMap| async move { file(&h, "poster.html") }),
        )
        .route(
            "/public/{county}",
            get(|h: HeaderMap| async move { file(&h, "file.html") }),
        )
        .route("/v1/public/counties/{county}", get(county))
        .route("/v1/public/counties/{county}/qr", get(qr))
        .route("/v1/public/codes", post(send_code))
        .route("/v1/public/cases", post(file_case))
        .route("/v1/public/follow", post(follow))
        .route("/v1/public/surveys", post(answer_survey))
}

fn file(headers: &HeaderMap, name: &str) -> Response {
    match FILES.iter().find(|(n, ..)| *n == name) {
        Some((_, kind, path, bytes)) => {
            super::console::served_with(headers, kind, path, bytes, PUBLIC_CSP)
        }
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response(),
    }
}

async fn asset(headers: HeaderMap, Path(name): Path<String>) -> Response {
    if name.ends_with(".html") {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response();
    }
    file(&headers, &name)
}

/// 429 `rate_limited` with Retry-After.
fn limited(retry_after: u64, what: &str) -> Response {
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        what.to_owned(),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// A public POST past its address's rate: 429 with Retry-After.
#[derive(Debug)]
struct AddressLimited(u64);

impl From<AddressLimited> for Response {
    fn from(l: AddressLimited) -> Response {
        limited(l.0, "too many requests from this address; try again later")
    }
}

/// Counts a public POST from the client's address.
fn count_address(state: &AppState, addr: Option<std::net::IpAddr>) -> Result<(), AddressLimited> {
    let key = addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
    state
        .public_throttle
        .address(&state.limits_http.public, &key, state.clock.now().0)
        .map_err(AddressLimited)
}

#[utoipa::path(get, path = "/v1/public/counties/{county}", tag = "public", summary = "A county's filing page: its center, villages and categories", description = "Who may call it: anyone (no account). Scope: the county's public information only: its center's name, its villages' names and area codes (grouped by township) and the dispute categories; nothing else of the organisation tree. 404 `not_found` for an unknown county.", params(("county" = String, Path, description = "The county's six-digit code")), responses((status = 200, body = County), (status = 400, description = "Bad input (a malformed path)", body = crate::http::error::ErrorBody), (status = 404, description = "`not_found`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn county(
    State(state): State<AppState>,
    Path(county): Path<String>,
) -> Result<Json<County>, ApiError> {
    Ok(Json(citizens::county(&state, &county).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QrQuery {
    /// `svg` (default), `png`, or `json` (the address itself).
    #[serde(default)]
    format: Option<String>,
}

/// A PNG image in the OpenAPI document: bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct PngBody(#[allow(dead_code)] Vec<u8>);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PosterLink {
    /// The filing page's address, which the QR code holds.
    url: String,
}

#[utoipa::path(get, path = "/v1/public/counties/{county}/qr", tag = "public", summary = "The filing page's QR code, for posters (staff)", description = "Who may call it: roles with `Intake` (the center's desk; 403 `not_permitted` otherwise). Scope: a county inside the caller's organisation's scope (403 `out_of_scope`: a township's desk prints no county poster). The code holds the filing page's address (the configured public URL, else this request's host). `format=svg` (default, for print), `png` (8 px per module) or `json` (the address).", params(("county" = String, Path, description = "The county's six-digit code"), ("format" = Option<String>, Query, description = "`svg`, `png` or `json`")), security(("bearer" = [])), responses((status = 200, description = "The QR code (SVG, PNG) or its address (JSON)", content((String = "image/svg+xml"), (PngBody = "image/png"), (PosterLink = "application/json"))), (status = 400, description = "`invalid_input`: an unknown format", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`not_found`: no such county", body = crate::http::error::ErrorBody)))]
pub(crate) async fn qr(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(county): Path<String>,
    ApiQuery(q): ApiQuery<QrQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    let url = citizens::poster_url(&state, &caller, &county, &base).await?;
    match q.format.as_deref().unwrap_or("svg") {
        "svg" => Ok((
            [(header::CONTENT_TYPE, "image/svg+xml")],
            citizens::qr::svg(&url)?,
        )
            .into_response()),
        "png" => Ok((
            [(header::CONTENT_TYPE, "image/png")],
            citizens::qr::png(&url)?,
        )
            .into_response()),
        "json" => Ok(Json(PosterLink { url }).into_response()),
        _ => Err(ApiError::bad_request(
            "invalid_input",
            "format: svg, png or json",
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mobile": "13800005678", "purpose": "FILE"}))]
pub(crate) struct CodeRequest {
    mobile: String,
    /// `FILE` (to file a case) or `FOLLOW` (to follow the case `case_no`).
    purpose: String,
    #[serde(default)]
    case_no: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CodeSent {
    /// Seconds the code is valid.
    valid_secs: i64,
    /// Seconds before another code may be asked for.
    resend_after_secs: i64,
}

#[utoipa::path(post, path = "/v1/public/codes", tag = "public", summary = "Send a one-time code by SMS (citizens)", description = "Who may call it: anyone (no account), rate-limited per client address (429 `rate_limited`) and per mobile number (one code a minute, ten a day: 429 `rate_limited` with Retry-After). Sends a six-digit code, valid 5 minutes, five tries. `FOLLOW` needs `case_no`: the code goes out only if that case was filed with this mobile, and the answer is the same either way (no oracle).", request_body = CodeRequest, responses((status = 202, body = CodeSent), (status = 400, description = "`invalid_input` naming the field (`mobile`, `purpose`, `case_no`)", body = crate::http::error::ErrorBody), (status = 429, description = "`rate_limited`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn send_code(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response, Response> {
    count_address(&state, addr)?;
    let mobile = citizens::mobile(&req.mobile).map_err(|e| ApiError::from(e).into_response())?;
    let purpose = match (req.purpose.as_str(), req.case_no) {
        ("FILE", _) => Purpose::File,
        ("FOLLOW", Some(no)) if !no.trim().is_empty() && no.len() <= 64 => {
            Purpose::Follow(no.trim().to_owned())
        }
        ("FOLLOW", _) => {
            return Err(ApiError::bad_request(
                "invalid_input",
                "case_no: the case number to follow",
            )
            .into_response());
        }
        _ => {
            return Err(
                ApiError::bad_request("invalid_input", "purpose: FILE or FOLLOW").into_response(),
            );
        }
    };
    let limits = state.limits_http.public;
    state
        .public_throttle
        .code(
            &limits,
            &citizens::mobile_hash(&mobile),
            &purpose.key(),
            state.clock.now().0,
        )
        .map_err(|s| {
            limited(
                s,
                "a code was sent to this number recently; try again later",
            )
        })?;
    citizens::send_code(&state, &purpose, &mobile)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            valid_secs: citizens::CODE_VALID_MS / 1000,
            resend_after_secs: limits.code_interval_ms / 1000,
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"county": "330182", "category": "NEIGHBOUR", "description": "邻居装修噪音扰民", "area_code": "330182101201", "name": "张建国", "mobile": "13800005678", "code": "123456"}))]
pub(crate) struct FilingBody {
    /// The county's six digits (the page's).
    county: String,
    /// A category code (`GET /v1/public/counties/{county}` lists them).
    category: String,
    /// What happened, 1 to 2000 characters.
    description: String,
    /// The village's 12-digit area code, one of the county's places.
    area_code: String,
    /// The applicant's name, 1 to 50 characters.
    name: String,
    mobile: String,
    /// The code sent to the mobile for `FILE`.
    code: String,
}

#[utoipa::path(post, path = "/v1/public/cases", tag = "public", summary = "File a case (citizens)", description = "Who may call it: anyone (no account) holding a code sent to the mobile (`POST /v1/public/codes`, `FILE`), rate-limited per client address (429 `rate_limited`); at most 3 cases per mobile per day (409 `daily_limit`, answered only with a right code). Scope: a village of the county. The case enters the workflow like the center's intake (source `ONLINE`, the applicant as its party, high-risk alerts, automatic dispatch rules) and is accepted, so the answer carries its number.", request_body = FilingBody, responses((status = 201, body = Filed), (status = 400, description = "`invalid_input` naming the field; `code_invalid` (wrong, expired or spent), `code_locked` (too many wrong tries)", body = crate::http::error::ErrorBody), (status = 404, description = "`not_found`: no such county", body = crate::http::error::ErrorBody), (status = 409, description = "`daily_limit`", body = crate::http::error::ErrorBody), (status = 429, description = "`rate_limited`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn file_case(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(b): ApiJson<FilingBody>,
) -> Result<Response, Response> {
    count_address(&state, addr)?;
    let filing = citizens::Filing {
        county: b.county,
        category: b.category,
        description: b.description,
        area_code: b.area_code,
        name: b.name,
        mobile: b.mobile,
        code: b.code,
    };
    let filed = citizens::file(&state, &filing)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok((StatusCode::CREATED, Json(filed)).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"case_no": "330182-20261205-000001", "mobile": "13800005678", "code": "123456"}))]
pub(crate) struct FollowBody {
    case_no: String,
    mobile: String,
    /// The code sent for `FOLLOW` of this case.
    code: String,
}

#[utoipa::path(post, path = "/v1/public/follow", tag = "public", summary = "A case's status and public steps, for its applicant (citizens)", description = "Who may call it: anyone (no account) holding the case number, the mobile it was filed with and a code sent to that mobile for it; rate-limited per client address (429 `rate_limited`). Scope: that one case: its status, public steps (accepted, dispatched, signed for, resolved, followed up), the organisations handling it by name, whether it was resolved and the agreement's terms; never notes, parties or staff. A number that does not exist, a mobile that did not file it and a wrong code all answer the same 404 `not_found`.", request_body = FollowBody, responses((status = 200, body = PublicCase), (status = 400, description = "Bad input (not JSON, unknown fields)", body = crate::http::error::ErrorBody), (status = 404, description = "`not_found`", body = crate::http::error::ErrorBody), (status = 429, description = "`rate_limited`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn follow(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(b): ApiJson<FollowBody>,
) -> Result<Response, Response> {
    count_address(&state, addr)?;
    let case = citizens::follow(&state, &b.case_no, &b.mobile, &b.code)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(Json(case).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "…", "satisfaction": 5, "agreement_kept": true}))]
pub(crate) struct SurveyBody {
    /// The single-use token of the SMS link.
    token: String,
    /// 1 (very unsatisfied) to 5 (very satisfied).
    satisfaction: u8,
    #[serde(default)]
    agreement_kept: Option<bool>,
}

#[utoipa::path(post, path = "/v1/public/surveys", tag = "public", summary = "Answer the follow-up survey (citizens)", description = "Who may call it: anyone holding the single-use token the applicant received by SMS when the case was resolved; rate-limited per client address (429 `rate_limited`). Scope: that case's follow-up: the answer becomes its FOLLOW_UP step (a return visit by SMS, marked as the applicant's answer) and counts in 满意度. An unknown or spent token: 404 `not_found`; a case no longer awaiting a follow-up: 409 `invalid_transition`.", request_body = SurveyBody, responses((status = 204, description = "Recorded"), (status = 400, description = "`invalid_input` (`satisfaction` 1 to 5)", body = crate::http::error::ErrorBody), (status = 404, description = "`not_found`", body = crate::http::error::ErrorBody), (status = 409, description = "`invalid_transition`", body = crate::http::error::ErrorBody), (status = 429, description = "`rate_limited`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn answer_survey(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(b): ApiJson<SurveyBody>,
) -> Result<Response, Response> {
    count_address(&state, addr)?;
    let answer = citizens::SurveyAnswer {
        token: b.token,
        satisfaction: b.satisfaction,
        agreement_kept: b.agreement_kept,
    };
    citizens::answer_survey(&state, &answer)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
