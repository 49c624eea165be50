//! `GET /v1/audit` (query the audit log, newest first) and `GET /v1/audit/verify` (walk the
//! hash chain), for the roles `crate::policy` lets read it (supervisors, administrators).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiQuery;
use super::state::AppState;
use crate::audit::{self, Filter, Record, VerifyReport};
use crate::county_time::Stamp;
use crate::policy::{self, Permission};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit", get(list))
        .route("/v1/audit/verify", get(verify))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Case id.
    case: Option<String>,
    /// User id.
    user: Option<String>,
    /// Action, e.g. `SIGN_IN`, `DEVICE_REVOKED`, `CASE_ACTION`.
    action: Option<String>,
    /// Inclusive (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Stamp>,
    /// Exclusive (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Stamp>,
    /// Page size (default 100, at most 1000).
    limit: Option<i64>,
    /// `seq` of the last entry of the previous page.
    before: Option<i64>,
}

/// An entry of the chain. Its hash covers the instant in epoch milliseconds (`at_ms`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditEntry {
    seq: i64,
    at: Stamp,
    /// `at` as the hash covers it.
    at_ms: i64,
    user_id: String,
    role: String,
    org_id: String,
    action: String,
    case_id: Option<String>,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    prev_hash: String,
    hash: String,
}

impl AuditEntry {
    fn of(r: Record, time: &crate::county_time::CountyTime) -> AuditEntry {
        AuditEntry {
            seq: r.seq,
            at: time.stamp(r.at),
            at_ms: r.at,
            user_id: r.user_id,
            role: r.role,
            org_id: r.org_id,
            action: r.action,
            case_id: r.case_id,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    next: Option<i64>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", summary = "Audit log entries, newest first", description = "Who may call it: supervisors and administrators (`ReadAudit`; anyone else 403 `not_permitted`). Scope: entries whose actor belongs to the caller's organisation or below it (a township reads the township's; the top of the tree reads everything, the operator's entries and refused sign-ins of unknown usernames among them). Filters combine: a case, a user (the actor), an action (`SIGN_IN`, `DEVICE_REVOKED`, …) and a time range; paged by `seq`.", security(("bearer" = [])), params(AuditQuery), responses((status = 200, body = AuditPage), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = Filter {
        case_id: q.case.filter(|s| !s.is_empty()),
        user_id: q.user.filter(|s| !s.is_empty()),
        action: q.action.filter(|s| !s.is_empty()),
        from: q.from.map(Stamp::millis),
        to: q.to.map(Stamp::millis),
        before: q.before,
        limit: Some(limit),
        orgs: None,
    };
    let items =
        crate::admin::audit_log::entries(&state.db, crate::admin::Actor::Staff(&caller), filter)
            .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.seq))
        .flatten();
    let items = items
        .into_iter()
        .map(|r| AuditEntry::of(r, &state.county_time))
        .collect();
    Ok(Json(AuditPage { items, next }))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", summary = "Verify the audit log's hash chain", security(("bearer" = [])), responses((status = 200, body = crate::audit::VerifyReport), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<VerifyReport>, ApiError> {
    policy::require(&caller, Permission::ReadAudit)?;
    let report = audit::verify(&state.db).await?;
    if !report.ok {
        tracing::warn!(first_bad = ?report.first_bad, "audit chain does not verify");
    }
    Ok(Json(report))
}
