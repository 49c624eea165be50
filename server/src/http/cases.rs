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
        .route("/v1/cases/{id}/bundle", get(bundle))
        .route("/v1/cases/{id}/actions", post(act))
        .route("/v1/cases/{id}/suggestion", post(confirm_suggestion))
        .route("/v1/cases/{id}/notes", post(add_note))
        .route("/v1/cases/{id}/corrections", post(correct))
        .route(
            "/v1/cases/{id}/installments/{item}/paid",
            post(installment_paid),
        )
        .route("/v1/cases/{id}/conflicts/{field}", post(resolve_conflict))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
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
    /// How the case reached the system (来源): `GRID_VISIT`, `WALK_IN`, `HOTLINE`,
    /// `POLICE`, `COURT_REFERRAL`, `PETITION`, `ONLINE`, `OTHER` (400 `invalid_query`
    /// otherwise).
    source: Option<String>,
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
        source: q.source.unwrap_or_default(),
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
    /// Fields with concurrent edits (two phones offline, a phone and the center): every
    /// value with who wrote it and when. A dispatcher settles one with
    /// `POST /v1/cases/{id}/conflicts/{field}`.
    conflicts: Vec<crate::center::casework::ConflictView>,
    /// Back-to-back sessions (背靠背调解), per party: internal mediation material, listed by
    /// the party they were held with (note ids, oldest first).
    back_to_back: Vec<PartyNotes>,
    /// Whether the notes' texts are withheld (`case.notes[].text` empty): they record what
    /// people said, personal data shown only in an unmasked (audited) read.
    notes_masked: bool,
    /// Display names of the staff the record names (`state.timeline[].by_user`,
    /// `case.notes[].author`, `state.co_feedback[].by_user`, `state.assignee`), by user id.
    people: std::collections::BTreeMap<String, String>,
}

/// The back-to-back sessions held with one party.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PartyNotes {
    party_id: String,
    note_ids: Vec<String>,
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
#[serde(deny_unknown_fields)]
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

/// The evidence bundle's media type (docs/bundle.md).
pub(crate) const BUNDLE_TYPE: &str = "application/vnd.gridsync.bundle";

/// An evidence bundle in the OpenAPI document: bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct BundleBody(#[allow(dead_code)] Vec<u8>);

#[utoipa::path(get, path = "/v1/cases/{id}/bundle", tag = "cases", summary = "The case's evidence bundle: its changes with their signatures, the keys and whose they are, the center's key, the case's audit entries; every record signed by the center (docs/bundle.md; `gridsync verify` checks it offline)", description = "Who may call it: staff whose role may export and see personal data unmasked, since the changes hold it in full (dispatchers and department handlers; supervisors 403 `personal_data_forbidden`, others 403 `not_permitted`), for a case in their scope as the case view sees it (404 `case_not_found` otherwise, the same answer as for no case). Audited as `EXPORT` (`export: evidence_bundle`) before it is made.", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number")), responses((status = 200, description = "The bundle", content_type = "application/vnd.gridsync.bundle", body = BundleBody), (status = 404, description = "No such case in scope", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn bundle(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let (id, bytes) = crate::center::bundle::for_caller(&state, &caller, &id).await?;
    tracing::info!(by = %caller.user.id, case = %id, "evidence bundle exported");
    Ok((
        StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, BUNDLE_TYPE.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"case-{id}.gsbundle\""),
            ),
        ],
        bytes,
    )
        .into_response())
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
    let people = crate::center::cases::people(state, &full, &state_now).await?;
    let notes_masked = unmasked.is_none();
    let conflicts = crate::center::casework::conflicts(state, doc, !notes_masked).await?;
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
            for note in &mut case.notes {
                note.text.clear();
            }
            case
        }
    };
    let mut back_to_back: Vec<PartyNotes> = Vec::new();
    for note in case
        .notes
        .iter()
        .filter(|n| n.kind == gridsync_core::case::NoteKind::MediationBackToBack)
        .filter(|n| !n.party.is_empty())
    {
        match back_to_back.iter_mut().find(|p| p.party_id == note.party) {
            Some(p) => p.note_ids.push(note.id.clone()),
            None => back_to_back.push(PartyNotes {
                party_id: note.party.clone(),
                note_ids: vec![note.id.clone()],
            }),
        }
    }
    let mut case_view = CaseView::of(&case, &state.county_time);
    let stored = state
        .evidence
        .stored(state, caller, id, &case.attachments)
        .await?;
    for a in &mut case_view.attachments {
        a.stored = stored.contains(&a.sha256.to_ascii_lowercase());
    }
    Ok(CaseDetail {
        id: id.to_string(),
        case: case_view,
        state: StateView::of(&state_now, &state.county_time),
        allowed_actions,
        suggestion,
        conflicts,
        back_to_back,
        notes_masked,
        people,
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NoteAdded {
    note_id: String,
    case: CaseDetail,
}

/// Appends a work note (调解笔录, 走访记录, 背靠背调解 held with one party, ...) by the caller.
/// Who: village mediators, dispatchers, department handlers (`WriteNotes`), for a case they
/// work: a dispatcher any case in scope, a handler a case handled by or assigned to their
/// organisation, a mediator a case of their village. Audited (`CASE_NOTE_ADDED`: ids, kind).
#[utoipa::path(post, path = "/v1/cases/{id}/notes", tag = "cases", summary = "Append a work note (mediation record, visit record, back-to-back session with a party)", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number")), request_body = crate::center::casework::NewNote, responses((status = 201, body = NoteAdded), (status = 404, description = "No such case in scope, or no such party", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or a case the caller does not work (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn add_note(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<crate::center::casework::NewNote>,
) -> Result<(StatusCode, Json<NoteAdded>), ApiError> {
    let (id, note_id, doc) = crate::center::casework::add_note(&state, &caller, &id, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(NoteAdded {
            note_id,
            case: view(&state, &caller, id, &doc, None).await?,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Corrected {
    /// The names of the fields written (`parties.{id}` for a party corrected or added).
    fields: Vec<String>,
    case: CaseDetail,
}

/// Corrects a case: category, risk level and flags (研判 re-grading; red undoes a
/// resolve-on-the-spot), difficulty, amounts, people involved, title, summary, address,
/// location; parties corrected (by id) or added. Who: `CorrectCases` (village mediators,
/// dispatchers, department handlers) for a case they work, and only the parts their role
/// may write from a phone too (`may_edit`: a handler corrects parties, not fields).
/// Audited (`CASE_CORRECTED`: field names and party ids, never values).
#[utoipa::path(post, path = "/v1/cases/{id}/corrections", tag = "cases", summary = "Correct a case's fields and parties (研判 re-grading among them)", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number")), request_body = crate::center::casework::Correction, responses((status = 200, body = Corrected), (status = 404, description = "No such case in scope, or no such party", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`, also for a part the role may not write), or a case the caller does not work (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn correct(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<crate::center::casework::Correction>,
) -> Result<Json<Corrected>, ApiError> {
    let (id, fields, doc) = crate::center::casework::correct(&state, &caller, &id, &body).await?;
    Ok(Json(Corrected {
        fields,
        case: view(&state, &caller, id, &doc, None).await?,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaidBody {
    /// When it was paid (RFC 3339, any offset); default: now. Not in the future.
    #[serde(default)]
    paid_at: Option<crate::county_time::Stamp>,
}

/// Marks an installment of the case's agreement paid (分期履行). Who: `RecordPayments`
/// (village mediators, dispatchers, department handlers) for a case they work; grid workers
/// and mediators on a phone (`FieldClient::mark_installment_paid`). The body may be empty.
/// Audited (`INSTALLMENT_PAID`).
#[utoipa::path(post, path = "/v1/cases/{id}/installments/{item}/paid", tag = "cases", summary = "Mark an agreement installment paid", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number"), ("item" = String, Path, description = "The installment's id (`state.agreement.installments[].id`)")), request_body(content = Option<PaidBody>, description = "Optional: `paid_at`"), responses((status = 200, body = CaseDetail), (status = 404, description = "No such case in scope, or no such installment", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or a case the caller does not work (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn installment_paid(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, item)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<CaseDetail>, ApiError> {
    // An empty body is "paid now"; anything else must be the JSON object.
    let paid_at = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<PaidBody>(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
            .paid_at
    };
    let (id, doc) =
        crate::center::casework::mark_paid(&state, &caller, &id, &item, paid_at).await?;
    Ok(Json(view(&state, &caller, id, &doc, None).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChosenValue {
    /// The value chosen, as `conflicts[].values[].value` shows it (a code, digits, text,
    /// `lat,lon`); checked as a correction of the field would be.
    #[schema(example = "LABOUR_WAGES")]
    value: String,
}

/// Settles a conflict: writes the chosen value over every concurrent one, in one document
/// change, so the conflict is gone on every phone after its next sync. Who: dispatchers
/// (`ResolveConflicts`), for any case in their scope. Audited (`CONFLICT_RESOLVED`: the
/// field, how many values stood).
#[utoipa::path(post, path = "/v1/cases/{id}/conflicts/{field}", tag = "cases", summary = "Settle a field's conflicting edits by choosing its value", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (UUID) or case number"), ("field" = String, Path, description = "As `conflicts[].field`: `category`, `parties.{party id}.phone`, ...")), request_body = ChosenValue, responses((status = 200, body = CaseDetail), (status = 404, description = "No such case in scope, or no conflict on that field (`conflict_not_found`)", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn resolve_conflict(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, field)): Path<(String, String)>,
    ApiJson(body): ApiJson<ChosenValue>,
) -> Result<Json<CaseDetail>, ApiError> {
    let (id, doc) =
        crate::center::casework::resolve_conflict(&state, &caller, &id, &field, &body.value)
            .await?;
    Ok(Json(view(&state, &caller, id, &doc, None).await?))
}
