//! The [`Engine`]: registers state machines, starts, resumes, stops and describes executions.
//!
//! Each execution is driven by its own tokio task (spawned on the ambient runtime). The driver
//! walks the states, persisting every step, and reports the end to anyone waiting. Starting an
//! execution under a name that exists returns the existing one, as Step Functions' idempotent
//! `StartExecution` does.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::Instrument;

use crate::clock::{Clock, SystemClock};
use crate::definition::StateMachine;
use crate::errors::{PAYLOAD_LIMIT_BYTES, StateError, check_payload_size, names};
use crate::executor::{Ending, Execution, Fiber, Services, StoreHealth, execution_arn};
use crate::history::{EventType, HistoryEvent};
use crate::store::{
    Change, Created, Cursor, ExecutionRecord, ExecutionStatus, ExecutionStore, Finish, MemoryStore, Phase, StoreError,
};
use crate::task::TaskRegistry;

/// The default bound on task handlers running at once.
pub const DEFAULT_MAX_TASKS_IN_FLIGHT: usize = 1024;

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No machine is registered under that name.
    #[error("no state machine is registered as '{0}'")]
    UnknownMachine(String),
    /// No execution has that name.
    #[error("no execution is named '{0}'")]
    UnknownExecution(String),
    /// An execution with that name has ended, or runs with another machine or another input.
    #[error("an execution named '{0}' already exists: it has ended, or has another state machine or input")]
    ExecutionAlreadyExists(String),
    /// The execution name breaks Step Functions' naming rules.
    #[error(
        "'{0}' is not a valid execution name: use 1 to 80 characters without spaces, brackets, wildcards or punctuation such as \" # % \\ ^ | ~ ` $ & , ; : /"
    )]
    InvalidName(String),
    /// The execution input is larger than 256 KiB.
    #[error("the execution input is larger than {PAYLOAD_LIMIT_BYTES} bytes")]
    InputTooLarge,
    /// The execution is running in the store but this engine is not driving it.
    #[error("the execution '{0}' is running in the store but not driven by this engine; call resume_running")]
    NotDriven(String),
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// The store failed.
    #[error("the execution store failed")]
    Store(#[from] StoreError),
}

/// What [`Engine::describe`] and [`Engine::wait`] report about an execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDescription {
    /// The execution's name.
    pub name: String,
    /// Its ARN-like id.
    pub execution_id: String,
    /// The machine it runs, by registered name.
    pub machine: String,
    /// Its status.
    pub status: ExecutionStatus,
    /// Its input.
    pub input: Arc<Value>,
    /// Its output, once succeeded.
    pub output: Option<Arc<Value>>,
    /// The error name, once failed, timed out or aborted.
    pub error: Option<String>,
    /// The error cause.
    pub cause: Option<String>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    /// When it stopped.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stop_date: Option<OffsetDateTime>,
    /// The state it is in, while running.
    pub current_state: Option<String>,
}

impl From<ExecutionRecord> for ExecutionDescription {
    fn from(record: ExecutionRecord) -> Self {
        Self {
            execution_id: execution_arn(&record.machine, &record.name),
            current_state: record.cursor.map(|c| c.state.to_string()),
            name: record.name,
            machine: record.machine,
            status: record.status,
            input: record.input,
            output: record.output,
            error: record.error,
            cause: record.cause,
            start_date: record.start_date,
            stop_date: record.stop_date,
        }
    }
}

/// What [`Engine::start_execution`] returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartedExecution {
    /// The execution's name.
    pub name: String,
    /// Its ARN-like id.
    pub execution_id: String,
    /// When it started (the original start, for an existing execution).
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    /// Whether an execution of that name existed already (nothing new was started).
    pub already_existed: bool,
}

/// What [`Engine::resume_running`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeReport {
    /// Executions now driven again.
    pub resumed: Vec<String>,
    /// Executions left alone because their machine is not registered.
    pub skipped: Vec<String>,
}

/// What [`Engine::health`] reports: whether executions are moving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineHealth {
    /// Store writes failing right now and being tried again: their executions wait.
    pub store_writes_retrying: usize,
    /// The last store error, while writes are failing.
    pub store_error: Option<String>,
    /// Executions stopped by a store error that retrying could not get past; they run again
    /// at the next [`Engine::resume_running`].
    pub stalled_executions: Vec<String>,
}

impl EngineHealth {
    /// Whether every execution can move on.
    pub fn is_healthy(&self) -> bool {
        self.store_writes_retrying == 0 && self.stalled_executions.is_empty()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    store: Option<Arc<dyn ExecutionStore>>,
    tasks: TaskRegistry,
    clock: Option<Arc<dyn Clock>>,
    max_tasks_in_flight: usize,
    jitter_seed: Option<u64>,
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("store", &self.store)
            .field("tasks", &self.tasks)
            .field("clock", &self.clock)
            .field("max_tasks_in_flight", &self.max_tasks_in_flight)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Where executions are persisted (default: a fresh [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn ExecutionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The task handlers (default: none).
    pub fn tasks(mut self, tasks: TaskRegistry) -> Self {
        self.tasks = tasks;
        self
    }

    /// The clock (default: [`SystemClock`] with real delays).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The most task handlers running at once, across all executions (default 1024).
    pub fn max_tasks_in_flight(mut self, n: usize) -> Self {
        self.max_tasks_in_flight = n.max(1);
        self
    }

    /// Seeds the randomness of `JitterStrategy: FULL`, for reproducible tests.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine {
        let rng = self.jitter_seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let shutdown = watch::Sender::new(false);
        let services = Services {
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            tasks: self.tasks,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock::new())),
            task_slots: Semaphore::new(self.max_tasks_in_flight),
            rng: Mutex::new(rng),
            shutdown: shutdown.subscribe(),
            store_health: StoreHealth::default(),
        };
        Engine {
            inner: Arc::new(Inner {
                services: Arc::new(services),
                machines: RwLock::new(HashMap::new()),
                live: Mutex::new(HashMap::new()),
                shutting_down: AtomicBool::new(false),
                shutdown,
                stalled: Mutex::new(BTreeSet::new()),
                drivers: AtomicUsize::new(0),
                drivers_done: Notify::new(),
            }),
        }
    }
}

/// Runs state machines. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("machines", &self.inner.machines.read().keys().collect::<Vec<_>>())
            .field("live_executions", &self.inner.live.lock().len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    services: Arc<Services>,
    machines: RwLock<HashMap<String, Arc<StateMachine>>>,
    /// Executions this engine drives, by name.
    live: Mutex<HashMap<String, Live>>,
    shutting_down: AtomicBool,
    /// Turns true when the engine shuts down; drivers stop at their next await.
    shutdown: watch::Sender<bool>,
    /// Executions whose driver stopped on a store error it could not get past: running in the
    /// store, driven by nobody, until [`Engine::resume_running`] picks them up again.
    stalled: Mutex<BTreeSet<String>>,
    drivers: AtomicUsize,
    drivers_done: Notify,
}

/// A driven execution, as seen by callers.
struct Live {
    machine: String,
    input: Arc<Value>,
    start_date: OffsetDateTime,
    done: watch::Receiver<Option<ExecutionDescription>>,
    abort: watch::Sender<Option<StateError>>,
}

/// A name reserved in the live table by a start in progress.
struct Reservation<'a> {
    live: &'a Mutex<HashMap<String, Live>>,
    name: &'a str,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.live.lock().remove(self.name);
        }
    }
}

/// How a driver ended.
enum Stop {
    Ended(Ending),
    TimedOut,
    Aborted(StateError),
    Shutdown,
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            store: None,
            tasks: TaskRegistry::new(),
            clock: None,
            max_tasks_in_flight: DEFAULT_MAX_TASKS_IN_FLIGHT,
            jitter_seed: None,
        }
    }

    /// Registers (or replaces) a state machine under `name`. Running executions keep the
    /// version they started with; resumed ones use the registered one.
    pub fn register(&self, name: impl Into<String>, machine: StateMachine) {
        self.inner.machines.write().insert(name.into(), Arc::new(machine));
    }

    /// The clock the engine runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.services.clock
    }

    /// Starts an execution of machine `machine` named `name`.
    ///
    /// Idempotent as Step Functions' `StartExecution` is: while an execution of that name is
    /// running with the same machine and input, it is returned with `already_existed: true`; once
    /// it has ended, or with another machine or input, this fails with
    /// [`EngineError::ExecutionAlreadyExists`]. Names are unique per engine store, across machines,
    /// and are never reused.
    pub async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> Result<StartedExecution, EngineError> {
        if self.inner.shutting_down.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        check_execution_name(name)?;
        check_payload_size(&input, "execution input").map_err(|_| EngineError::InputTooLarge)?;
        let definition = self.machine(machine)?;
        let services = &self.inner.services;
        let input = Arc::new(input);
        let (done_sender, abort_receiver, start_date) = {
            let mut live = self.inner.live.lock();
            if let Some(existing) = live.get(name) {
                if existing.machine == machine && existing.input == input {
                    return Ok(StartedExecution {
                        name: name.to_owned(),
                        execution_id: execution_arn(machine, name),
                        start_date: existing.start_date,
                        already_existed: true,
                    });
                }
                return Err(EngineError::ExecutionAlreadyExists(name.to_owned()));
            }
            let (done_sender, done) = watch::channel(None);
            let (abort, abort_receiver) = watch::channel(None);
            let start_date = services.clock.now();
            live.insert(
                name.to_owned(),
                Live { machine: machine.to_owned(), input: Arc::clone(&input), start_date, done, abort },
            );
            (done_sender, abort_receiver, start_date)
        };
        // Until a driver runs, the name is only reserved: any way out of this function (an
        // existing execution, a store error, the caller dropping this future) frees it.
        let mut reservation = Reservation { live: &self.inner.live, name, armed: true };

        let start_state = &definition.body.states[&*definition.body.start_at];
        let mut events = vec![
            HistoryEvent::new(EventType::ExecutionStarted, start_date).input(Arc::clone(&input)),
            HistoryEvent::new(EventType::entered(start_state.kind.type_name()), start_date)
                .state(&definition.body.start_at)
                .input(Arc::clone(&input)),
        ];
        Execution::number_events(&mut events);
        let cursor = Cursor {
            state: definition.body.start_at.clone(),
            input: Arc::clone(&input),
            entered_at: start_date,
            step: 0,
            attempts: Vec::new(),
            phase: Phase::Ready,
        };
        let record = ExecutionRecord {
            name: name.to_owned(),
            machine: machine.to_owned(),
            input: Arc::clone(&input),
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            start_date,
            stop_date: None,
            cursor: Some(cursor.clone()),
            last_event_id: 2,
        };
        match services.store.create(record, events).await {
            Ok(Created::New) => {
                reservation.armed = false;
                let execution = Execution::new(
                    Arc::clone(services),
                    definition,
                    machine.to_owned(),
                    name.to_owned(),
                    input,
                    start_date,
                    2,
                );
                self.spawn_driver(execution, cursor, done_sender, abort_receiver);
                Ok(StartedExecution {
                    name: name.to_owned(),
                    execution_id: execution_arn(machine, name),
                    start_date,
                    already_existed: false,
                })
            }
            Ok(Created::Existing(existing)) => {
                drop(reservation);
                let running = existing.status == ExecutionStatus::Running;
                if running && existing.machine == machine && existing.input == input {
                    Ok(StartedExecution {
                        name: name.to_owned(),
                        execution_id: execution_arn(machine, name),
                        start_date: existing.start_date,
                        already_existed: true,
                    })
                } else {
                    Err(EngineError::ExecutionAlreadyExists(name.to_owned()))
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Waits for the execution `name` to end, and describes it.
    pub async fn wait(&self, name: &str) -> Result<ExecutionDescription, EngineError> {
        let done = self.inner.live.lock().get(name).map(|live| live.done.clone());
        if let Some(mut done) = done
            && let Ok(description) = done.wait_for(Option::is_some).await
            && let Some(description) = description.clone()
        {
            return Ok(description);
        }
        let description = self.describe(name).await?;
        if description.status == ExecutionStatus::Running {
            return Err(EngineError::NotDriven(name.to_owned()));
        }
        Ok(description)
    }

    /// Describes the execution `name` as the store has it.
    pub async fn describe(&self, name: &str) -> Result<ExecutionDescription, EngineError> {
        let record = self.inner.services.store.load(name).await?;
        record.map(ExecutionDescription::from).ok_or_else(|| EngineError::UnknownExecution(name.to_owned()))
    }

    /// The history of the execution `name`, in order.
    pub async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        let events = self.inner.services.store.history(name).await?;
        if events.is_empty() && self.inner.services.store.load(name).await?.is_none() {
            return Err(EngineError::UnknownExecution(name.to_owned()));
        }
        Ok(events)
    }

    /// Stops a running execution: it ends `ABORTED` with the given error and cause, without
    /// running `Catch` handlers. Returns `false` when the execution is not running here.
    pub fn stop_execution(&self, name: &str, error: &str, cause: &str) -> bool {
        let live = self.inner.live.lock();
        let Some(execution) = live.get(name) else { return false };
        execution.abort.send_replace(Some(StateError::new(error, cause)));
        true
    }

    /// Resumes every execution the store has as running (and this engine is not driving yet)
    /// from its last persisted step. A `Task` that was in flight runs again; a `Map` or
    /// `Parallel` state runs all its branches again; a wait continues for the time left.
    pub async fn resume_running(&self) -> Result<ResumeReport, EngineError> {
        let mut report = ResumeReport::default();
        for record in self.inner.services.store.running().await? {
            let (Some(cursor), Ok(definition)) = (record.cursor.clone(), self.machine(&record.machine)) else {
                tracing::warn!(execution = %record.name, machine = %record.machine, "not resuming: unknown machine or no cursor");
                report.skipped.push(record.name);
                continue;
            };
            if !definition.body.states.contains_key(&*cursor.state) {
                tracing::warn!(execution = %record.name, state = %cursor.state, "not resuming: the state no longer exists");
                report.skipped.push(record.name);
                continue;
            }
            let (done_sender, abort_receiver) = {
                let mut live = self.inner.live.lock();
                if live.contains_key(&record.name) {
                    continue;
                }
                let (done_sender, done) = watch::channel(None);
                let (abort, abort_receiver) = watch::channel(None);
                live.insert(
                    record.name.clone(),
                    Live {
                        machine: record.machine.clone(),
                        input: Arc::clone(&record.input),
                        start_date: record.start_date,
                        done,
                        abort,
                    },
                );
                (done_sender, abort_receiver)
            };
            let execution = Execution::new(
                Arc::clone(&self.inner.services),
                definition,
                record.machine.clone(),
                record.name.clone(),
                record.input,
                record.start_date,
                record.last_event_id,
            );
            tracing::info!(execution = %record.name, state = %cursor.state, "resuming execution");
            self.inner.stalled.lock().remove(&record.name);
            self.spawn_driver(execution, cursor, done_sender, abort_receiver);
            report.resumed.push(record.name);
        }
        Ok(report)
    }

    /// Stops driving executions and waits until every driver has stopped. Executions stay
    /// `RUNNING` in the store, to be resumed by the next engine; new starts are refused.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.inner.shutdown.send_replace(true);
        loop {
            let notified = self.inner.drivers_done.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.inner.drivers.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// How many executions this engine is driving.
    pub fn live_executions(&self) -> usize {
        self.inner.live.lock().len()
    }

    /// Whether the engine's executions are moving, or some wait on a failing store or have
    /// stopped on one. Cheap: no store access.
    pub fn health(&self) -> EngineHealth {
        let store = &self.inner.services.store_health;
        let store_writes_retrying = store.retrying.load(Ordering::Acquire);
        EngineHealth {
            store_writes_retrying,
            store_error: if store_writes_retrying > 0 { store.last_error.lock().clone() } else { None },
            stalled_executions: self.inner.stalled.lock().iter().cloned().collect(),
        }
    }

    fn machine(&self, name: &str) -> Result<Arc<StateMachine>, EngineError> {
        self.inner.machines.read().get(name).cloned().ok_or_else(|| EngineError::UnknownMachine(name.to_owned()))
    }

    fn spawn_driver(
        &self,
        execution: Execution,
        cursor: Cursor,
        done: watch::Sender<Option<ExecutionDescription>>,
        abort: watch::Receiver<Option<StateError>>,
    ) {
        self.inner.drivers.fetch_add(1, Ordering::AcqRel);
        let inner = Arc::clone(&self.inner);
        let span = tracing::info_span!("execution", name = %execution.name, machine = %execution.machine_name);
        let driver = async move {
            let name = execution.name.clone();
            let outcome = drive(&inner, &execution, cursor, abort).await;
            // No longer live before anyone waiting hears it ended: a caller woken by `done`
            // must never still count it among the live executions.
            inner.live.lock().remove(&name);
            match outcome {
                Ok(Some(description)) => {
                    tracing::debug!(status = description.status.as_str(), "execution ended");
                    done.send_replace(Some(description));
                }
                Ok(None) => {}
                Err(error) if *inner.shutdown.borrow() => {
                    tracing::warn!(execution = %name, error = %crate::errors::chain(&error), "the execution stopped at shutdown with a store write failing; it resumes on restart");
                }
                Err(error) => {
                    tracing::error!(execution = %name, error = %crate::errors::chain(&error), "the execution stopped: its store refused a write; it stays running in the store until resume_running");
                    inner.stalled.lock().insert(name.clone());
                }
            }
            drop(done);
            if inner.drivers.fetch_sub(1, Ordering::AcqRel) == 1 {
                inner.drivers_done.notify_waiters();
            }
        };
        tokio::spawn(driver.instrument(span));
    }
}

/// Drives one execution to its end (or to shutdown); returns its final description.
async fn drive(
    inner: &Inner,
    execution: &Execution,
    cursor: Cursor,
    mut abort: watch::Receiver<Option<StateError>>,
) -> Result<Option<ExecutionDescription>, StoreError> {
    let clock = &execution.services.clock;
    let activity = clock.track();
    let mut shutdown = inner.shutdown.subscribe();
    let stop = {
        let body = &execution.machine.body;
        let fiber =
            Fiber { execution, body, durable: true, scope: String::new(), map_index: None, activity: &activity };
        let run = fiber.run(cursor);
        let timeout = execution.machine.timeout_seconds.map(|seconds| {
            let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
            clock.timer(execution.start + Duration::seconds(seconds))
        });
        let timeout = timeout.unwrap_or_else(|| Box::pin(std::future::pending()));
        tokio::select! {
            ending = run => Stop::Ended(ending?),
            () = timeout => Stop::TimedOut,
            Ok(error) = abort.wait_for(Option::is_some) => Stop::Aborted(error.clone().unwrap_or_else(|| StateError::new("", ""))),
            Ok(_) = shutdown.wait_for(|stopping| *stopping) => Stop::Shutdown,
        }
    };
    drop(activity);
    let now = execution.now();
    let (events, finish) = match stop {
        Stop::Shutdown => return Ok(None),
        Stop::Ended(Ending { result: Ok(output), mut events }) => {
            let finish = Finish {
                status: ExecutionStatus::Succeeded,
                output: Some(Arc::clone(&output)),
                error: None,
                cause: None,
                stop_date: now,
            };
            events.push(HistoryEvent::new(EventType::ExecutionSucceeded, now).output(output));
            (events, finish)
        }
        Stop::Ended(Ending { result: Err(error), mut events }) => {
            events.push(HistoryEvent::new(EventType::ExecutionFailed, now).failure(&error.error, &error.cause));
            (events, failure(ExecutionStatus::Failed, &error, now))
        }
        Stop::TimedOut => {
            let error =
                StateError::new(names::TIMEOUT, "The execution ran longer than the state machine's TimeoutSeconds");
            let events = vec![HistoryEvent::new(EventType::ExecutionTimedOut, now).failure(&error.error, &error.cause)];
            (events, failure(ExecutionStatus::TimedOut, &error, now))
        }
        Stop::Aborted(error) => {
            let events = vec![HistoryEvent::new(EventType::ExecutionAborted, now).failure(&error.error, &error.cause)];
            (events, failure(ExecutionStatus::Aborted, &error, now))
        }
    };
    let description = ExecutionDescription {
        name: execution.name.clone(),
        execution_id: execution.id(),
        machine: execution.machine_name.clone(),
        status: finish.status,
        input: Arc::clone(&execution.input),
        output: finish.output.clone(),
        error: finish.error.clone(),
        cause: finish.cause.clone(),
        start_date: execution.start,
        stop_date: Some(now),
        current_state: None,
    };
    execution.commit(events, Change::Finish(finish)).await?;
    Ok(Some(description))
}

fn failure(status: ExecutionStatus, error: &StateError, now: OffsetDateTime) -> Finish {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Finish { status, output: None, error: non_empty(&error.error), cause: non_empty(&error.cause), stop_date: now }
}

/// Step Functions' execution-name rules.
fn check_execution_name(name: &str) -> Result<(), EngineError> {
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(forbidden) {
        return Err(EngineError::InvalidName(name.to_owned()));
    }
    Ok(())
}
