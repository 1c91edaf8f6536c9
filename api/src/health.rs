//! `GET /health`: whether the service can take orders.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orderflow_domain::ports::OrderQuery;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the order store does not answer.
    #[schema(example = "ok")]
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness and readiness: answers 200 when the order store answers, 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let version = env!("CARGO_PKG_VERSION");
    match state.orders.list(&OrderQuery { limit: 1, ..OrderQuery::default() }).await {
        Ok(_) => (StatusCode::OK, Json(Health { status: "ok", version })),
        Err(error) => {
            tracing::warn!(error = %crate::problem::cause_chain(&error), "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "degraded", version }))
        }
    }
}
