//! `GET /api/v0/orders/{id}/execution`: the order's workflow execution and its event history,
//! in Step Functions' vocabulary: the console's twin.

use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BoxError;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::extract::PathParam;
use crate::orders::load;
use crate::problem::{ApiError, Problem};

/// Reads workflow executions: the local engine, or Step Functions' `DescribeExecution` and
/// `GetExecutionHistory`, each mapped into the API's own view.
#[async_trait]
pub trait ExecutionHistory: Send + Sync + std::fmt::Debug {
    /// The execution of `order`'s workflow with its events; `None` before it starts.
    async fn execution(&self, order: &OrderId) -> Result<Option<Execution>, BoxError>;

    /// Where an operator traces `order`'s execution in the workflow service's own console: the
    /// Step Functions console on AWS, the local console here. `None` when there is none.
    fn trace_link(&self, _order: &OrderId) -> Option<String> {
        None
    }
}

/// An order's workflow execution and its history, in Step Functions' vocabulary: the API owns
/// this shape, and each workflow service maps what it records into it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Execution {
    pub execution: ExecutionDescription,
    /// Every event, oldest first.
    pub events: Vec<ExecutionEvent>,
}

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
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
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start_date: OffsetDateTime,
    /// When it stopped; `null` while running.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub stop_date: Option<OffsetDateTime>,
    /// The state it is in, while running.
    #[schema(required = true)]
    pub current_state: Option<String>,
}

/// One event of the history, in Step Functions' vocabulary. Members that do not apply to the
/// event's type are left out.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEvent {
    /// Position in the history, from 1.
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: OffsetDateTime,
    /// What happened: `ExecutionStarted`, `TaskStateEntered`, `TaskScheduled`, `TaskSucceeded`,
    /// `TaskFailed`, `ChoiceStateExited`, `ExecutionSucceeded`, ...
    #[serde(rename = "type")]
    #[schema(rename = "type", example = "TaskStateEntered")]
    pub event_type: String,
    /// The state concerned, for state and task events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_name: Option<String>,
    /// The task's resource, for task events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The input, for `...Entered`, `ExecutionStarted` and `TaskScheduled` (the task's
    /// parameters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The output, for `...Exited`, `TaskSucceeded` and `ExecutionSucceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The error name, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's cause, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The `Map` iteration the event belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
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
) -> Result<Json<Execution>, ApiError> {
    if matches!(caller, Caller::Customer(_)) {
        return Err(ApiError::NotFound("route"));
    }
    let order = load(&state, &caller, &id).await?;
    match state.executions.execution(&order.id).await.map_err(ApiError::Unavailable)? {
        Some(execution) => Ok(Json(execution)),
        None => Err(ApiError::NotFound("execution")),
    }
}
