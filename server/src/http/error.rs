//! The one HTTP error type: a status, a stable `code`, a message. 5xx are logged with their
//! cause and answered with a generic message, so internals never leak.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gridsync_core::protocol::DecodeError;

use crate::error::Error;
use crate::policy::Refusal;

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable, snake_case: programs match on it.
    pub(crate) code: String,
    /// For people, in the language `Accept-Language` prefers (zh-CN or English).
    pub(crate) message: String,
    /// In a Chinese answer: the English message, which may name a field or a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

/// An error answered as `{"code": "...", "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("gridsync_http_errors_total", "code" => self.code.to_string())
            .increment(1);
        let body = ErrorBody {
            code: self.code.into_owned(),
            message: self.message,
            detail: None,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            Error::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            Error::Invalid(m) => Self::bad_request("invalid_input", m),
            Error::Core(core) => core.into(),
            Error::CaseUnavailable(id) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "case_unavailable",
                format!("case {id} cannot be opened; an administrator has been told"),
            ),
            Error::Database(_) | Error::Config(_) | Error::Export(_) => Self::internal(&e),
        }
    }
}

impl From<gridsync_core::Error> for ApiError {
    fn from(e: gridsync_core::Error) -> Self {
        use gridsync_core::Error as C;
        let status = match &e {
            C::CaseNotFound(_) | C::ItemNotFound { .. } => StatusCode::NOT_FOUND,
            C::NotPermitted { .. } => StatusCode::FORBIDDEN,
            C::InvalidTransition { .. } => StatusCode::CONFLICT,
            C::DiskFull(_) | C::ReadOnly(_) | C::Storage(_) | C::StoreTooNew { .. } => {
                return Self::internal(&e);
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: Cow::Borrowed(e.code()),
            message: e.to_string(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(&e)
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        let status = match e {
            DecodeError::BodyTooLarge { .. } | DecodeError::DecodedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: Cow::Borrowed(e.code()),
            message: e.to_string(),
        }
    }
}

/// `Json<T>` whose rejections (malformed JSON, missing fields, wrong types, nesting deeper
/// than serde_json's 128 levels) answer in the API's own shape: 400 `invalid_json` with
/// serde's explanation, or 413 `body_too_large` past `HttpLimits::json_body_bytes`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    axum::Json<T>:
        axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is over the size limit",
                ))
            }
            Err(rejection) => Err(ApiError::bad_request("invalid_json", rejection.body_text())),
        }
    }
}

/// `Query<T>` whose rejections (a number out of range, `overdue=maybe`) answer 400
/// `invalid_query` in the API's own shape instead of axum's plain text. Every query struct
/// is `deny_unknown_fields`: an ignored, misspelt filter would widen the answer silently.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(ApiError::bad_request(
                "invalid_query",
                rejection.body_text(),
            )),
        }
    }
}

/// The policy's refusals, as HTTP answers.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match &r {
            Refusal::NotPermitted(_) | Refusal::PartNotPermitted(_) | Refusal::OutOfScope(_) => {
                StatusCode::FORBIDDEN
            }
            Refusal::Invalid { .. } => StatusCode::BAD_REQUEST,
            Refusal::NotFound(..) => StatusCode::NOT_FOUND,
            Refusal::Conflict(..) => StatusCode::CONFLICT,
            Refusal::Failed(_) => {
                let Refusal::Failed(e) = r else {
                    unreachable!()
                };
                return e.into();
            }
        };
        ApiError::new(status, r.code(), r.to_string())
    }
}
