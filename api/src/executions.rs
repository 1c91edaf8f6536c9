//! `GET /api/v0/orders/{id}/execution`: the order's workflow execution and its event history,
//! in Step Functions' vocabulary: the console's twin.

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BoxError;
use serde_json::Value;

use crate::AppState;
use crate::extract::{Caller, PathParam};
use crate::orders::load;
use crate::problem::{ApiError, Problem};

/// Reads workflow executions: the local engine, or Step Functions' `GetExecutionHistory`.
#[async_trait]
pub trait ExecutionHistory: Send + Sync + std::fmt::Debug {
    /// The execution of `order`'s workflow with its events, as JSON; `None` before it starts.
    async fn execution(&self, order: &OrderId) -> Result<Option<Value>, BoxError>;
}

/// Get the order's workflow execution: status, and every event (`TaskStateEntered`,
/// `TaskFailed`, ...) with its timestamps, input and output.
#[utoipa::path(
    get,
    path = "/api/v0/orders/{id}/execution",
    tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The execution and its events", body = Object),
        (status = 404, description = "No such order, or its workflow has not started", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn get_execution(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let order = load(&state, &caller, &id).await?;
    match state.executions.execution(&order.id).await.map_err(ApiError::Unavailable)? {
        Some(execution) => Ok(Json(execution)),
        None => Err(ApiError::NotFound("execution")),
    }
}
