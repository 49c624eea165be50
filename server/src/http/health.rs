//! `/healthz` (the process answers), `/readyz` (the database answers), `/metrics`
//! (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "The process answers", responses((status = 200, description = "Version and protocols", body = Object)))]
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocols": gridsync_core::protocol::SUPPORTED_PROTOCOLS,
    }))
}

#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "The database answers", responses((status = 200, description = "Ready", body = Object), (status = 503, description = "Database unreachable", body = Object)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.db.ping().await {
        (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "database unreachable" })),
        )
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // The quarantine as it stands (gauges read at scrape time: they survive restarts).
    if let Ok((cases, parked)) = crate::db::cases::quarantine_counts(&state.db).await {
        metrics::gauge!("gridsync_cases_unavailable").set(cases as f64);
        metrics::gauge!("gridsync_changes_parked").set(parked as f64);
    }
    let body = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
