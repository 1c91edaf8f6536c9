//! `GET /api/v0/orders/{id}/execution`: the order's workflow execution and its event history,
//! in Step Functions' vocabulary: the console's twin.

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BoxError;
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::extract::PathParam;
use crate::orders::load;
use crate::problem::{ApiError, Problem};

/// Reads workflow executions: the local engine, or Step Functions' `GetExecutionHistory`.
#[async_trait]
pub trait ExecutionHistory: Send + Sync + std::fmt::Debug {
    /// The execution of `order`'s workflow with its events, as JSON; `None` before it starts.
    async fn execution(&self, order: &OrderId) -> Result<Option<Value>, BoxError>;
}

/// An order's workflow execution and its history: what Step Functions' `DescribeExecution` and
/// `GetExecutionHistory` say, and what the local engine records in the same vocabulary. This is
/// the shape [`ExecutionHistory::execution`] returns; it describes the document, the handler
/// passes the JSON through.
#[derive(Debug, ToSchema)]
pub struct Execution {
    pub execution: ExecutionDescription,
    /// Every event, oldest first.
    pub events: Vec<ExecutionEvent>,
}

/// Where an execution stands.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still going (or interrupted, waiting to be resumed).
    Running,
    Succeeded,
    /// Ended with an error: something a person must look at.
    Failed,
    TimedOut,
    Aborted,
}

/// The execution itself.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ExecutionDescription {
    /// The execution's name: the order id.
    #[schema(example = "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB")]
    pub name: String,
    /// Its ARN (or the local engine's ARN-like id).
    pub execution_id: String,
    /// The state machine it runs.
    #[schema(example = "order")]
    pub machine: String,
    pub status: ExecutionStatus,
    /// Its input.
    pub input: Value,
    /// Its output, once succeeded; `null` before.
    #[schema(required = true)]
    pub output: Option<Value>,
    /// The error name, once failed, timed out or aborted.
    #[schema(required = true)]
    pub error: Option<String>,
    /// The error's cause.
    #[schema(required = true)]
    pub cause: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub start_date: String,
    /// When it stopped; `null` while running.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub stop_date: Option<String>,
    /// The state it is in, while running.
    #[schema(required = true)]
    pub current_state: Option<String>,
}

/// One event of the history, in Step Functions' vocabulary.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ExecutionEvent {
    /// Position in the history, from 1.
    pub id: u64,
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: String,
    /// What happened: `ExecutionStarted`, `TaskStateEntered`, `TaskScheduled`, `TaskSucceeded`,
    /// `TaskFailed`, `ChoiceStateExited`, `ExecutionSucceeded`, ...
    #[schema(rename = "type", example = "TaskStateEntered")]
    pub event_type: String,
    /// The state concerned, for state and task events.
    pub state_name: Option<String>,
    /// The task's resource, for task events.
    pub resource: Option<String>,
    /// The input, for `...Entered`, `ExecutionStarted` and `TaskScheduled` (the task's
    /// parameters).
    pub input: Option<Value>,
    /// The output, for `...Exited`, `TaskSucceeded` and `ExecutionSucceeded`.
    pub output: Option<Value>,
    /// The error name, for failures.
    pub error: Option<String>,
    /// The error's cause, for failures.
    pub cause: Option<String>,
    /// The `Map` iteration the event belongs to.
    pub map_index: Option<u64>,
}

/// Get the order's workflow execution: status, and every event (`TaskStateEntered`,
/// `TaskFailed`, ...) with its timestamps, input and output.
///
/// An operator's view: it holds partners' error text and the workflow's internals, so a
/// customer (a caller named by the gateway's header) gets `404`, as for a route that is not
/// there.
#[utoipa::path(
    get,
    path = "/api/v0/orders/{id}/execution",
    tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The execution and its events", body = Execution),
        (status = 404, description = "No such order, its workflow has not started, or the caller is a customer", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn get_execution(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    if matches!(caller, Caller::Customer(_)) {
        return Err(ApiError::NotFound("route"));
    }
    let order = load(&state, &caller, &id).await?;
    match state.executions.execution(&order.id).await.map_err(ApiError::Unavailable)? {
        Some(execution) => Ok(Json(execution)),
        None => Err(ApiError::NotFound("execution")),
    }
}
