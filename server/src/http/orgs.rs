//! `GET /v1/orgs` (the organisation tree an administrator manages), `POST /v1/orgs`
//! (create), `POST /v1/orgs/{id}/rename`, `POST /v1/orgs/{id}/move`. The rules are
//! `crate::admin::orgs`'.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiJson;
use super::state::AppState;
use crate::admin::{self, Actor};
use crate::db::accounts::Org;
use crate::policy::Refusal;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orgs", get(list).post(create))
        .route("/v1/orgs/{id}/rename", post(rename))
        .route("/v1/orgs/{id}/move", post(move_org))
}

/// An organisation of the tree.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrgView {
    /// e.g. `330182101-center`.
    id: String,
    /// Absent at the top of the tree.
    parent_id: Option<String>,
    name: String,
    /// `CENTER`, `DEPARTMENT`, `VILLAGE` or `MEDIATION_ROOM`.
    kind: String,
    /// `VILLAGE`, `TOWNSHIP` or `COUNTY`.
    tier: String,
    /// 12-digit statistical division code.
    area_code: String,
    /// Cases whose area code starts with it are in the organisation's scope; absent:
    /// only cases dispatched to it (departments, mediation rooms).
    scope_prefix: Option<String>,
    /// Depth in the whole tree (0 at the top); in a listing, depth first.
    depth: usize,
}

impl OrgView {
    fn of(org: Org, depth: usize) -> OrgView {
        OrgView {
            id: org.id,
            parent_id: org.parent_id,
            name: org.name,
            kind: org.kind,
            tier: org.tier.as_code().to_owned(),
            area_code: org.area_code,
            scope_prefix: org.scope_prefix,
            depth,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrgList {
    /// The caller's subtree, depth first.
    orgs: Vec<OrgView>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrgRequest {
    /// 1 to 64 of letters, digits, `.`, `_`, `-`; generated (`org-…`) when absent.
    #[serde(default)]
    id: Option<String>,
    /// An organisation (a center) the caller administers.
    parent_id: String,
    /// 1 to 100 characters.
    name: String,
    /// `CENTER`, `DEPARTMENT`, `VILLAGE` or `MEDIATION_ROOM`.
    kind: String,
    /// `VILLAGE`, `TOWNSHIP` or `COUNTY`, not above the parent's. Default: `VILLAGE` for a
    /// village, else the parent's tier.
    #[serde(default)]
    tier: Option<String>,
    /// 12 digits, inside the parent's area.
    area_code: String,
    /// A prefix of `area_code`, inside the parent's area. Default: a village's area code; a
    /// center's first 6 / 9 / 12 digits by tier; none for departments and mediation rooms.
    #[serde(default)]
    scope_prefix: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameOrgRequest {
    /// 1 to 100 characters.
    name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveOrgRequest {
    /// The new parent: a center the caller administers, not the organisation itself or
    /// below it.
    parent_id: String,
    /// A new area code (default: kept).
    #[serde(default)]
    area_code: Option<String>,
    /// A new scope prefix (default: kept).
    #[serde(default)]
    scope_prefix: Option<String>,
}

fn parse_tier(tier: Option<String>) -> Result<Option<gridsync_core::workflow::Tier>, Refusal> {
    tier.map(|t| {
        t.trim()
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| Refusal::invalid("invalid_tier", "tier", "VILLAGE, TOWNSHIP or COUNTY"))
    })
    .transpose()
}

#[utoipa::path(get, path = "/v1/orgs", tag = "administration", summary = "The organisation tree the caller administers", description = "Who may call it: administrators (`ManageOrgs`; anyone else 403 `not_permitted`). Lists the caller's organisation and everything below it, depth first; a county administrator sees the whole county.", security(("bearer" = [])), responses((status = 200, body = OrgList), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<OrgList>, ApiError> {
    let orgs = admin::orgs::list(&state.db, Actor::Staff(&caller)).await?;
    Ok(Json(OrgList {
        orgs: orgs.into_iter().map(|(o, d)| OrgView::of(o, d)).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/orgs", tag = "administration", summary = "Create an organisation", description = "Who may call it: administrators (`ManageOrgs`), under a center in their subtree (403 `out_of_scope` otherwise). The area code and scope prefix must lie inside the parent's area (400 `area_outside_parent`), so a new organisation never sees more than its parent. Audited as `ORG_CREATED`.", security(("bearer" = [])), request_body = CreateOrgRequest, responses((status = 201, body = OrgView), (status = 400, description = "`invalid_id`, `invalid_name`, `invalid_kind`, `invalid_tier`, `invalid_area_code`, `invalid_scope_prefix`, `invalid_parent`, `unknown_org`, `area_outside_parent`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 409, description = "`org_exists`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(req): ApiJson<CreateOrgRequest>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let now = state.clock.now().0;
    let new = admin::orgs::NewOrg {
        id: req.id,
        parent_id: Some(req.parent_id),
        name: req.name,
        kind: req.kind,
        tier: parse_tier(req.tier)?,
        area_code: req.area_code,
        scope_prefix: req.scope_prefix,
    };
    let (org, depth) = admin::orgs::create(&state.db, Actor::Staff(&caller), new, now).await?;
    Ok((StatusCode::CREATED, Json(OrgView::of(org, depth))))
}

#[utoipa::path(post, path = "/v1/orgs/{id}/rename", tag = "administration", summary = "Rename an organisation", description = "Who may call it: administrators (`ManageOrgs`), for an organisation in their subtree (their own included; 403 `out_of_scope` otherwise). Audited as `ORG_RENAMED`.", security(("bearer" = [])), params(("id" = String, Path, description = "Organisation id")), request_body = RenameOrgRequest, responses((status = 200, body = OrgView), (status = 400, description = "`invalid_name`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`org_not_found`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn rename(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RenameOrgRequest>,
) -> Result<Json<OrgView>, ApiError> {
    let now = state.clock.now().0;
    let (org, depth) =
        admin::orgs::rename(&state.db, Actor::Staff(&caller), &id, &req.name, now).await?;
    Ok(Json(OrgView::of(org, depth)))
}

#[utoipa::path(post, path = "/v1/orgs/{id}/move", tag = "administration", summary = "Move (re-parent, re-scope) an organisation", description = "Who may call it: administrators (`ManageOrgs`), for an organisation strictly below their own, to a center in their subtree (403 `out_of_scope` otherwise); never under itself or a descendant (400 `invalid_parent`). The new area code and scope prefix must lie inside the new parent's area, and everything below must still fit (400 `children_outside_area`). Every device of a user in the moved subtree rescans its scope at its next sync. Audited as `ORG_MOVED`.", security(("bearer" = [])), params(("id" = String, Path, description = "Organisation id")), request_body = MoveOrgRequest, responses((status = 200, body = OrgView), (status = 400, description = "`invalid_parent`, `unknown_org`, `invalid_tier`, `invalid_area_code`, `invalid_scope_prefix`, `area_outside_parent`, `children_outside_area`", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`org_not_found`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn move_org(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MoveOrgRequest>,
) -> Result<Json<OrgView>, ApiError> {
    let now = state.clock.now().0;
    let to = admin::orgs::MoveOrg {
        parent_id: req.parent_id,
        area_code: req.area_code,
        scope_prefix: req.scope_prefix,
    };
    let (org, depth) = admin::orgs::move_to(&state.db, Actor::Staff(&caller), &id, to, now).await?;
    Ok(Json(OrgView::of(org, depth)))
}
