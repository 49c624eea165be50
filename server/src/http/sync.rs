//! `POST /v1/sync`: one CBOR exchange carries the phone's outbox up and the center's news
//! down (DESIGN §5).

use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use gridsync_core::protocol::{CONTENT_ENCODING, CONTENT_TYPE, DecodeLimits, SyncRequest};
use http_body_util::BodyExt;
use tracing::Instrument;

use super::ApiError;
use super::auth::AuthUser;
use super::budget::Reservation;
use super::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    // The body is read with our own limit below, to answer 413 with a JSON code.
    Router::new().route("/v1/sync", post(sync).layer(DefaultBodyLimit::disable()))
}

/// A CBOR body in the OpenAPI document: bytes (a `Vec<u8>` would read as an array of
/// integers there).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct CborBody(#[allow(dead_code)] Vec<u8>);

#[utoipa::path(post, path = "/v1/sync", tag = "sync", summary = "One sync exchange (CBOR, zstd content-encoding)", security(("bearer" = [])), request_body(content = CborBody, content_type = "application/cbor", description = "SyncRequest, CBOR, optionally zstd-compressed"), responses((status = 200, description = "SyncResponse, CBOR, zstd", content_type = "application/cbor", body = CborBody), (status = 413, description = "Body too large", body = crate::http::error::ErrorBody), (status = 400, description = "Bad input", body = crate::http::error::ErrorBody), (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody), (status = 403, description = "Not permitted", body = crate::http::error::ErrorBody), (status = 408, description = "The body arrived too slowly (`body_timeout`)", body = crate::http::error::ErrorBody), (status = 503, description = "Too many sync bodies in flight (`busy`, with Retry-After)", body = crate::http::error::ErrorBody)))]
pub(crate) async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    // Who is asking, from the headers alone (the token names the device, which must be live):
    // a body from nobody is never read, so strangers cannot make the server buffer.
    let caller = match AuthUser::from_headers(&headers, &axum::http::Method::POST, &state).await {
        Ok(AuthUser(caller)) => caller,
        Err(e) => return Ok(unread(body, e.into_response())),
    };
    let limit = state.limits_http.sync_body_bytes;
    // The bytes this body may hold in memory, taken before reading: past the total in flight
    // the phone is told to come back, and nothing is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let upfront = declared.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(limit));
    let in_flight = state.limits_http.sync_bodies_in_flight;
    let Some(mut reservation) = state.sync_bodies.reserve(upfront, in_flight) else {
        return Ok(unread(body, busy()));
    };
    // Over the limit, the body is drained (not kept) before answering 413: answering
    // mid-upload makes phones see a reset connection instead of the error code.
    let bytes = match read_body(body, limit, &mut reservation, in_flight).await {
        Ok(bytes) => bytes,
        Err(BodyError::Busy) => return Ok(busy()),
        Err(BodyError::Api(e)) => return Err(e),
    };
    let limits = DecodeLimits {
        max_body_bytes: limit,
        ..DecodeLimits::default()
    };
    let request = SyncRequest::from_body(&bytes, &limits)?;
    if request.device_id != caller.device_id {
        return Err(ApiError::forbidden(
            "device_mismatch",
            "the request names another device than the token",
        ));
    }
    let span = tracing::info_span!("sync", device = %caller.device_id, user = %caller.user.id);
    let (response, stats) = crate::sync::sync(&state, &state.ingest, &caller, &request)
        .instrument(span.clone())
        .await?;
    let body = response.to_body();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            pushed_cases = stats.pushed_cases,
            new_changes = stats.new_changes,
            rejected = stats.rejected,
            pulled_changes = stats.pulled_changes,
            bytes_in = bytes.len(),
            bytes_out = body.len(),
            more = response.more,
            ms = elapsed.as_millis() as u64,
            "sync"
        )
    });
    metrics::counter!("gridsync_syncs_total").increment(1);
    metrics::counter!("gridsync_changes_ingested_total").increment(stats.new_changes as u64);
    metrics::counter!("gridsync_changes_pulled_total").increment(stats.pulled_changes as u64);
    metrics::counter!("gridsync_cases_rejected_total").increment(stats.rejected as u64);
    metrics::counter!("gridsync_sync_bytes_in_total").increment(bytes.len() as u64);
    metrics::counter!("gridsync_sync_bytes_out_total").increment(body.len() as u64);
    metrics::histogram!("gridsync_sync_seconds").record(elapsed.as_secs_f64());
    Ok((
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CONTENT_ENCODING, CONTENT_ENCODING),
        ],
        body,
    )
        .into_response())
}

/// Reads up to `limit` bytes, growing `reservation` as bytes arrive beyond what it holds (a
/// body sent without Content-Length). A larger body is drained (up to 4 × the limit, then the
/// connection is given up) and answered 413 `body_too_large`.
async fn read_body(
    mut body: Body,
    limit: usize,
    reservation: &mut Reservation,
    in_flight: usize,
) -> Result<Bytes, BodyError> {
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("body_incomplete", "the request body was cut off")
        })?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= limit {
                if !reservation.grow_to(total, in_flight) {
                    return Err(BodyError::Busy);
                }
                buf.extend_from_slice(&data);
            } else if total > limit.saturating_mul(4) {
                break;
            }
        }
    }
    if total > limit {
        return Err(BodyError::Api(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("sync bodies are limited to {limit} bytes"),
        )));
    }
    Ok(Bytes::from(buf))
}

/// Bytes of an unread body thrown away after an early answer (see [`unread`]).
const DISCARD_BYTES: usize = 64 << 10;

/// An answer given without reading the body (401, 503). The body is read and thrown away in
/// the background, at most [`DISCARD_BYTES`] (a phone whose token expired sent a small
/// one: it then reads the answer instead of a reset connection); a larger one is cut off.
/// Nothing is kept, and `Connection: close` keeps the client from reusing the connection.
fn unread(body: Body, mut response: Response) -> Response {
    tokio::spawn(async move {
        let mut body = body;
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DISCARD_BYTES {
                break;
            }
        }
    });
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

enum BodyError {
    /// The bodies in flight are at their limit.
    Busy,
    Api(ApiError),
}

impl From<ApiError> for BodyError {
    fn from(e: ApiError) -> Self {
        BodyError::Api(e)
    }
}

/// 503 `busy` with `Retry-After`: too many sync bodies are being read at once.
fn busy() -> Response {
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "the center is reading many syncs at once; try again shortly",
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(BUSY_RETRY_AFTER_SECS),
    );
    response
}

/// Seconds a phone is told to wait when the center is busy.
const BUSY_RETRY_AFTER_SECS: u64 = 2;
