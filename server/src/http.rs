//! The HTTP surface: one router per resource, merged here.

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod cases;
pub(crate) mod error;
pub(crate) mod health;
pub(crate) mod openapi;
pub(crate) mod rules;
pub(crate) mod stats;
pub(crate) mod sync;
pub(crate) mod warnings;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

pub use error::ApiError;

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(auth::router())
        .merge(cases::router())
        .merge(audit::router())
        .merge(sync::router())
        .merge(stats::router())
        .merge(rules::router())
        .merge(warnings::router())
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Roles that work cases at the center (the case, warning and live-feed endpoints).
pub(crate) fn is_staff(role: gridsync_core::workflow::Role) -> bool {
    use gridsync_core::workflow::Role;
    matches!(
        role,
        Role::Dispatcher | Role::DepartmentHandler | Role::Supervisor | Role::VillageMediator
    )
}
