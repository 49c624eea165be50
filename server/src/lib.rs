//! gridsync-server: the county comprehensive governance center (综治中心) server.
//!
//! Phones merge their case documents into it over `POST /v1/sync`; center staff work the
//! cases through its HTTP API. This first cut serves health endpoints; the sync endpoint,
//! storage and accounts follow (see ARCHITECTURE.md).
#![forbid(unsafe_code)]

use axum::{Json, Router, routing::get};

/// The HTTP application.
pub fn app() -> Router {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocols": gridsync_core::protocol::SUPPORTED_PROTOCOLS,
    }))
}

/// Serves `app()` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app())
        .with_graceful_shutdown(shutdown)
        .await
}
