//! Evidence bytes (issue 15): resumable upload (`HEAD` + `PATCH` with `Upload-Offset`, in
//! the manner of the IETF resumable-upload draft), download with `Range`, photo thumbnails.
//! Each handler parses, calls one function of [`crate::evidence`], answers.
//!
//! Who may call them: a device or console session whose user may read cases
//! (`Permission::ReadCases`) and whose scope sees the case, the case endpoints' own check;
//! outside it every answer is the same 404 `attachment_not_found` as for a case that does
//! not exist or does not name the hash.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;
use super::auth::AuthUser;
use super::state::AppState;
use crate::evidence::{ByteRange, Refused, Status};

/// The upload's offset (request and answer).
const UPLOAD_OFFSET: &str = "upload-offset";
/// The size the case's reference declares.
const UPLOAD_LENGTH: &str = "upload-length";
/// `?1` (a structured-field boolean) once the blob is stored whole and checked.
const UPLOAD_COMPLETE: &str = "upload-complete";
/// The body type a `PATCH` must declare.
const CHUNK_TYPE: &str = "application/offset+octet-stream";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cases/{id}/attachments/{sha256}",
            get(download)
                .head(status)
                // Chunks are streamed to the store; the domain bounds them (413 `too_large`).
                .patch(upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/cases/{id}/attachments/{sha256}/thumbnail",
            get(thumbnail),
        )
}

/// Binary bytes in the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct EvidenceBytes(#[allow(dead_code)] Vec<u8>);

/// Where an upload stands: HEAD.
///
/// Who may call it: a device or console user who may read cases, for a case in their
/// scope that names this sha256 in its attachments; otherwise 404.
#[utoipa::path(head, path = "/v1/cases/{id}/attachments/{sha256}", tag = "evidence",
    summary = "How many bytes of an attachment the center holds (resumable upload)",
    description = "Who may call it: a device or console session whose user may read cases, for a case in its scope whose attachments name `sha256`; anyone else gets 404 `attachment_not_found`, as for a case that does not exist.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id (UUID) or case number"), ("sha256" = String, Path, description = "The attachment's sha256, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "Upload state", headers(
            ("Upload-Offset" = u64, description = "Bytes the center holds"),
            ("Upload-Length" = u64, description = "The size the case's reference declares"),
            ("Upload-Complete" = String, description = "`?1` once stored whole and checked (absent before)"))),
        (status = 400, description = "Bad input", body = crate::http::error::ErrorBody),
        (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody),
        (status = 403, description = "The role may not read cases", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such attachment in the caller's scope (`attachment_not_found`)", body = crate::http::error::ErrorBody),
        (status = 422, description = "The bytes held did not hash to the name (`hash_mismatch`); discarded", body = crate::http::error::ErrorBody),
    ))]
pub(crate) async fn status(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, sha256)): Path<(String, String)>,
) -> Response {
    match state.evidence.status(&state, &caller, &id, &sha256).await {
        Ok(s) => (StatusCode::OK, upload_headers(s)).into_response(),
        Err(e) => refused(e),
    }
}

/// Continues an upload: PATCH.
///
/// Who may call it: a device or console user who may read cases, for a case in their
/// scope that names this sha256 in its attachments; otherwise 404.
#[utoipa::path(patch, path = "/v1/cases/{id}/attachments/{sha256}", tag = "evidence",
    summary = "Continue an attachment's upload at `Upload-Offset`",
    description = "Who may call it: a device or console session whose user may read cases, for a case in its scope whose attachments name `sha256`; anyone else gets 404 `attachment_not_found`. The body continues the blob at `Upload-Offset`; the chunk is durable once answered 204; a body cut off after 4 KiB keeps what arrived (`HEAD` says where to continue). When the last byte arrives the center checks the sha256 and only then answers `Upload-Complete: ?1`. Executables and archives are refused on the first chunk (415).",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Case id (UUID) or case number"),
        ("sha256" = String, Path, description = "The attachment's sha256, 64 lowercase hex digits"),
        ("Upload-Offset" = u64, Header, description = "Where this body starts: the offset HEAD reported"),
    ),
    request_body(content = EvidenceBytes, content_type = "application/offset+octet-stream", description = "The next bytes of the blob"),
    responses(
        (status = 204, description = "Chunk stored", headers(
            ("Upload-Offset" = u64, description = "Bytes the center holds now"),
            ("Upload-Length" = u64, description = "The declared size"),
            ("Upload-Complete" = String, description = "`?1` when this chunk made the blob whole and its hash matched"))),
        (status = 400, description = "Missing or bad `Upload-Offset` (`invalid_offset`), or the body broke off (`body_incomplete`)", body = crate::http::error::ErrorBody),
        (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody),
        (status = 403, description = "The role may not read cases", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such attachment in the caller's scope (`attachment_not_found`)", body = crate::http::error::ErrorBody),
        (status = 408, description = "The body arrived too slowly (`body_timeout`)", body = crate::http::error::ErrorBody),
        (status = 409, description = "`Upload-Offset` is not what the center holds (`offset_mismatch`; the answer's `Upload-Offset` header says what it holds)", body = crate::http::error::ErrorBody),
        (status = 413, description = "Past the declared size, the per-file or the per-case limit (`too_large`)", body = crate::http::error::ErrorBody),
        (status = 415, description = "Not `application/offset+octet-stream` (`invalid_content_type`), or an executable or archive (`unsupported_media`)", body = crate::http::error::ErrorBody),
        (status = 422, description = "The whole did not hash to the name (`hash_mismatch`); the upload was discarded", body = crate::http::error::ErrorBody),
        (status = 429, description = "The device's daily upload limit (`quota_exceeded`)", body = crate::http::error::ErrorBody),
    ))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, sha256)): Path<(String, String)>,
    request: Request,
) -> Response {
    let headers = request.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.eq_ignore_ascii_case(CHUNK_TYPE) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_content_type",
            format!("a chunk is sent as {CHUNK_TYPE}"),
        )
        .into_response();
    }
    let Some(offset) = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return ApiError::bad_request(
            "invalid_offset",
            "Upload-Offset: the offset HEAD reported, in decimal",
        )
        .into_response();
    };
    let body = request.into_body().into_data_stream();
    // Its own task: when the link drops, the connection (and this handler) ends at once,
    // but the append must still see the body break off and keep what arrived.
    let appended = tokio::spawn(async move {
        state
            .evidence
            .append(&state, &caller, &id, &sha256, offset, body)
            .await
    })
    .await;
    match appended {
        Ok(Ok(s)) => (StatusCode::NO_CONTENT, upload_headers(s)).into_response(),
        Ok(Err(e)) => refused(e),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// Downloads the original bytes: GET.
///
/// Who may call it: a device or console user who may read cases, for a case in their
/// scope that holds the blob whole; otherwise 404.
#[utoipa::path(get, path = "/v1/cases/{id}/attachments/{sha256}", tag = "evidence",
    summary = "An attachment's original bytes (streamed; `Range` honoured)",
    description = "Who may call it: a device or console session whose user may read cases, for a case in its scope whose attachments name `sha256` and whose bytes the center holds whole; anyone else, or before the upload completes, gets 404 `attachment_not_found`.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Case id (UUID) or case number"),
        ("sha256" = String, Path, description = "The attachment's sha256, 64 lowercase hex digits"),
        ("Range" = Option<String>, Header, description = "`bytes=a-b`, `bytes=a-` or `bytes=-n` (one range)"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the caller holds: 304 if it is this blob"),
    ),
    responses(
        (status = 200, description = "The whole blob; `Content-Type` is the type sniffed from its bytes, `ETag` its quoted sha256", content_type = "application/octet-stream", body = EvidenceBytes),
        (status = 206, description = "The asked range, with `Content-Range`", content_type = "application/octet-stream", body = EvidenceBytes),
        (status = 304, description = "`If-None-Match` names the ETag: the caller's copy is the blob (asked again each time: `Cache-Control: private, no-cache`)"),
        (status = 400, description = "Bad input", body = crate::http::error::ErrorBody),
        (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody),
        (status = 403, description = "The role may not read cases", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such attachment in the caller's scope, or not complete (`attachment_not_found`)", body = crate::http::error::ErrorBody),
        (status = 416, description = "The range is outside the blob (`range_not_satisfiable`, `Content-Range: bytes */size`)", body = crate::http::error::ErrorBody),
    ))]
pub(crate) async fn download(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let d = match state
        .evidence
        .download(&state, &caller, &id, &sha256, range)
        .await
    {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    let mut out = HeaderMap::new();
    let etag = format!("\"{sha256}\"");
    put(&mut out, header::ETAG, &etag);
    // Cached copies are the caller's own and asked about again each time: the answer
    // (304 or 404) follows the case's scope as it is now.
    put(&mut out, header::CACHE_CONTROL, "private, no-cache");
    if not_modified(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    put(&mut out, header::CONTENT_TYPE, &d.mime);
    put(&mut out, header::ACCEPT_RANGES, "bytes");
    // Evidence is opened deliberately, never rendered in place by a browser.
    put(&mut out, header::CONTENT_DISPOSITION, "attachment");
    let status = match &d.range {
        Some(r) => {
            put(
                &mut out,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{}", r.start, r.end - 1, d.size),
            );
            put(
                &mut out,
                header::CONTENT_LENGTH,
                &(r.end - r.start).to_string(),
            );
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            put(&mut out, header::CONTENT_LENGTH, &d.size.to_string());
            StatusCode::OK
        }
    };
    (status, out, Body::from_stream(d.body)).into_response()
}

/// A photo's thumbnail: GET.
///
/// Who may call it: as for the download; photos only.
#[utoipa::path(get, path = "/v1/cases/{id}/attachments/{sha256}/thumbnail", tag = "evidence",
    summary = "A photo attachment's thumbnail (JPEG, at most 320 px), made by the center",
    description = "Who may call it: a device or console session whose user may read cases, for a case in its scope whose attachments name `sha256` as a PHOTO held whole; anyone else, other kinds and incomplete blobs get 404.",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Case id (UUID) or case number"),
        ("sha256" = String, Path, description = "The attachment's sha256, 64 lowercase hex digits"),
    ),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/jpeg", body = EvidenceBytes),
        (status = 304, description = "`If-None-Match` names the thumbnail's ETag"),
        (status = 400, description = "Bad input", body = crate::http::error::ErrorBody),
        (status = 401, description = "No or bad token", body = crate::http::error::ErrorBody),
        (status = 403, description = "The role may not read cases", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such photo in the caller's scope, not complete (`attachment_not_found`), or one the center cannot decode (`thumbnail_unavailable`)", body = crate::http::error::ErrorBody),
    ))]
pub(crate) async fn thumbnail(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match state
        .evidence
        .thumbnail(&state, &caller, &id, &sha256)
        .await
    {
        Ok(jpeg) => {
            let mut out = HeaderMap::new();
            let etag = format!("\"{sha256}-thumb\"");
            put(&mut out, header::ETAG, &etag);
            put(&mut out, header::CACHE_CONTROL, "private, no-cache");
            if not_modified(&headers, &etag) {
                return (StatusCode::NOT_MODIFIED, out).into_response();
            }
            put(&mut out, header::CONTENT_TYPE, "image/jpeg");
            (StatusCode::OK, out, jpeg).into_response()
        }
        Err(e) => refused(e),
    }
}

/// Whether `If-None-Match` names `etag` (or `*`); weak tags compare as strong ones, as
/// RFC 9110 asks of `If-None-Match`.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

fn put(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn upload_headers(s: Status) -> HeaderMap {
    let mut out = HeaderMap::new();
    out.insert(UPLOAD_OFFSET, HeaderValue::from(s.offset));
    out.insert(UPLOAD_LENGTH, HeaderValue::from(s.length));
    if s.complete {
        out.insert(UPLOAD_COMPLETE, HeaderValue::from_static("?1"));
    }
    out
}

/// One range of `bytes=...`; anything else (several ranges, another unit, bad syntax) is
/// ignored and the whole blob sent, as RFC 9110 allows.
fn parse_range(v: &str) -> Option<ByteRange> {
    let spec = v.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => num(n).map(ByteRange::Suffix),
        (f, "") => num(f).map(|first| ByteRange::From { first, last: None }),
        (f, l) => {
            let (first, last) = (num(f)?, num(l)?);
            Some(ByteRange::From {
                first,
                last: Some(last),
            })
        }
    }
}

/// A refusal as an answer: a status, a stable code, and the upload's offset where the
/// client needs it to resume.
fn refused(e: Refused) -> Response {
    let message = e.to_string();
    let (status, code) = match &e {
        Refused::NotFound => (StatusCode::NOT_FOUND, "attachment_not_found"),
        Refused::OffsetMismatch {
            held,
            length,
            complete,
        } => {
            let headers = upload_headers(Status {
                offset: *held,
                length: *length,
                complete: *complete,
            });
            let err = ApiError::new(StatusCode::CONFLICT, "offset_mismatch", message);
            return (headers, err).into_response();
        }
        Refused::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        Refused::HashMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "hash_mismatch"),
        Refused::UnsupportedMedia(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media"),
        Refused::QuotaExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
        Refused::RangeNotSatisfiable { size } => {
            let mut headers = HeaderMap::new();
            put(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            let err = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                message,
            );
            return (headers, err).into_response();
        }
        Refused::BodyCut => (StatusCode::BAD_REQUEST, "body_incomplete"),
        Refused::NoThumbnail => (StatusCode::NOT_FOUND, "thumbnail_unavailable"),
        Refused::Policy(_) | Refused::Failed(_) | Refused::Store(_) => {
            return match e {
                Refused::Policy(r) => ApiError::from(r).into_response(),
                Refused::Failed(f) => ApiError::from(f).into_response(),
                other => {
                    tracing::error!(error = %other, "evidence store");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error; it has been logged",
                    )
                    .into_response()
                }
            };
        }
    };
    ApiError::new(status, code, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::{ByteRange, parse_range};

    #[test]
    fn one_byte_range_is_read_and_anything_else_ignored() {
        assert_eq!(
            parse_range("bytes=0-99"),
            Some(ByteRange::From {
                first: 0,
                last: Some(99)
            })
        );
        assert_eq!(
            parse_range("bytes=100-"),
            Some(ByteRange::From {
                first: 100,
                last: None
            })
        );
        assert_eq!(parse_range("bytes=-5"), Some(ByteRange::Suffix(5)));
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=-", "0-1"] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }
}
