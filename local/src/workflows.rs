//! The local engine as the workflow service: it starts one execution per order, named after the
//! order, answers for the executions' histories, and reports on its own health.

use asl_engine::Engine;
use async_trait::async_trait;
use orderflow_api::ExecutionHistory;
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
    async fn execution(&self, order: &OrderId) -> Result<Option<Value>, BoxError> {
        let description = match self.engine.describe(order.as_str()).await {
            Ok(description) => description,
            Err(asl_engine::EngineError::UnknownExecution(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let events = self.engine.history(order.as_str()).await?;
        Ok(Some(json!({"execution": description, "events": events})))
    }
}
