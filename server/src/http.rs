//! The HTTP surface: one router per resource, merged here.

pub(crate) mod audit;
pub(crate) mod auth;
pub mod budget;
pub(crate) mod case_view;
pub(crate) mod cases;
pub(crate) mod conn;
pub(crate) mod console;
pub(crate) mod devices;
pub(crate) mod directory; // intake: GET /v1/directory, POST /v1/cases/suggestion
pub(crate) mod error;
pub(crate) mod evidence;
pub(crate) mod health;
pub mod language;
pub(crate) mod openapi;
pub(crate) mod orgs;
pub(crate) mod public; // the citizens' pages: /public/..., /v1/public/...
pub mod public_limits;
pub(crate) mod quarantine;
pub(crate) mod rules;
pub mod session;
pub mod state;
pub(crate) mod stats;
pub mod sync;
pub(crate) mod tasks;
pub mod throttle;
pub(crate) mod users;
pub(crate) mod warnings;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

pub use error::ApiError;

/// Headers on every answer. An API, not a site: nothing may be framed, sniffed, embedded,
/// cached or referred (the console's pages set a Content-Security-Policy of their own). HSTS is the TLS terminator's to send (this server speaks plain HTTP
/// behind it).
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

/// The whole application.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(auth::router())
        .merge(cases::router())
        .merge(evidence::router())
        .merge(tasks::router())
        .merge(audit::router())
        .merge(sync::router())
        .merge(stats::router())
        .merge(rules::router())
        .merge(warnings::router())
        .merge(quarantine::router())
        .merge(users::router())
        .merge(orgs::router())
        .merge(devices::router())
        .merge(directory::router()) // intake
        .merge(console::router())
        .merge(public::router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Every body extractor (JSON) on every route; `/v1/sync` reads its own, larger one.
        .layer(DefaultBodyLimit::max(state.limits_http.json_body_bytes))
        // Every body must keep arriving (slowloris): 408 `body_timeout` otherwise.
        .layer(axum::middleware::from_fn_with_state(
            state.limits_http.timeouts,
            conn::body_deadline,
        ))
        // Error messages in the caller's language (codes unchanged).
        .layer(axum::middleware::from_fn(language::localize));
    for (name, value) in SECURITY_HEADERS {
        let (name, value) = (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        // The console's pages bring their own policy (`console::CONSOLE_CSP`) and caching
        // (revalidated by ETag: no personal data in them); every other header is the same
        // for all.
        router = router.layer(
            if name == axum::http::header::CONTENT_SECURITY_POLICY
                || name == axum::http::header::CACHE_CONTROL
            {
                SetResponseHeaderLayer::if_not_present(name, value)
            } else {
                SetResponseHeaderLayer::overriding(name, value)
            },
        );
    }
    // The request span names the method and the path only: query strings carry searches
    // (a party's name, phone or ID number) and must not reach the logs.
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
        tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
    });
    router.layer(trace).with_state(state)
}

/// An unknown path answers like every other error, `{"code", "message"}`, not an empty 404.
async fn no_route() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the route does not take this method",
    )
}
