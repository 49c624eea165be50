//! Statistics and exports for center staff (issue 4 item 5, issue 13 item 9):
//! `GET /v1/stats` (JSON), `GET /v1/stats.csv`, `GET /v1/cases.csv`,
//! `GET /v1/export/gbt31000.csv` and the monthly report `GET /v1/stats/monthly.xlsx`. All
//! take `area` (an area-code prefix inside the caller's scope); the first four `from`, `to`
//! (the county's dates `YYYY-MM-DD` in its configured time zone, inclusive; default:
//! 1 January of this year to today) and, for the statistics, `group_by=category|area|
//! month|source`; the workbook `month=YYYY-MM` (default: the month before this one).
//! Definitions live in [`crate::stats`] and `docs/statistics.md`.
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
        .route("/v1/stats/monthly.xlsx", get(monthly_xlsx))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonthlyQuery {
    /// `YYYY-MM`; default: the month before the current one (the county's calendar).
    month: Option<String>,
    /// An area-code prefix inside the caller's scope.
    area: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    area: Option<String>,
    group_by: Option<String>,
}

/// The caller's scope ([`crate::db::scope::Scope`] of their organisation), narrowed to
/// `area` when it lies inside it.
fn scope(caller: &Caller, area: Option<&str>) -> Result<Scope, ApiError> {
    let prefix = caller.org.scope_prefix.clone();
    let area = match area.map(str::trim) {
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
    Ok(Scope {
        org: caller.org.clone(),
        area,
    })
}

/// The period, scope and grouping of a request, checked.
fn parse(
    state: &AppState,
    caller: &Caller,
    q: &StatsQuery,
) -> Result<(Period, Scope, Option<GroupBy>), ApiError> {
    let today = state.county_time.date(state.clock.now());
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
    let scope = scope(caller, q.area.as_deref())?;
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

fn file_response(name: &str, content_type: &str, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
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

/// The CSV routes: permitted, parsed, exported and audited.
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
    Ok(file_response(
        what.file_name(),
        "text/csv; charset=utf-8",
        csv,
    ))
}

#[utoipa::path(get, path = "/v1/stats/monthly.xlsx", tag = "statistics", summary = "The monthly report as an Excel workbook (one sheet per table; audited)", security(("bearer" = [])), params(MonthlyQuery), responses((status = 200, description = "Excel workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = XlsxBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn monthly_xlsx(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<MonthlyQuery>,
) -> Result<Response, ApiError> {
    policy::require(&caller, Permission::Export)?;
    let period = match q.month.as_deref().map(str::trim) {
        None | Some("") => {
            let today = state.county_time.date(state.clock.now());
            Period::month_of(stats::add_months(today, -1))
        }
        Some(m) => stats::parse_month(m).ok_or_else(|| {
            ApiError::bad_request("invalid_month", format!("{m:?} is not a YYYY-MM month"))
        })?,
    };
    let scope = scope(&caller, q.area.as_deref())?;
    let what = Export::MonthlyXlsx;
    let book = stats::export(&state, &caller, what, &scope, period, None).await?;
    tracing::info!(by = %caller.user.id, export = what.file_name(), "export");
    let name = format!(
        "monthly-{:04}-{:02}.xlsx",
        period.from.year(),
        u8::from(period.from.month())
    );
    Ok(file_response(&name, XLSX, book))
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An Excel workbook in the OpenAPI document: bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct XlsxBody(#[allow(dead_code)] Vec<u8>);
