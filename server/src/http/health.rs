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
        .route("/.well-known/gridsync-signing-keys", get(signing_keys))
}

/// `GET /.well-known/gridsync-signing-keys`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SigningKeys {
    /// Newest first; the one `active` signs now.
    keys: Vec<crate::signing::PublishedKey>,
}

#[utoipa::path(get, path = "/.well-known/gridsync-signing-keys", tag = "operations", summary = "The center's Ed25519 signing keys (issue 17)", description = "Anyone may call it (no account): public keys, published so that whoever holds an evidence bundle checks its center key against them (`gridsync verify --center-key`). The `active` key signs the center's changes and bundles now; older ones still verify what they signed.", responses((status = 200, body = SigningKeys)))]
pub(crate) async fn signing_keys(
    State(state): State<AppState>,
) -> Result<Json<SigningKeys>, super::ApiError> {
    Ok(Json(SigningKeys {
        keys: crate::signing::published(&state.db).await?,
    }))
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
