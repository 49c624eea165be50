//! Statistics and exports for center staff (issue 4 item 5): `GET /v1/stats` (JSON),
//! `GET /v1/stats.csv`, `GET /v1/cases.csv` and `GET /v1/export/gbt31000.csv`. All take
//! `from`, `to` (China dates `YYYY-MM-DD`, inclusive; default: 1 January of this year to
//! today), `area` (an area-code prefix inside the caller's scope) and, for the statistics,
//! `group_by=category|area|month|source`. Definitions live in [`crate::stats`].
//!
//! Who may read and export: `crate::policy`; the scope is the caller's organisation
//! (`scope_prefix`), and a department without one counts only cases dispatched to it.
//! Exports carry masked personal data only; each is audited as an `EXPORT` (which, the
//! filter, the row count).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiQuery;
use super::state::AppState;
use crate::caller::Caller;
use crate::policy::{self, Permission};
use crate::stats::{self, Export, GroupBy, Period, Report, Scope};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/stats", get(stats_json))
        .route("/v1/stats.csv", get(stats_csv))
        .route("/v1/cases.csv", get(cases_csv))
        .route("/v1/export/gbt31000.csv", get(gbt31000_csv))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    area: Option<String>,
    group_by: Option<String>,
}

/// The period, scope and grouping of a request, checked.
fn parse(
    state: &AppState,
    caller: &Caller,
    q: &StatsQuery,
) -> Result<(Period, Scope, Option<GroupBy>), ApiError> {
    let today = state.clock.now().china_date();
    let date = |v: &Option<String>, default: time::Date| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => stats::parse_date(s).ok_or_else(|| {
            ApiError::bad_request("invalid_date", format!("{s:?} is not a YYYY-MM-DD date"))
        }),
    };
    let first_of_year = today.replace_ordinal(1).unwrap_or(today);
    let period = Period {
        from: date(&q.from, first_of_year)?,
        to: date(&q.to, today)?,
    };
    if period.to < period.from {
        return Err(ApiError::bad_request(
            "invalid_period",
            "`to` is before `from`",
        ));
    }
    let group_by = match q.group_by.as_deref() {
        None | Some("") => None,
        Some(g) => Some(GroupBy::parse(g).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_group_by",
                "group_by is one of category, area, month, source",
            )
        })?),
    };
    let prefix = caller.org.scope_prefix.clone();
    let area = match q.area.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) if a.len() > 12 || !a.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(ApiError::bad_request(
                "invalid_area",
                "area is a prefix of a 12-digit area code",
            ));
        }
        // Wider than the caller's scope: the scope is the limit anyway.
        Some(a) if prefix.as_deref().is_some_and(|p| p.starts_with(a)) => None,
        Some(a) if prefix.as_deref().is_some_and(|p| !a.starts_with(p)) => {
            return Err(ApiError::forbidden(
                "area_out_of_scope",
                "that area is outside your organisation's scope",
            ));
        }
        Some(a) => Some(a.to_owned()),
    };
    let scope = Scope {
        scope_prefix: prefix,
        org_id: caller.org.id.clone(),
        area,
    };
    Ok((period, scope, group_by))
}

#[utoipa::path(get, path = "/v1/stats", tag = "statistics", summary = "Statistics with year-on-year", security(("bearer" = [])), params(StatsQuery), responses((status = 200, body = crate::stats::Report), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn stats_json(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<Report>, ApiError> {
    policy::require(&caller, Permission::ReadStatistics)?;
    let (period, scope, group_by) = parse(&state, &caller, &q)?;
    Ok(Json(
        stats::compute(&state, &scope, period, group_by).await?,
    ))
}

fn csv_response(name: &str, body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/v1/stats.csv", tag = "statistics", summary = "Statistics as CSV (audited)", security(("bearer" = [])), params(StatsQuery), responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn stats_csv(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    export(&state, &caller, &q, Export::Stats).await
}

#[utoipa::path(get, path = "/v1/cases.csv", tag = "statistics", summary = "The case list as CSV (masked; audited)", security(("bearer" = [])), params(StatsQuery), responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn cases_csv(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    export(&state, &caller, &q, Export::Cases).await
}

#[utoipa::path(get, path = "/v1/export/gbt31000.csv", tag = "statistics", summary = "GB/T 31000-2015-shaped dispute export (masked; audited)", security(("bearer" = [])), params(StatsQuery), responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn gbt31000_csv(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    export(&state, &caller, &q, Export::Gbt31000).await
}

/// The three CSV routes: permitted, parsed, exported and audited.
async fn export(
    state: &AppState,
    caller: &Caller,
    q: &StatsQuery,
    what: Export,
) -> Result<Response, ApiError> {
    policy::require(caller, Permission::Export)?;
    let (period, scope, group_by) = parse(state, caller, q)?;
    let csv = stats::export(state, caller, what, &scope, period, group_by).await?;
    tracing::info!(by = %caller.user.id, export = what.file_name(), "export");
    Ok(csv_response(what.file_name(), csv))
}
