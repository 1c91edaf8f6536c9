//! The local engine as the workflow service: it starts one execution per order, named after the
//! order, answers for the executions' histories, and reports on its own health.

use asl_engine::Engine;
use async_trait::async_trait;
use orderflow_api::ExecutionHistory;
use orderflow_api::executions::{Execution, ExecutionDescription, ExecutionEvent, ExecutionStatus};
use orderflow_api::health::Probe;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, WorkflowStarter};
use serde_json::{Value, json};

use crate::saga::MACHINE;

/// Starts orders' executions in the local engine, named after the order.
#[derive(Debug, Clone)]
pub struct EngineWorkflows {
    engine: Engine,
}

impl EngineWorkflows {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

#[async_trait]
impl WorkflowStarter for EngineWorkflows {
    async fn start(&self, order: &OrderId) -> Result<(), BoxError> {
        match self.engine.start_execution(MACHINE, order.as_str(), json!({"orderId": order.as_str()})).await {
            // Named after the order with the order as its only input, an execution that exists is
            // this order's: one that ran already is as started as one running now.
            Ok(_) | Err(asl_engine::EngineError::ExecutionAlreadyExists(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// `/health` asks whether executions are moving: a store write being retried, or an execution
/// stopped by its store, makes the engine degraded.
impl Probe for EngineWorkflows {
    fn name(&self) -> &'static str {
        "engine"
    }

    fn problem(&self) -> Option<String> {
        let health = self.engine.health();
        (!health.is_healthy()).then(|| {
            format!(
                "{} store writes retrying (last error: {}); {} executions stopped by their store",
                health.store_writes_retrying,
                health.store_error.as_deref().unwrap_or("none"),
                health.stalled_executions.len()
            )
        })
    }
}

#[async_trait]
impl ExecutionHistory for EngineWorkflows {
    async fn execution(&self, order: &OrderId) -> Result<Option<Execution>, BoxError> {
        let description = match self.engine.describe(order.as_str()).await {
            Ok(description) => description,
            Err(asl_engine::EngineError::UnknownExecution(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let events = self.engine.history(order.as_str()).await?;
        Ok(Some(Execution {
            execution: execution_view(description),
            events: events.into_iter().map(event_view).collect(),
        }))
    }

    fn trace_link(&self, order: &OrderId) -> Option<String> {
        Some(format!("/_local/console/orders/{order}"))
    }
}

fn execution_view(execution: asl_engine::ExecutionDescription) -> ExecutionDescription {
    ExecutionDescription {
        name: execution.name,
        execution_id: execution.execution_id,
        machine: execution.machine,
        status: match execution.status {
            asl_engine::ExecutionStatus::Running => ExecutionStatus::Running,
            asl_engine::ExecutionStatus::Succeeded => ExecutionStatus::Succeeded,
            asl_engine::ExecutionStatus::Failed => ExecutionStatus::Failed,
            asl_engine::ExecutionStatus::TimedOut => ExecutionStatus::TimedOut,
            asl_engine::ExecutionStatus::Aborted => ExecutionStatus::Aborted,
        },
        input: Value::clone(&execution.input),
        output: execution.output.as_deref().cloned(),
        error: execution.error,
        cause: execution.cause,
        start_date: execution.start_date,
        stop_date: execution.stop_date,
        current_state: execution.current_state,
    }
}

fn event_view(event: asl_engine::HistoryEvent) -> ExecutionEvent {
    ExecutionEvent {
        id: event.id,
        timestamp: event.timestamp,
        event_type: event.event_type.as_str().to_owned(),
        state_name: event.state_name.as_deref().map(str::to_owned),
        resource: event.resource,
        input: event.input.as_deref().cloned(),
        output: event.output.as_deref().cloned(),
        error: event.error,
        cause: event.cause,
        map_index: event.map_index,
    }
}
