//! The saga on one machine: the state machine file run by the local engine, its tasks run
//! in-process by the workers, and the outbox dispatcher that starts one execution per order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use asl_engine::{Engine, StateMachine, TaskFailure, TaskHandler, TaskInvocation, TaskRegistry};
use async_trait::async_trait;
use orderflow_api::ExecutionHistory;
use orderflow_api::health::Probe;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, WorkflowOutbox, WorkflowStarter};
use orderflow_workers::{Saga, Task};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::faults::{Faults, Timing};

/// The saga's definition, built in so the binary runs from any directory. On AWS, the CDK
/// deploys this very file.
pub const ORDER_STATE_MACHINE: &str = include_str!("../../state-machines/order.asl.json");

/// The name the order machine is registered under in the engine.
pub const MACHINE: &str = "order";

/// The resource a task runs as locally: `${PriceOrderFunctionArn}` becomes `local:PriceOrder`.
fn local_resource(task: Task) -> String {
    format!("local:{}", task.name())
}

/// The local substitutions of the machine's `${...FunctionArn}` placeholders: the CDK's
/// `definitionSubstitutions` map them to Lambda ARNs on AWS.
pub fn substitutions() -> HashMap<String, String> {
    Task::ALL.into_iter().map(|task| (format!("{}FunctionArn", task.name()), local_resource(task))).collect()
}

/// Loads the order machine with the local substitutions.
pub fn order_machine() -> anyhow::Result<StateMachine> {
    Ok(StateMachine::from_json(ORDER_STATE_MACHINE, &substitutions())?)
}

/// Runs the saga's tasks in-process, with injected faults when configured.
#[derive(Debug)]
pub struct SagaTasks {
    saga: Arc<Saga>,
    faults: Faults,
}

impl SagaTasks {
    /// A registry mapping every task's local resource to the workers.
    pub fn registry(saga: Arc<Saga>, faults: Faults) -> TaskRegistry {
        let handler: Arc<dyn TaskHandler> = Arc::new(Self { saga, faults });
        Task::ALL
            .into_iter()
            .fold(TaskRegistry::new(), |registry, task| registry.with(local_resource(task), Arc::clone(&handler)))
    }
}

#[async_trait]
impl TaskHandler for SagaTasks {
    async fn invoke(&self, invocation: TaskInvocation) -> Result<Value, TaskFailure> {
        let task =
            invocation.resource.strip_prefix("local:").and_then(Task::from_name).ok_or_else(|| {
                TaskFailure::new("States.TaskFailed", format!("no worker runs {}", invocation.resource))
            })?;
        let context = &invocation.context;
        let fault = self.faults.draw(&context.execution_name, &context.state_name, context.retry_count);
        let injected = |fault: &crate::faults::Fault| {
            tracing::debug!(state = %context.state_name, error = %fault.error, timing = ?fault.timing, "injecting a fault");
            TaskFailure::new(fault.error.clone(), format!("injected fault ({:?} the task ran)", fault.timing))
        };
        if let Some(fault) = fault.filter(|f| f.timing == Timing::Before) {
            return Err(injected(fault));
        }
        let result =
            self.saga.run(task, invocation.input).await.map_err(|error| TaskFailure::new(error.name(), error.cause()));
        match fault {
            Some(fault) if fault.timing == Timing::After => Err(injected(fault)),
            _ => result,
        }
    }
}

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
        self.engine.start_execution(MACHINE, order.as_str(), json!({"orderId": order.as_str()})).await?;
        Ok(())
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

/// How many outbox entries are started per round.
const DISPATCH_BATCH: usize = 256;

/// Starts the workflow of every order in the outbox, as orders are placed and after a restart,
/// until `stop` is cancelled. Starting is idempotent (executions are named after their order),
/// so an entry started but not yet marked is harmlessly started again.
pub async fn dispatch_outbox(
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        let started = dispatch_once(outbox.as_ref(), starter.as_ref()).await;
        if started == DISPATCH_BATCH {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            // A safety net: a wake-up can be missed across a failure, never an order.
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One round: starts up to a batch of pending workflows, concurrently, and marks those started.
async fn dispatch_once(outbox: &dyn WorkflowOutbox, starter: &dyn WorkflowStarter) -> usize {
    let pending = match outbox.pending_starts(DISPATCH_BATCH).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(error = %orderflow_api::problem::cause_chain(&error), "cannot read the workflow outbox");
            return 0;
        }
    };
    let starts = pending.iter().map(|entry| async move {
        match starter.start(&entry.order).await {
            Ok(()) => Some(entry.entry),
            Err(error) => {
                tracing::warn!(order_id = %entry.order, error = %error, "cannot start the order's workflow; will retry");
                None
            }
        }
    });
    let started: Vec<i64> = futures::future::join_all(starts).await.into_iter().flatten().collect();
    if let Err(error) = outbox.mark_started(&started).await {
        tracing::warn!(error = %orderflow_api::problem::cause_chain(&error), "cannot mark workflows started; will start them again");
    }
    pending.len()
}
