//! The center's case API (first cut): list and search cases in the caller's scope, read one
//! case with its derived state and timeline, and take workflow steps on it
//! (`POST /v1/cases/{id}/actions`). Every step is appended to the case document through
//! `sync-core`, so it reaches the phones at their next sync.
//!
//! Personal data (ID numbers, phones, addresses) is masked in every answer here, except
//! `GET /v1/cases/{id}?unmasked=true` for the roles that need it, which is audited; so is
//! every workflow step (`crate::audit`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gridsync_core::case::CaseId;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::AuthUser;
use super::case_view::{CaseView, StateView};
use super::error::{ApiJson, ApiQuery};
use super::state::AppState;
use crate::policy::{self, Permission};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", get(list).post(intake))
        .route("/v1/cases/{id}", get(detail))
        .route("/v1/cases/{id}/actions", post(act))
        .route("/v1/cases/{id}/suggestion", post(confirm_suggestion))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    risk: Option<String>,
    text: Option<String>,
    /// Page size (default 50, at most 500).
    limit: Option<i64>,
    /// `updated_pos` of the last row of the previous page.
    before: Option<i64>,
    /// Area-code prefix (within the caller's scope).
    area: Option<String>,
    /// Organisation the case is dispatched to or handled by.
    org: Option<String>,
    /// Only cases past a running deadline.
    overdue: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Page {
    /// Rows of the queue; `suggestion` is the dispatch a rule suggests, for callers who may
    /// dispatch, on cases waiting for one (SUBMITTED, ACCEPTED).
    items: Vec<crate::center::suggest::QueueRow>,
    /// Pass as `before` for the next page; absent on the last page.
    next: Option<i64>,
}

#[utoipa::path(get, path = "/v1/cases", tag = "cases", summary = "Cases in the caller's scope, newest change first, with suggested dispatches for dispatchers", security(("bearer" = [])), params(ListQuery), responses((status = 200, body = Page), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    policy::require(&caller, Permission::ReadCases)?;
    let filter = crate::center::cases::CaseFilter {
        status: q.status.unwrap_or_default(),
        category: q.category.unwrap_or_default(),
        risk: q.risk.unwrap_or_default(),
        text: q.text.unwrap_or_default(),
        limit: q.limit.unwrap_or(50),
        before: q.before,
        area: q.area.unwrap_or_default(),
        org: q.org.unwrap_or_default(),
        overdue: q.overdue.unwrap_or(false),
    };
    let (items, next) = crate::center::suggest::queue(&state, &caller, &filter).await?;
    Ok(Json(Page { items, next }))
}

/// A case as the center shows it: fields (personal data masked), derived state, timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CaseDetail {
    id: String,
    /// The case's fields.
    case: CaseView,
    /// What the workflow derives from its log.
    state: StateView,
    /// The steps the caller may take now (the fold and the policy table); a client shows
    /// these buttons and posts the schema each names.
    allowed_actions: Vec<AllowedAction>,
    /// The dispatch a rule suggests (建议分派), for a caller who may dispatch, while the case
    /// waits for a dispatch (SUBMITTED, ACCEPTED); confirm it with
    /// `POST /v1/cases/{id}/suggestion`.
    suggestion: Option<crate::center::suggest::Suggestion>,
}

/// A step the caller may take now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AllowedAction {
    /// The action kind (`POST /v1/cases/{id}/actions` `kind`).
    kind: String,
    label_zh: String,
    label_en: String,
    /// A JSON reference to the request's schema in `/v1/openapi.json` (the component
    /// `Step_` + the kind).
    schema: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DetailQuery {
    /// Show the parties' ID numbers, phones and addresses (and the case address) in full.
    #[serde(default)]
    unmasked: bool,
}

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", summary = "One case: fields (masked unless `unmasked=true` for roles that need it, audited), derived state", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number (`330182-20261205-000001`)"), ("unmasked" = Option<bool>, Query, description = "Full personal data (audited)")), responses((status = 200, body = CaseDetail), (status = 404, description = "No such case in scope", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> Result<Json<CaseDetail>, ApiError> {
    policy::require(&caller, Permission::ReadCases)?;
    let (id, doc) = crate::center::cases::find_in_scope(&state, &caller, &id).await?;
    let full = if q.unmasked {
        Some(crate::center::cases::reveal(&state, &caller, id, &doc).await?)
    } else {
        None
    };
    let out = view(&state, &caller, id, &doc, full).await?;
    Ok(Json(out))
}

/// The case as `caller` sees it: personal data masked unless `unmasked` holds the fields
/// [`crate::center::cases::reveal`] gave them.
async fn view(
    state: &AppState,
    caller: &crate::caller::Caller,
    id: CaseId,
    doc: &gridsync_core::case::CaseDoc,
    unmasked: Option<gridsync_core::case::Case>,
) -> Result<CaseDetail, ApiError> {
    let full = doc.case();
    let state_now =
        gridsync_core::workflow::fold(&full, &doc.events(), &state.limits, state.clock.now());
    let allowed_actions = crate::center::steps::allowed(caller, &full, &state_now)
        .into_iter()
        .map(|kind| AllowedAction {
            kind: kind.as_code().to_owned(),
            label_zh: kind.label_zh().to_owned(),
            label_en: kind.label_en().to_owned(),
            schema: format!(
                "#/components/schemas/{}",
                crate::center::steps::schema_name(kind)
            ),
        })
        .collect();
    let suggestion = crate::center::suggest::for_case(state, caller, &full, &state_now).await?;
    let case = match unmasked {
        Some(case) => case,
        None => {
            let mut case = full;
            case.parties = case
                .parties
                .iter()
                .map(gridsync_core::case::Party::masked)
                .collect();
            case.address = gridsync_core::case::mask_address(&case.address);
            case
        }
    };
    Ok(CaseDetail {
        id: id.to_string(),
        case: CaseView::of(&case, &state.county_time),
        state: StateView::of(&state_now, &state.county_time),
        allowed_actions,
        suggestion,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ActionBody {
    kind: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ActionDone {
    event_id: String,
    case: CaseDetail,
}

/// Takes a workflow step (`crate::center::cases::take_step` checks it). `ACCEPT` takes no
/// `case_no`: the center assigns the next `{county6}-{yyyymmdd}-{seq}`. `DISPATCH` names
/// registered organisations within the caller's reach by `to[].id`; their names come from
/// the registry.
#[utoipa::path(post, path = "/v1/cases/{id}/actions", tag = "cases", summary = "Take a workflow step (ACCEPT numbers the case)", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number (`330182-20261205-000001`)")), request_body = crate::center::steps::Step, responses((status = 200, body = ActionDone), (status = 404, description = "No such case in scope", body = crate::http::error::ErrorBody), (status = 409, description = "Not valid in the case's state (`invalid_transition`)", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input: an unknown kind or a malformed payload (`invalid_action`, naming the field), `case_no` on ACCEPT, an unknown DISPATCH target", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or a DISPATCH target outside the caller's reach (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn act(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<(StatusCode, Json<ActionDone>), ApiError> {
    policy::require(&caller, Permission::TakeSteps)?;
    let (id, event_id, doc) =
        crate::center::cases::take_step(&state, &caller, &id, &body.kind, body.payload).await?;
    tracing::info!(case = %id, kind = %body.kind, by = %caller.user.id, "workflow step");
    Ok((
        StatusCode::OK,
        Json(ActionDone {
            event_id,
            case: view(&state, &caller, id, &doc, None).await?,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rule_id": "wages-labour"}))]
pub(crate) struct ConfirmBody {
    /// The rule of the suggestion shown (`suggestion.rule_id`): if the rules changed since,
    /// the answer is 409 `suggestion_changed` and nothing is taken.
    rule_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SuggestionConfirmed {
    /// The events taken: ACCEPT (if the case was SUBMITTED), then DISPATCH.
    event_ids: Vec<String>,
    case: CaseDetail,
}

/// Confirms the dispatch a rule suggests (建议分派) in one step: ACCEPT (numbering the case)
/// if it is SUBMITTED, and DISPATCH to the rule's target, in one transaction, each audited
/// like a step taken through `/actions` and checked like a dispatcher's own DISPATCH (the
/// target within the caller's reach, its registered name). Who: roles that take steps and
/// may author ACCEPT and DISPATCH (dispatchers); scope: cases in the caller's scope (404
/// otherwise).
#[utoipa::path(post, path = "/v1/cases/{id}/suggestion", tag = "cases", summary = "Confirm the suggested dispatch: accept (if submitted) and dispatch in one step", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number")), request_body = ConfirmBody, responses((status = 200, body = SuggestionConfirmed), (status = 404, description = "No such case in scope", body = crate::http::error::ErrorBody), (status = 409, description = "Not waiting for a dispatch (`invalid_transition`), no rule matches (`no_suggestion`), or another rule matches now (`suggestion_changed`)", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or the rule's target is outside the caller's reach (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn confirm_suggestion(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Json<SuggestionConfirmed>, ApiError> {
    let (id, event_ids, doc) =
        crate::center::suggest::confirm(&state, &caller, &id, &body.rule_id).await?;
    tracing::info!(case = %id, rule = %body.rule_id, by = %caller.user.id, "suggested dispatch confirmed");
    Ok(Json(SuggestionConfirmed {
        event_ids,
        case: view(&state, &caller, id, &doc, None).await?,
    }))
}

/// One-stop intake at the center (一站式受理): a walk-in or hotline case recorded by staff
/// becomes the same kind of case document as one from a phone, submitted at once, and goes
/// through the same auto-dispatch and high-risk alerts.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", summary = "One-stop intake: record a walk-in or hotline case at the center", security(("bearer" = [])), request_body = crate::center::intake::IntakeBody, responses((status = 201, body = CaseDetail), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn intake(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<crate::center::intake::IntakeBody>,
) -> Result<(StatusCode, Json<CaseDetail>), ApiError> {
    policy::require(&caller, Permission::Intake)?;
    let new = body.into();
    let (id, doc) = crate::center::intake::intake_by(&state, &caller, &new).await?;
    tracing::info!(case = %id, by = %caller.user.id, "case recorded at the center");
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &caller, id, &doc, None).await?),
    ))
}
