//! Shared test helpers: an engine on a virtual clock, and scripted task handlers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asl_engine::{
    Clock, Engine, EventType, ExecutionDescription, ExecutionStore, HistoryEvent, MemoryStore, StateMachine,
    TaskFailure, TaskInvocation, TaskRegistry, VirtualClock,
};
use parking_lot::Mutex;
use serde_json::Value;
use time::OffsetDateTime;

/// Loads a definition given as a JSON value.
pub fn machine(definition: &Value) -> StateMachine {
    StateMachine::from_json(&definition.to_string(), &HashMap::<String, String>::new())
        .unwrap_or_else(|e| panic!("invalid test definition: {e}"))
}

/// An engine on an auto-advancing virtual clock and an in-memory store.
pub struct TestApp {
    pub engine: Engine,
    pub clock: VirtualClock,
}

impl TestApp {
    pub fn new(tasks: TaskRegistry) -> Self {
        Self::with_store(tasks, Arc::new(MemoryStore::new()), VirtualClock::new())
    }

    pub fn with_store(tasks: TaskRegistry, store: Arc<dyn ExecutionStore>, clock: VirtualClock) -> Self {
        let engine = Engine::builder().store(store).tasks(tasks).clock(Arc::new(clock.clone())).jitter_seed(7).build();
        Self { engine, clock }
    }

    /// Registers `definition` as "m", runs it once with `input`, and returns the final description.
    pub async fn run(&self, definition: &Value, input: Value) -> ExecutionDescription {
        self.engine.register("m", machine(definition));
        let name = format!("run-{}", uuid::Uuid::new_v4());
        self.engine.start_execution("m", &name, input).await.expect("start");
        self.engine.wait(&name).await.expect("wait")
    }

    /// Runs and returns the output, failing the test if the execution did not succeed.
    pub async fn output(&self, definition: &Value, input: Value) -> Value {
        let done = self.run(definition, input).await;
        assert_eq!(
            done.status,
            asl_engine::ExecutionStatus::Succeeded,
            "execution failed: {:?} {:?}",
            done.error,
            done.cause
        );
        done.output.as_deref().cloned().unwrap_or(Value::Null)
    }

    pub async fn history_types(&self, name: &str) -> Vec<EventType> {
        self.engine.history(name).await.expect("history").iter().map(|e| e.event_type).collect()
    }
}

/// Runs `definition` once, with the given tasks, on a fresh test app.
pub async fn run(definition: &Value, input: Value, tasks: TaskRegistry) -> ExecutionDescription {
    TestApp::new(tasks).run(definition, input).await
}

/// A handler that counts its calls and answers with `respond(call_index, invocation)`.
#[derive(Clone, Default)]
pub struct Script {
    pub calls: Arc<AtomicUsize>,
    pub invocations: Arc<Mutex<Vec<(OffsetDateTime, TaskInvocation)>>>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// When each call happened, by the given clock.
    pub fn call_times(&self) -> Vec<OffsetDateTime> {
        self.invocations.lock().iter().map(|(t, _)| *t).collect()
    }

    pub fn inputs(&self) -> Vec<Value> {
        self.invocations.lock().iter().map(|(_, i)| i.input.clone()).collect()
    }

    pub fn invocation(&self, index: usize) -> TaskInvocation {
        self.invocations.lock()[index].1.clone()
    }

    /// Registers a handler on `resource` that records each call and answers with `respond`.
    pub fn register<F>(
        &self,
        tasks: TaskRegistry,
        resource: &str,
        clock: Option<VirtualClock>,
        respond: F,
    ) -> TaskRegistry
    where
        F: Fn(usize, &TaskInvocation) -> Result<Value, TaskFailure> + Send + Sync + 'static,
    {
        let script = self.clone();
        let respond = Arc::new(respond);
        tasks.with_fn(resource, move |invocation: TaskInvocation| {
            let script = script.clone();
            let respond = Arc::clone(&respond);
            let clock = clock.clone();
            async move {
                let index = script.calls.fetch_add(1, Ordering::SeqCst);
                let now = clock.as_ref().map_or_else(OffsetDateTime::now_utc, Clock::now);
                let answer = respond(index, &invocation);
                script.invocations.lock().push((now, invocation));
                answer
            }
        })
    }
}

/// A registry with one handler that returns its input unchanged.
pub fn echo(resource: &str) -> TaskRegistry {
    TaskRegistry::new()
        .with_fn(resource, |invocation: TaskInvocation| async move { Ok::<_, TaskFailure>(invocation.input) })
}

/// A registry with one handler that always returns `value`.
pub fn returning(resource: &str, value: Value) -> TaskRegistry {
    TaskRegistry::new().with_fn(resource, move |_| {
        let value = value.clone();
        async move { Ok::<_, TaskFailure>(value) }
    })
}

/// A registry with one handler that always fails with `error`.
pub fn failing(resource: &str, error: &str, cause: &str) -> TaskRegistry {
    let failure = TaskFailure::new(error, cause);
    TaskRegistry::new().with_fn(resource, move |_| {
        let failure = failure.clone();
        async move { Err::<Value, _>(failure) }
    })
}

/// The types of a history, for comparing with an expected sequence.
pub fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event_type).collect()
}
