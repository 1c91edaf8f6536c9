//! Idempotent starts, persistence of every step, history, and resuming after a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asl_engine::{
    Clock, EngineError, EventType, ExecutionStatus, ExecutionStore, MemoryStore, SqliteStore, TaskFailure,
    TaskInvocation, TaskRegistry, VirtualClock,
};
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Script, TestApp, echo, machine, types};

fn two_tasks() -> Value {
    json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": "reserve", "ResultPath": "$.reserved", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "charge", "ResultPath": "$.charged", "End": true}
    }})
}

#[tokio::test]
async fn starting_twice_with_the_same_name_and_input_returns_the_existing_execution() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "reserve", None, |_, _| Ok(json!(true)));
    let tasks = tasks.with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(true)) });
    let app = TestApp::new(tasks);
    app.engine.register("order", machine(&two_tasks()));
    let first = app.engine.start_execution("order", "ord_1", json!({"id": 1})).await.unwrap();
    let second = app.engine.start_execution("order", "ord_1", json!({"id": 1})).await.unwrap();
    assert!(!first.already_existed);
    assert!(second.already_existed);
    assert_eq!(second.start_date, first.start_date);
    app.engine.wait("ord_1").await.unwrap();
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn starting_the_name_of_an_ended_execution_is_refused_as_on_aws() {
    let app = TestApp::new(echo("reserve").with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(1)) }));
    app.engine.register("order", machine(&two_tasks()));
    app.engine.start_execution("order", "ord_3", json!({"id": 3})).await.unwrap();
    app.engine.wait("ord_3").await.unwrap();

    let again = app.engine.start_execution("order", "ord_3", json!({"id": 3})).await;

    assert!(matches!(again, Err(EngineError::ExecutionAlreadyExists(_))), "{again:?}");
}

#[tokio::test]
async fn starting_a_known_name_with_another_input_is_refused() {
    let app = TestApp::new(echo("reserve").with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(1)) }));
    app.engine.register("order", machine(&two_tasks()));
    app.engine.start_execution("order", "ord_2", json!({"id": 2})).await.unwrap();
    let refused = app.engine.start_execution("order", "ord_2", json!({"id": 3})).await;
    assert!(matches!(refused, Err(EngineError::ExecutionAlreadyExists(_))));
}

#[tokio::test]
async fn concurrent_starts_of_one_name_run_one_execution() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "reserve", None, |_, _| Ok(json!(true)));
    let tasks = tasks.with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(true)) });
    let app = TestApp::new(tasks);
    app.engine.register("order", machine(&two_tasks()));
    let starts = (0..20).map(|_| {
        let engine = app.engine.clone();
        tokio::spawn(async move { engine.start_execution("order", "same", json!({"id": 9})).await })
    });
    let mut fresh = 0;
    for start in starts {
        match start.await.unwrap() {
            Ok(started) if !started.already_existed => fresh += 1,
            // A start that comes after the execution ended is refused, as on AWS.
            Ok(_) | Err(EngineError::ExecutionAlreadyExists(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    app.engine.wait("same").await.unwrap();
    assert_eq!(fresh, 1);
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn invalid_names_unknown_machines_and_huge_inputs_are_refused() {
    let app = TestApp::new(TaskRegistry::new());
    app.engine.register("order", machine(&two_tasks()));
    assert!(matches!(
        app.engine.start_execution("order", "has space", json!({})).await,
        Err(EngineError::InvalidName(_))
    ));
    assert!(matches!(app.engine.start_execution("order", "", json!({})).await, Err(EngineError::InvalidName(_))));
    assert!(matches!(app.engine.start_execution("nope", "x", json!({})).await, Err(EngineError::UnknownMachine(_))));
    let huge = json!("x".repeat(300 * 1024));
    assert!(matches!(app.engine.start_execution("order", "x", huge).await, Err(EngineError::InputTooLarge)));
    assert!(matches!(app.engine.describe("never").await, Err(EngineError::UnknownExecution(_))));
}

#[tokio::test]
async fn the_history_records_every_transition_with_inputs_and_outputs() {
    let app = TestApp::new(echo("reserve").with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!("paid")) }));
    app.engine.register("order", machine(&two_tasks()));
    app.engine.start_execution("order", "h1", json!({"id": 1})).await.unwrap();
    app.engine.wait("h1").await.unwrap();
    let history = app.engine.history("h1").await.unwrap();
    use EventType::*;
    assert_eq!(
        types(&history),
        vec![
            ExecutionStarted,
            TaskStateEntered,
            TaskScheduled,
            TaskStarted,
            TaskSucceeded,
            TaskStateExited,
            TaskStateEntered,
            TaskScheduled,
            TaskStarted,
            TaskSucceeded,
            TaskStateExited,
            ExecutionSucceeded
        ]
    );
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=12).collect::<Vec<_>>());
    assert_eq!(history[6].state_name.as_deref(), Some("Charge"));
    assert_eq!(history[6].input.as_deref(), Some(&json!({"id": 1, "reserved": {"id": 1}})));
    assert_eq!(history[11].output.as_deref(), Some(&json!({"id": 1, "reserved": {"id": 1}, "charged": "paid"})));
}

#[tokio::test]
async fn describe_reports_status_output_and_dates() {
    let app = TestApp::new(echo("reserve").with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!("paid")) }));
    app.engine.register("order", machine(&two_tasks()));
    app.engine.start_execution("order", "d1", json!({"id": 1})).await.unwrap();
    app.engine.wait("d1").await.unwrap();
    let description = app.engine.describe("d1").await.unwrap();
    assert_eq!(description.status, ExecutionStatus::Succeeded);
    assert_eq!(description.machine, "order");
    assert_eq!(*description.input, json!({"id": 1}));
    assert_eq!(description.output.as_ref().map(|o| o["charged"].clone()), Some(json!("paid")));
    assert!(description.stop_date.is_some());
    assert_eq!(description.current_state, None);
}

/// A registry whose "reserve" blocks forever the first time and succeeds after; "charge" succeeds.
fn blocking_once(calls: Arc<AtomicUsize>) -> TaskRegistry {
    TaskRegistry::new()
        .with_fn("reserve", move |_: TaskInvocation| {
            let calls = Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, TaskFailure>(json!("reserved"))
            }
        })
        .with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!("charged")) })
}

async fn until(mut condition: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the condition never held");
}

async fn resume_a_task_in_flight(store: Arc<dyn ExecutionStore>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = VirtualClock::new();
    let before = TestApp::with_store(blocking_once(Arc::clone(&calls)), Arc::clone(&store), clock.clone());
    before.engine.register("order", machine(&two_tasks()));
    before.engine.start_execution("order", "crash-1", json!({"id": 1})).await.unwrap();
    until(|| calls.load(Ordering::SeqCst) == 1).await;
    before.engine.shutdown().await;
    assert_eq!(before.engine.describe("crash-1").await.unwrap().status, ExecutionStatus::Running);
    assert!(matches!(before.engine.start_execution("order", "other", json!({})).await, Err(EngineError::ShuttingDown)));

    let after = TestApp::with_store(blocking_once(Arc::clone(&calls)), Arc::clone(&store), clock);
    after.engine.register("order", machine(&two_tasks()));
    let report = after.engine.resume_running().await.unwrap();
    assert_eq!(report.resumed, vec!["crash-1".to_owned()]);
    let done = after.engine.wait("crash-1").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some(&json!({"id": 1, "reserved": "reserved", "charged": "charged"})));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the task in flight ran again");
    let history = after.engine.history("crash-1").await.unwrap();
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=u64::try_from(ids.len()).unwrap()).collect::<Vec<_>>(), "ids continue after the restart");
    assert_eq!(types(&history).iter().filter(|t| **t == EventType::TaskStateEntered).count(), 2);
}

#[tokio::test]
async fn a_task_in_flight_runs_again_after_a_restart_from_memory() {
    resume_a_task_in_flight(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_task_in_flight_runs_again_after_a_restart_from_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    resume_a_task_in_flight(Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap())).await;
}

#[tokio::test]
async fn a_completed_step_is_not_run_again_after_a_restart() {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryStore::new());
    let clock = VirtualClock::new();
    let reserved = Arc::new(AtomicUsize::new(0));
    let charge_calls = Arc::new(AtomicUsize::new(0));
    let tasks = |reserved: Arc<AtomicUsize>, charge_calls: Arc<AtomicUsize>| {
        TaskRegistry::new()
            .with_fn("reserve", move |_| {
                let reserved = Arc::clone(&reserved);
                async move {
                    reserved.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, TaskFailure>(json!(1))
                }
            })
            .with_fn("charge", move |_| {
                let charge_calls = Arc::clone(&charge_calls);
                async move {
                    if charge_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, TaskFailure>(json!(2))
                }
            })
    };
    let before =
        TestApp::with_store(tasks(Arc::clone(&reserved), Arc::clone(&charge_calls)), Arc::clone(&store), clock.clone());
    before.engine.register("order", machine(&two_tasks()));
    before.engine.start_execution("order", "c2", json!({})).await.unwrap();
    until(|| charge_calls.load(Ordering::SeqCst) == 1).await;
    before.engine.shutdown().await;
    assert_eq!(before.engine.describe("c2").await.unwrap().current_state.as_deref(), Some("Charge"));

    let after = TestApp::with_store(tasks(Arc::clone(&reserved), Arc::clone(&charge_calls)), store, clock);
    after.engine.register("order", machine(&two_tasks()));
    after.engine.resume_running().await.unwrap();
    assert_eq!(after.engine.wait("c2").await.unwrap().status, ExecutionStatus::Succeeded);
    assert_eq!(reserved.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_wait_resumes_with_the_time_it_had_left() {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryStore::new());
    let clock = VirtualClock::manual(asl_engine::clock::VIRTUAL_EPOCH);
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let before = TestApp::with_store(TaskRegistry::new(), Arc::clone(&store), clock.clone());
    before.engine.register("m", machine(&definition));
    before.engine.start_execution("m", "w1", json!({})).await.unwrap();
    until(|| clock.pending_sleepers() == 1).await;
    clock.advance(std::time::Duration::from_secs(40));
    before.engine.shutdown().await;

    let after = TestApp::with_store(TaskRegistry::new(), store, clock.clone());
    after.engine.register("m", machine(&definition));
    after.engine.resume_running().await.unwrap();
    until(|| clock.pending_sleepers() == 1).await;
    clock.advance(std::time::Duration::from_secs(59));
    tokio::task::yield_now().await;
    assert_eq!(after.engine.describe("w1").await.unwrap().status, ExecutionStatus::Running);
    clock.advance(std::time::Duration::from_secs(1));
    let done = after.engine.wait("w1").await.unwrap();
    assert_eq!(done.stop_date, Some(asl_engine::clock::VIRTUAL_EPOCH + Duration::seconds(100)));
}

#[tokio::test]
async fn a_retry_wait_resumes_with_its_counter_and_deadline() {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryStore::new());
    let clock = VirtualClock::manual(asl_engine::clock::VIRTUAL_EPOCH);
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true,
        "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 30, "MaxAttempts": 2}]}}});
    let script = Script::new();
    let tasks = || {
        script.register(TaskRegistry::new(), "work", Some(clock.clone()), |_, _| Err(TaskFailure::new("Transient", "")))
    };
    let before = TestApp::with_store(tasks(), Arc::clone(&store), clock.clone());
    before.engine.register("m", machine(&definition));
    before.engine.start_execution("m", "r1", json!({})).await.unwrap();
    until(|| clock.pending_sleepers() == 1).await;
    before.engine.shutdown().await;

    let after = TestApp::with_store(tasks(), store, clock.clone());
    after.engine.register("m", machine(&definition));
    after.engine.resume_running().await.unwrap();
    until(|| clock.pending_sleepers() == 1).await;
    clock.advance(std::time::Duration::from_secs(30));
    until(|| script.calls() == 2 && clock.pending_sleepers() == 1).await;
    clock.advance(std::time::Duration::from_mins(1));
    let done = after.engine.wait("r1").await.unwrap();
    assert_eq!(done.error.as_deref(), Some("Transient"));
    assert_eq!(script.calls(), 3, "two retries in all, across the restart");
    assert_eq!(done.stop_date, Some(asl_engine::clock::VIRTUAL_EPOCH + Duration::seconds(90)));
}

#[tokio::test]
async fn an_execution_of_an_unregistered_machine_is_skipped_on_resume() {
    let store: Arc<dyn ExecutionStore> = Arc::new(MemoryStore::new());
    let clock = VirtualClock::manual(asl_engine::clock::VIRTUAL_EPOCH);
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}});
    let before = TestApp::with_store(TaskRegistry::new(), Arc::clone(&store), clock.clone());
    before.engine.register("m", machine(&definition));
    before.engine.start_execution("m", "orphan", json!({})).await.unwrap();
    before.engine.shutdown().await;
    let after = TestApp::with_store(TaskRegistry::new(), store, clock);
    let report = after.engine.resume_running().await.unwrap();
    assert_eq!(report.skipped, vec!["orphan".to_owned()]);
    assert!(matches!(after.engine.wait("orphan").await, Err(EngineError::NotDriven(_))));
}

#[tokio::test]
async fn a_stopped_execution_ends_aborted() {
    let clock = VirtualClock::manual(asl_engine::clock::VIRTUAL_EPOCH);
    let app = TestApp::with_store(TaskRegistry::new(), Arc::new(MemoryStore::new()), clock.clone());
    app.engine.register(
        "m",
        machine(&json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}})),
    );
    app.engine.start_execution("m", "stop-me", json!({})).await.unwrap();
    assert!(app.engine.stop_execution("stop-me", "UserCancelled", "by test"));
    let done = app.engine.wait("stop-me").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Aborted);
    assert_eq!(done.error.as_deref(), Some("UserCancelled"));
    assert_eq!(app.history_types("stop-me").await.last(), Some(&EventType::ExecutionAborted));
    assert!(!app.engine.stop_execution("stop-me", "", ""));
    assert_eq!(clock.now(), asl_engine::clock::VIRTUAL_EPOCH);
}

#[tokio::test]
async fn a_sqlite_store_keeps_the_history_of_finished_executions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.db");
    {
        let store: Arc<dyn ExecutionStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let app = TestApp::with_store(
            echo("reserve").with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(1)) }),
            store,
            VirtualClock::new(),
        );
        app.engine.register("order", machine(&two_tasks()));
        app.engine.start_execution("order", "kept", json!({"id": 5})).await.unwrap();
        app.engine.wait("kept").await.unwrap();
    }
    let store: Arc<dyn ExecutionStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let app = TestApp::with_store(TaskRegistry::new(), store, VirtualClock::new());
    let description = app.engine.describe("kept").await.unwrap();
    assert_eq!(description.status, ExecutionStatus::Succeeded);
    assert_eq!(app.engine.history("kept").await.unwrap().len(), 12);
}

/// A store whose first `create` never completes, as if the caller gave up while it ran.
#[derive(Debug, Default)]
struct StuckOnce {
    inner: MemoryStore,
    stuck: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ExecutionStore for StuckOnce {
    async fn create(
        &self,
        record: asl_engine::store::ExecutionRecord,
        events: Vec<asl_engine::HistoryEvent>,
    ) -> Result<asl_engine::store::Created, asl_engine::StoreError> {
        if !self.stuck.swap(true, Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.create(record, events).await
    }

    fn commit(&self, name: &str, commit: asl_engine::store::Commit) -> asl_engine::store::StoreFuture<()> {
        self.inner.commit(name, commit)
    }

    async fn load(&self, name: &str) -> Result<Option<asl_engine::store::ExecutionRecord>, asl_engine::StoreError> {
        self.inner.load(name).await
    }

    async fn history(&self, name: &str) -> Result<Vec<asl_engine::HistoryEvent>, asl_engine::StoreError> {
        self.inner.history(name).await
    }

    async fn running(&self) -> Result<Vec<asl_engine::store::ExecutionRecord>, asl_engine::StoreError> {
        self.inner.running().await
    }
}

#[tokio::test]
async fn a_start_abandoned_by_its_caller_does_not_hold_the_name() {
    let app = TestApp::with_store(TaskRegistry::new(), Arc::new(StuckOnce::default()), VirtualClock::new());
    app.engine.register("m", machine(&json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}})));
    let abandoned =
        tokio::time::timeout(std::time::Duration::from_millis(10), app.engine.start_execution("m", "x", json!({})));
    assert!(abandoned.await.is_err(), "the stuck start completed");
    let started = app.engine.start_execution("m", "x", json!({})).await.unwrap();
    assert!(!started.already_existed);
    assert_eq!(app.engine.wait("x").await.unwrap().status, ExecutionStatus::Succeeded);
}
