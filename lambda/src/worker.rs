//! A saga task under `lambda_runtime`: one task per function, named by its `TASK` setting.
//!
//! One binary serves every task (one zip to build and ship), and each function runs the one task
//! its configuration names, checked at cold start. Dispatching on the function's name instead
//! would tie behaviour to a deployment's naming, and find a typo only at the first invocation.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent};
use orderflow_workers::{Saga, Task, TaskError};
use serde_json::Value;
use tracing::Instrument;

/// One task of the saga, as a function.
#[derive(Debug, Clone)]
pub struct TaskFunction {
    pub saga: Arc<Saga>,
    pub task: Task,
}

impl TaskFunction {
    /// Runs the task on the state's parameters. A failure is a [`Diagnostic`] whose
    /// `error_type` is the task error's stable name, which the state machine's `Retry` and
    /// `Catch` match, and whose `error_message` is its cause chain: what Step Functions shows as
    /// the error and the cause.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
        // Executions are named after their order: the order id names both in every log line.
        let order = event.payload.get("orderId").and_then(Value::as_str).unwrap_or_default().to_owned();
        let span = tracing::info_span!(
            "invocation",
            task = self.task.name(),
            order_id = %order,
            execution = %order,
            request_id = %event.context.request_id
        );
        self.saga.run(self.task, event.payload).instrument(span).await.map_err(|error| diagnostic(&error))
    }
}

/// The diagnostic Lambda reports for a failed task.
pub fn diagnostic(error: &TaskError) -> Diagnostic {
    Diagnostic { error_type: error.name().to_owned(), error_message: error.cause() }
}
