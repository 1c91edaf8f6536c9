//! `GET /health`: whether the service can take and process orders.
//!
//! A load balancer takes an instance out of rotation on any non-2xx answer, so a degraded
//! instance answers `503` (with the same JSON body, naming the component that is not well);
//! the body says which part is degraded, never why: the reason goes to the logs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderName};
use orderflow_domain::ports::OrderQuery;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// A part of the service that `/health` asks about besides the order store, such as the
/// workflow engine. Asking must be cheap: a load balancer asks every few seconds.
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// The component's name in the health document (`engine`).
    fn name(&self) -> &'static str;

    /// `None` when the component is well; otherwise why not, for the logs.
    fn problem(&self) -> Option<String>;
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a component is not well.
    #[schema(example = "ok")]
    pub status: &'static str,
    pub version: &'static str,
    /// Each component (`orderStore`, `engine`) and its status: `ok` or `degraded`.
    #[schema(example = json!({"orderStore": "ok", "engine": "ok"}))]
    pub components: BTreeMap<&'static str, &'static str>,
}

/// Liveness and readiness: `200` when the order store answers and every component is well,
/// `503` with `status: degraded` naming the component otherwise.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Every component is well", body = Health, content_type = "application/health+json"),
        (status = 503, description = "A component is degraded: take this instance out of rotation", body = Health,
            content_type = "application/health+json"),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, [(HeaderName, &'static str); 1], Json<Health>) {
    let mut components = BTreeMap::new();
    let store = match state.orders.list(&OrderQuery { limit: 1, ..OrderQuery::default() }).await {
        Ok(_) => "ok",
        Err(error) => {
            tracing::warn!(component = "orderStore", error = %orderflow_domain::CauseChain(&error), "health check failed");
            "degraded"
        }
    };
    components.insert("orderStore", store);
    for probe in &state.probes {
        let status = match probe.problem() {
            None => "ok",
            Some(problem) => {
                tracing::warn!(component = probe.name(), problem = %problem, "health check failed");
                "degraded"
            }
        };
        components.insert(probe.name(), status);
    }
    let healthy = components.values().all(|status| *status == "ok");
    let (code, status) = if healthy { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "degraded") };
    // A status report, not an error: its own media type keeps the problem layer off a `503`.
    (
        code,
        [(header::CONTENT_TYPE, crate::problem::HEALTH_JSON)],
        Json(Health { status, version: env!("CARGO_PKG_VERSION"), components }),
    )
}
