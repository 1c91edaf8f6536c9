//! The saga on one machine: the state machine file run by the local engine, and its tasks run
//! in-process by the workers.

use std::collections::HashMap;
use std::sync::Arc;

use asl_engine::{StateMachine, TaskFailure, TaskHandler, TaskInvocation, TaskRegistry};
use async_trait::async_trait;
use orderflow_workers::{Saga, Task};
use serde_json::Value;

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
