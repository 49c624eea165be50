//! `GET /v1/warnings` (open warnings in the caller's scope), `GET /v1/events` (the live feed
//! as Server-Sent Events), `GET /v1/time-limits` and `PUT /v1/time-limits/{id}`.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::ApiError;
use super::auth::AuthUser;
use super::error::{ApiJson, ApiQuery};
use super::state::AppState;
use crate::center::limits::{self, TimeLimitRule};
use crate::center::warnings;
use crate::policy::{self, Permission};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/warnings", get(list))
        .route("/v1/events", get(events))
        .route("/v1/time-limits", get(limits))
        .route("/v1/time-limits/{id}", put(put_limits))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct WarningQuery {
    level: Option<String>,
    kind: Option<String>,
}

#[utoipa::path(get, path = "/v1/warnings", tag = "workflow", summary = "Open warnings in the caller's scope", security(("bearer" = [])), params(WarningQuery), responses((status = 200, body = Vec<crate::center::warnings::WarningRow>), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<WarningQuery>,
) -> Result<Json<Vec<warnings::WarningRow>>, ApiError> {
    policy::require(&caller, Permission::ReadWarnings)?;
    let items = warnings::open_in_scope(
        &state,
        &caller,
        &q.level.unwrap_or_default(),
        &q.kind.unwrap_or_default(),
    )
    .await?;
    Ok(Json(items))
}

/// The live feed: warnings raised, escalated and cleared, high-risk cases, automatic
/// supervision, and new cases (`case_new`: the center lists the case from now on), for the
/// cases in the subscriber's scope.
#[utoipa::path(get, path = "/v1/events", tag = "workflow", summary = "Live feed (Server-Sent Events) of warnings, high-risk alerts, supervision and new cases", security(("bearer" = [])), responses((status = 200, description = "text/event-stream of LiveEvent", content_type = "text/event-stream", body = crate::live::LiveEvent), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    policy::require(&caller, Permission::ReadWarnings)?;
    let scope = caller.org.scope_prefix.clone();
    let org = caller.org.id.clone();
    let stream = BroadcastStream::new(state.live.subscribe()).filter_map(move |item| {
        let e = item.ok()?;
        if !e.visible_to(scope.as_deref(), &org) {
            return None;
        }
        let data = serde_json::to_string(&e).ok()?;
        Some(Ok(Event::default().event(e.event.clone()).data(data)))
    });
    // A first comment at once: it flushes the headers, so a subscriber knows the feed is live.
    let hello = tokio_stream::once(Ok(Event::default().comment("subscribed")));
    let mut closing = state.closing.subscribe();
    let end = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    let stream = futures_util::StreamExt::take_until(hello.chain(stream), end);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[utoipa::path(get, path = "/v1/time-limits", tag = "workflow", summary = "Time-limit rules per tier and category", security(("bearer" = [])), responses((status = 200, body = Vec<crate::center::limits::TimeLimitRule>), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody)))]
pub(crate) async fn limits(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Vec<TimeLimitRule>>, ApiError> {
    policy::require(&caller, Permission::ReadTimeLimits)?;
    Ok(Json(limits::limit_rules(&state.db).await?))
}

#[utoipa::path(put, path = "/v1/time-limits/{id}", tag = "workflow", summary = "Set a time-limit rule (inside the caller's scope; audited)", security(("bearer" = [])), params(("id" = String, Path, description = "Rule id")), request_body = crate::center::limits::TimeLimitRule, responses((status = 200, body = crate::center::limits::TimeLimitRule), (status = 400, description = "Bad input (`invalid_input`, naming the field)", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted (`not_permitted`), or the rule's area, or the area of the rule it replaces, outside the caller's scope (`out_of_scope`)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn put_limits(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    ApiJson(mut rule): ApiJson<TimeLimitRule>,
) -> Result<Json<TimeLimitRule>, ApiError> {
    policy::require(&caller, Permission::ManageTimeLimits)?;
    rule.id = id;
    limits::set_limit_rule(&state, &caller, &rule).await?;
    tracing::info!(rule = %rule.id, by = %caller.user.id, "time-limit rule set");
    Ok(Json(rule))
}
