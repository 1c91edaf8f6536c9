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
use orderflow_domain::ports::{BoxError, PendingStart, WorkflowOutbox, WorkflowStarter};
use orderflow_workers::{Saga, Task};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;
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

/// The first wait before an entry whose start failed is tried again; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two tries of one entry, or two reads of a failing outbox.
const RETRY_CAP: Duration = Duration::from_secs(60);
/// The most failing entries remembered (and read past) at once: rows beyond are seen again
/// when the earlier ones are started or their backoff ends. Bounds the dispatcher's memory and
/// the size of each read.
const MAX_BACKING_OFF: usize = 4096;
/// The longest the dispatcher sleeps without a wake-up: a wake-up can be missed across a
/// failure, never an order.
const SAFETY_NET: Duration = Duration::from_secs(1);

/// Starts the workflow of every order in the outbox, as orders are placed and after a restart,
/// until `stop` is cancelled. Starting is idempotent (executions are named after their order),
/// so an entry started but not yet marked is harmlessly started again.
///
/// An entry whose start fails is tried again after a capped, jittered exponential backoff of
/// its own, and the entries behind it go ahead meanwhile; a failing outbox is read again after
/// the same kind of backoff. So a start that keeps failing costs a try now and then, not a
/// spinning loop, and never holds up the orders placed after it.
pub async fn dispatch_outbox(
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut dispatcher = Dispatcher { outbox, starter, backing_off: HashMap::new(), outbox_failures: 0 };
    loop {
        let round = dispatcher.dispatch_once().await;
        let pause = match round {
            Round::MoreReady => continue,
            Round::Idle { next_due } => {
                next_due.map_or(SAFETY_NET, |due| due.saturating_duration_since(Instant::now()).min(SAFETY_NET))
            }
            Round::OutboxFailed { retry_in } => {
                // Wake-ups do not cut this short: every one would read the failing outbox again.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(retry_in) => {}
                }
                continue;
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// An outbox entry whose start failed, and when to try it again.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    due: Instant,
}

/// The dispatcher's state between rounds.
struct Dispatcher {
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    /// Entries whose start failed, by outbox entry: skipped until due.
    backing_off: HashMap<i64, Backoff>,
    /// Reads or marks of the outbox that failed in a row.
    outbox_failures: u32,
}

/// What a round found.
enum Round {
    /// A full batch was ready: go on at once.
    MoreReady,
    /// Everything ready was tried; the earliest entry backing off is due then.
    Idle { next_due: Option<Instant> },
    /// The outbox could not be read or marked: try again after that long.
    OutboxFailed { retry_in: Duration },
}

/// A wait drawn uniformly from `[ceiling / 2, ceiling]`, `ceiling` doubling per failure from
/// `RETRY_FIRST` up to `RETRY_CAP`: jitter keeps many failing entries from retrying in step,
/// the floor keeps one from retrying at once.
fn backoff(failures: u32) -> Duration {
    let ceiling = RETRY_FIRST.saturating_mul(1_u32 << failures.saturating_sub(1).min(16)).min(RETRY_CAP);
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

impl Dispatcher {
    /// One round: starts up to a batch of the pending workflows that are not backing off,
    /// concurrently, and marks those started.
    async fn dispatch_once(&mut self) -> Round {
        let skipped = self.backing_off.len().min(MAX_BACKING_OFF);
        let limit = DISPATCH_BATCH + skipped;
        let pending = match self.outbox.pending_starts(limit).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot read the workflow outbox; will retry");
                return self.outbox_failed();
            }
        };
        if pending.len() < limit {
            // Everything pending was read: forget entries that are no longer pending.
            let pending_entries: std::collections::HashSet<i64> = pending.iter().map(|p| p.entry).collect();
            self.backing_off.retain(|entry, _| pending_entries.contains(entry));
        }
        let now = Instant::now();
        let ready: Vec<&PendingStart> = pending
            .iter()
            .filter(|p| self.backing_off.get(&p.entry).is_none_or(|b| b.due <= now))
            .take(DISPATCH_BATCH)
            .collect();
        let starter = self.starter.as_ref();
        let starts = ready.iter().map(|entry| async move { (entry, starter.start(&entry.order).await) });
        let mut started = Vec::with_capacity(ready.len());
        for (entry, result) in futures::future::join_all(starts).await {
            match result {
                Ok(()) => {
                    self.backing_off.remove(&entry.entry);
                    started.push(entry.entry);
                }
                Err(error) => {
                    let failures = self.backing_off.get(&entry.entry).map_or(0, |b| b.failures) + 1;
                    let wait = backoff(failures);
                    tracing::warn!(order_id = %entry.order, failures, retry_in_ms = wait.as_millis(), error = %error, "cannot start the order's workflow; will retry");
                    self.backing_off.insert(entry.entry, Backoff { failures, due: Instant::now() + wait });
                }
            }
        }
        if let Err(error) = self.outbox.mark_started(&started).await {
            tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot mark workflows started; will start them again");
            return self.outbox_failed();
        }
        self.outbox_failures = 0;
        if ready.len() == DISPATCH_BATCH {
            return Round::MoreReady;
        }
        Round::Idle { next_due: self.backing_off.values().map(|b| b.due).min() }
    }

    fn outbox_failed(&mut self) -> Round {
        self.outbox_failures = self.outbox_failures.saturating_add(1);
        Round::OutboxFailed { retry_in: backoff(self.outbox_failures) }
    }
}
