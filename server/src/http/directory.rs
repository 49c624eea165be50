//! `GET /v1/directory` (the organisations a staff member works with: locations, dispatch
//! targets, filters) and `POST /v1/cases/suggestion` (the dispatch a rule would suggest for
//! an intake draft, before it is saved). The rules are `crate::center::directory`'s and
//! `crate::center::suggest`'s.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::ApiError;
use super::auth::AuthUser;
use super::error::ApiJson;
use super::state::AppState;
use crate::center::directory::DirectoryEntry;
use crate::center::suggest::{Draft, Suggestion};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/directory", get(directory))
        // A static segment beside `/v1/cases/{id}`: no case id is `suggestion`.
        .route("/v1/cases/suggestion", post(suggest))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Directory {
    /// Depth first, parent before child.
    items: Vec<DirectoryEntry>,
}

#[utoipa::path(get, path = "/v1/directory", tag = "cases", summary = "The organisations the caller works with: centers and villages of the caller's scope, handling organisations in reach", description = "Who may call it: roles with `ReadCases` or `Intake` (403 `not_permitted` otherwise: administrators use `GET /v1/orgs`). Scope: the caller's organisation. Lists the centers and villages inside the caller's area scope (`in_scope`; a department's is the nearest center's above it), every handling organisation (department, mediation room, village) within the reach of the caller's center (`dispatchable` where a DISPATCH by the caller passes the reach check, the same check `POST /v1/cases/{id}/actions` applies), and the centers those belong to. A township's staff never see another township's villages or departments.", security(("bearer" = [])), responses((status = 200, body = Directory), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`", body = crate::http::error::ErrorBody)))]
pub(crate) async fn directory(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Directory>, ApiError> {
    let items = crate::center::directory::directory(&state, &caller).await?;
    Ok(Json(Directory { items }))
}

#[utoipa::path(post, path = "/v1/cases/suggestion", tag = "cases", summary = "The dispatch a rule would suggest for an intake draft (before saving)", description = "Who may call it: roles with `Intake` (403 `not_permitted`). Scope: the draft's area must lie inside the caller's organisation's scope (403 `out_of_scope`). Matches the dispatch rules exactly as the queue's suggestions do (first match in the rules' order; the target within the caller's reach). `automatic: true`: the case will be dispatched there as it is saved.", security(("bearer" = [])), request_body = Draft, responses((status = 200, body = Suggestion), (status = 400, description = "`invalid_input` naming the field (`area_code`, `category`, `risk_level`)", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "`not_permitted`, `out_of_scope`", body = crate::http::error::ErrorBody), (status = 404, description = "`no_suggestion`: no rule matches", body = crate::http::error::ErrorBody)))]
pub(crate) async fn suggest(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(draft): ApiJson<Draft>,
) -> Result<Json<Suggestion>, ApiError> {
    Ok(Json(
        crate::center::suggest::for_draft(&state, &caller, &draft).await?,
    ))
}
