//! The interpreter: runs the states of one body (the top level, a `Parallel` branch or a `Map`
//! iteration) from a [`Cursor`], one step at a time.
//!
//! A *fiber* walks a body. After every step it commits the step's history events, and — for the
//! durable top-level fiber — the new cursor, before it starts the next step. Branch fibers commit
//! their events but no cursor: on resume a `Map` or `Parallel` state runs its branches again.

mod branches;
mod states;
mod task;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};

use crate::clock::{Activity, Clock};
use crate::definition::{Body, Kind, State, StateMachine, Transition};
use crate::errors::{StateError, check_payload_size};
use crate::history::{EventType, HistoryEvent};
use crate::paths::Scope;
use crate::store::{Change, Commit, Cursor, ExecutionStore, Phase, StoreError};
use crate::task::TaskRegistry;

/// Services shared by every execution of an engine.
#[derive(Debug)]
pub(crate) struct Services {
    pub store: Arc<dyn ExecutionStore>,
    pub tasks: TaskRegistry,
    pub clock: Arc<dyn Clock>,
    /// Bounds the task handlers running at once.
    pub task_slots: Semaphore,
    /// Randomness for `JitterStrategy: FULL`; seedable for tests.
    pub rng: Mutex<fastrand::Rng>,
    /// Turns true when the engine shuts down: a write being retried gives up then.
    pub shutdown: watch::Receiver<bool>,
    /// How the store's writes are going, for [`Engine::health`](crate::Engine::health).
    pub store_health: StoreHealth,
}

/// The first wait before a failed store write is tried again; it doubles per failure.
const STORE_RETRY_FIRST: Duration = Duration::from_millis(10);
/// The longest wait between two tries of a failed store write.
const STORE_RETRY_CAP: Duration = Duration::from_secs(5);

/// Store writes that are failing right now.
#[derive(Debug, Default)]
pub(crate) struct StoreHealth {
    /// Writes waiting to be tried again after a transient error.
    pub retrying: AtomicUsize,
    /// The last error a write met, kept until a write succeeds.
    pub last_error: Mutex<Option<String>>,
}

impl Services {
    fn random_unit(&self) -> f64 {
        self.rng.lock().f64()
    }

    /// Commits to the store, trying a write again while its error is transient, with capped
    /// exponential backoff and full jitter, until it succeeds or the engine shuts down. The
    /// execution waits meanwhile: a store that fails for a while delays it, and does not stop
    /// it. A write the store refuses (not transient) is returned at once.
    async fn commit_retrying(&self, name: &str, commit: Commit) -> Result<(), StoreError> {
        // The first try hands over a copy: a failed write happened not at all, and is tried again
        // as it was, with the same event ids.
        let error = match self.store.commit(name, commit.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_transient() => error,
            Err(error) => return Err(error),
        };
        self.store_health.retrying.fetch_add(1, Ordering::AcqRel);
        let result = self.retry_commit(name, commit, error).await;
        self.store_health.retrying.fetch_sub(1, Ordering::AcqRel);
        if result.is_ok() && self.store_health.retrying.load(Ordering::Acquire) == 0 {
            *self.store_health.last_error.lock() = None;
        }
        result
    }

    async fn retry_commit(&self, name: &str, commit: Commit, mut error: StoreError) -> Result<(), StoreError> {
        let mut shutdown = self.shutdown.clone();
        let mut ceiling = STORE_RETRY_FIRST;
        for failures in 1_u64.. {
            *self.store_health.last_error.lock() = Some(crate::errors::chain(&error));
            if failures == 1 || failures.is_multiple_of(20) {
                tracing::warn!(execution = %name, failures, error = %crate::errors::chain(&error), "a store write failed; trying again");
            }
            let wait = ceiling.mul_f64(self.random_unit());
            ceiling = (ceiling * 2).min(STORE_RETRY_CAP);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return Err(error),
            }
            error = match self.store.commit(name, commit.clone()).await {
                Ok(()) => {
                    tracing::info!(execution = %name, failures, "a store write succeeded after failing");
                    return Ok(());
                }
                Err(error) if error.is_transient() => error,
                Err(error) => return Err(error),
            };
        }
        Err(error)
    }
}

/// One execution being driven.
#[derive(Debug)]
pub(crate) struct Execution {
    pub services: Arc<Services>,
    pub machine: Arc<StateMachine>,
    pub machine_name: String,
    pub name: String,
    pub input: Arc<Value>,
    pub start: OffsetDateTime,
    next_event_id: AtomicU64,
}

/// The fake account and region of local ARNs.
const ARN_PREFIX: &str = "arn:aws:states:local:000000000000";

/// The ARN-like id of an execution.
pub(crate) fn execution_arn(machine: &str, name: &str) -> String {
    format!("{ARN_PREFIX}:execution:{machine}:{name}")
}

impl Execution {
    pub fn new(
        services: Arc<Services>,
        machine: Arc<StateMachine>,
        machine_name: String,
        name: String,
        input: Arc<Value>,
        start: OffsetDateTime,
        last_event_id: u64,
    ) -> Self {
        Self { services, machine, machine_name, name, input, start, next_event_id: AtomicU64::new(last_event_id + 1) }
    }

    pub fn id(&self) -> String {
        execution_arn(&self.machine_name, &self.name)
    }

    pub fn now(&self) -> OffsetDateTime {
        self.services.clock.now()
    }

    pub fn event(&self, event_type: EventType) -> HistoryEvent {
        HistoryEvent::new(event_type, self.now())
    }

    /// Gives ids to `events` and commits them with `change`.
    pub async fn commit(&self, mut events: Vec<HistoryEvent>, change: Change) -> Result<(), StoreError> {
        let count = u64::try_from(events.len()).unwrap_or(u64::MAX);
        let first = self.next_event_id.fetch_add(count, Ordering::Relaxed);
        for (event, id) in events.iter_mut().zip(first..) {
            event.id = id;
        }
        self.services.commit_retrying(&self.name, Commit { events, change }).await
    }

    /// Ids for events recorded at creation (`ExecutionStarted`, first state entered).
    pub fn number_events(events: &mut [HistoryEvent]) {
        for (event, id) in events.iter_mut().zip(1..) {
            event.id = id;
        }
    }

    /// The context object (`$$`) of a state.
    pub fn context_object(
        &self,
        state: &str,
        entered: OffsetDateTime,
        retry_count: u32,
        item: Option<(usize, &Value)>,
    ) -> Value {
        let mut context = json!({
            "Execution": {
                "Id": self.id(),
                "Input": *self.input,
                "Name": self.name,
                "RoleArn": "arn:aws:iam::000000000000:role/local",
                "StartTime": format_time(self.start),
                "RedriveCount": 0,
            },
            "StateMachine": {
                "Id": format!("{ARN_PREFIX}:stateMachine:{}", self.machine_name),
                "Name": self.machine_name,
            },
            "State": {
                "EnteredTime": format_time(entered),
                "Name": state,
                "RetryCount": retry_count,
            },
        });
        if let (Some((index, value)), Value::Object(map)) = (item, &mut context) {
            map.insert("Map".into(), json!({"Item": {"Index": index, "Value": value}}));
        }
        context
    }
}

/// Formats a timestamp as Step Functions does in the context object: UTC with milliseconds.
pub(crate) fn format_time(time: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// Takes the events of a step for a commit, leaving room for the next step's usual two
/// (`...Exited` and `...Entered`): stores keep these vectors, so they should not be oversized.
fn take_events(events: &mut Vec<HistoryEvent>) -> Vec<HistoryEvent> {
    std::mem::replace(events, Vec::with_capacity(2))
}

/// How a body ended, with the events of its last step not yet committed.
#[derive(Debug)]
pub(crate) struct Ending {
    pub result: Result<Arc<Value>, StateError>,
    pub events: Vec<HistoryEvent>,
}

/// What one step of a state decided.
#[derive(Debug)]
enum Step {
    /// Go to `next` with `output` as its input.
    Next { next: Arc<str>, output: Arc<Value> },
    /// The body ends with `output`.
    End(Arc<Value>),
    /// The body fails.
    Fail(StateError),
    /// The cursor changed (a retry or a wait is pending): persist it and step again.
    Suspend,
}

/// Walks one body.
pub(crate) struct Fiber<'a> {
    pub execution: &'a Execution,
    pub body: &'a Body,
    /// Whether this fiber persists its cursor (only the top level does).
    pub durable: bool,
    /// The branch this fiber runs, for ids and events: `""` at the top level, then
    /// `/State[index]` per nesting level.
    pub scope: String,
    /// The `Map` iteration index, if this fiber is one.
    pub map_index: Option<u64>,
    pub activity: &'a Activity,
}

impl<'a> Fiber<'a> {
    /// Runs from `cursor` (whose state is already entered) to the end of the body.
    pub async fn run(&self, mut cursor: Cursor) -> Result<Ending, StoreError> {
        let mut events = Vec::new();
        let mut state = self.state(&cursor.state);
        loop {
            tracing::trace!(state = %cursor.state, scope = %self.scope, phase = ?cursor.phase, "step");
            let step = match self.step(state, &mut cursor, &mut events).await {
                Ok(step) => step,
                Err(error) => {
                    tracing::debug!(state = %cursor.state, error = %error.error, cause = %error.cause, "state failed");
                    Step::Fail(error)
                }
            };
            match step {
                Step::Next { next, output } => {
                    state = self.state(&next);
                    events.push(
                        self.execution
                            .event(EventType::entered(state.kind.type_name()))
                            .state(&next)
                            .input(Arc::clone(&output))
                            .map_index(self.map_index),
                    );
                    cursor = Cursor {
                        state: next,
                        input: output,
                        entered_at: self.execution.now(),
                        step: cursor.step + 1,
                        attempts: Vec::new(),
                        phase: Phase::Ready,
                    };
                    let change = if self.durable { Change::Cursor(cursor.clone()) } else { Change::None };
                    self.execution.commit(take_events(&mut events), change).await?;
                }
                Step::Suspend => {
                    if self.durable {
                        self.execution.commit(take_events(&mut events), Change::Cursor(cursor.clone())).await?;
                    } else if !events.is_empty() {
                        self.execution.commit(take_events(&mut events), Change::None).await?;
                    }
                }
                Step::End(output) => return Ok(Ending { result: Ok(output), events }),
                Step::Fail(error) => return Ok(Ending { result: Err(error), events }),
            }
        }
    }

    fn state(&self, name: &str) -> &'a State {
        // Validation guarantees that every transition names a state of the same body.
        &self.body.states[name]
    }

    async fn step(
        &self,
        state: &State,
        cursor: &mut Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        match &state.kind {
            Kind::Pass(pass) => self.pass(state, pass, cursor, events),
            Kind::Choice(choice) => self.choice(state, choice, cursor, events),
            Kind::Wait(wait) => self.wait(state, wait, cursor, events).await,
            Kind::Succeed => {
                let output =
                    state.output_path.apply(&state.input_path.apply(&cursor.input, "InputPath")?, "OutputPath")?;
                self.exit(state, cursor, &output, events);
                Ok(Step::End(output))
            }
            Kind::Fail(fail) => self.fail(fail, cursor),
            // Boxed: these futures are large, and most steps are small states; keeping them
            // out of line keeps every execution's task small.
            Kind::Task(task) => Box::pin(self.task(state, task, cursor, events)).await,
            Kind::Parallel(parallel) => Box::pin(self.parallel(state, parallel, cursor, events)).await,
            Kind::Map(map) => Box::pin(self.map(state, map, cursor, events)).await,
        }
    }

    /// Records `...StateExited` for `state`.
    fn exit(&self, state: &State, cursor: &Cursor, output: &Arc<Value>, events: &mut Vec<HistoryEvent>) {
        if let Some(exited) = EventType::exited(state.kind.type_name()) {
            events.push(
                self.execution.event(exited).state(&cursor.state).output(Arc::clone(output)).map_index(self.map_index),
            );
        }
    }

    /// Ends a state that completed with `output`: checks its size and follows its transition.
    fn complete(
        &self,
        state: &State,
        cursor: &Cursor,
        output: Arc<Value>,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        if !Arc::ptr_eq(&output, &cursor.input) {
            check_payload_size(&output, "state output")?;
        }
        self.exit(state, cursor, &output, events);
        Ok(match &state.transition {
            Transition::Next(next) => Step::Next { next: next.clone(), output },
            Transition::End | Transition::Own => Step::End(output),
        })
    }

    /// A scope over `input` whose context object describes the current state.
    fn with_scope<T>(
        &self,
        cursor: &Cursor,
        input: &Value,
        item: Option<(usize, &Value)>,
        body: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        let retry_count: u32 = cursor.attempts.iter().sum();
        let context = || self.execution.context_object(&cursor.state, cursor.entered_at, retry_count, item);
        body(&Scope::new(input, &context))
    }
}
