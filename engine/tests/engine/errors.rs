//! Retry, Catch, timeouts, heartbeats and the predefined errors.

use std::sync::Arc;

use asl_engine::{
    Clock, EventType, ExecutionStatus, MemoryStore, TaskFailure, TaskInvocation, TaskRegistry, VirtualClock,
};
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Script, TestApp, failing, returning, run, types};

fn task_with(fields: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": "work", "Next": "Done"});
    if let (Value::Object(state), Value::Object(fields)) = (&mut state, fields) {
        state.extend(fields);
    }
    let mut states = json!({"Work": state, "Done": {"Type": "Succeed"}});
    if states.to_string().contains("Recover") {
        states["Recover"] = json!({"Type": "Pass", "End": true});
    }
    json!({"StartAt": "Work", "States": states})
}

/// A handler that fails with `error` `failures` times, then succeeds.
fn flaky(script: &Script, clock: &VirtualClock, error: &'static str, failures: usize) -> TaskRegistry {
    script.register(TaskRegistry::new(), "work", Some(clock.clone()), move |call, _| {
        if call < failures { Err(TaskFailure::new(error, format!("attempt {call}"))) } else { Ok(json!({"ok": true})) }
    })
}

fn seconds_between(times: &[time::OffsetDateTime]) -> Vec<i64> {
    times.windows(2).map(|w| (w[1] - w[0]).whole_seconds()).collect()
}

#[tokio::test]
async fn a_retrier_waits_interval_seconds_growing_by_the_backoff_rate_on_virtual_time() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let app = TestApp::with_store(flaky(&script, &clock, "Transient", 3), Arc::new(MemoryStore::new()), clock);
    let definition =
        task_with(json!({"Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 30, "MaxAttempts": 5}]}));
    let started = std::time::Instant::now();
    let done = app.run(&definition, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(seconds_between(&script.call_times()), vec![30, 60, 120]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn the_default_retrier_waits_one_second_doubling_and_tries_three_more_times() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let app = TestApp::with_store(flaky(&script, &clock, "Transient", 10), Arc::new(MemoryStore::new()), clock);
    let done = app.run(&task_with(json!({"Retry": [{"ErrorEquals": ["Transient"]}]})), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("Transient"));
    assert_eq!(script.calls(), 4);
    assert_eq!(seconds_between(&script.call_times()), vec![1, 2, 4]);
}

#[tokio::test]
async fn a_retrier_with_max_attempts_zero_never_retries() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let app = TestApp::with_store(flaky(&script, &clock, "Transient", 1), Arc::new(MemoryStore::new()), clock);
    let done =
        app.run(&task_with(json!({"Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 0}]})), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(script.calls(), 1);
}

#[tokio::test]
async fn max_delay_seconds_caps_each_wait() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let app = TestApp::with_store(flaky(&script, &clock, "Transient", 4), Arc::new(MemoryStore::new()), clock);
    let retry = json!({"Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 10, "BackoffRate": 3.0, "MaxDelaySeconds": 50, "MaxAttempts": 4}]});
    app.run(&task_with(retry), json!({})).await;
    assert_eq!(seconds_between(&script.call_times()), vec![10, 30, 50, 50]);
}

#[tokio::test]
async fn full_jitter_waits_at_most_the_nominal_delay_and_is_reproducible_with_a_seed() {
    let run_once = || async {
        let clock = VirtualClock::new();
        let script = Script::new();
        let app = TestApp::with_store(flaky(&script, &clock, "Transient", 3), Arc::new(MemoryStore::new()), clock);
        let retry =
            json!({"Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 100, "JitterStrategy": "FULL"}]});
        app.run(&task_with(retry), json!({})).await;
        script.call_times().windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
    };
    let first = run_once().await;
    assert_eq!(first.len(), 3);
    for (delay, nominal) in first.iter().zip([100, 200, 400]) {
        assert!(*delay <= Duration::seconds(nominal), "{delay} exceeds {nominal} s");
    }
    assert!(first.iter().zip([100, 200, 400]).any(|(d, n)| *d < Duration::seconds(n)), "no jitter was applied");
    assert_eq!(first, run_once().await);
}

#[tokio::test]
async fn each_retrier_counts_its_own_attempts() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "work", Some(clock.clone()), |call, _| match call {
        0 | 2 => Err(TaskFailure::new("A", "")),
        1 | 3 => Err(TaskFailure::new("B", "")),
        _ => Ok(json!(null)),
    });
    let app = TestApp::with_store(tasks, Arc::new(MemoryStore::new()), clock);
    let retry = json!({"Retry": [{"ErrorEquals": ["A"], "MaxAttempts": 2}, {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 5}]});
    let done = app.run(&task_with(retry), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(seconds_between(&script.call_times()), vec![1, 5, 2, 10]);
}

#[tokio::test]
async fn the_retry_count_reaches_the_handler_and_the_context_object_while_the_attempt_id_stays() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let tasks = flaky(&script, &clock, "Transient", 2);
    let app = TestApp::with_store(tasks, Arc::new(MemoryStore::new()), clock);
    let definition =
        task_with(json!({"Parameters": {"retry.$": "$$.State.RetryCount"}, "Retry": [{"ErrorEquals": ["Transient"]}]}));
    app.run(&definition, json!({})).await;
    let counts: Vec<u32> = (0..3).map(|i| script.invocation(i).context.retry_count).collect();
    assert_eq!(counts, vec![0, 1, 2]);
    assert_eq!(script.inputs(), vec![json!({"retry": 0}), json!({"retry": 1}), json!({"retry": 2})]);
    let ids: Vec<String> = (0..3).map(|i| script.invocation(i).context.attempt_id).collect();
    assert!(ids.iter().all(|id| id == &ids[0]));
}

#[tokio::test]
async fn a_catcher_replaces_the_input_with_the_error_output_by_default() {
    let definition = task_with(json!({"Catch": [{"ErrorEquals": ["PaymentDeclined"], "Next": "Recover"}]}));
    let app = TestApp::new(failing("work", "PaymentDeclined", "insufficient funds"));
    let output = app.output(&definition, json!({"order": 1})).await;
    assert_eq!(output, json!({"Error": "PaymentDeclined", "Cause": "insufficient funds"}));
}

#[tokio::test]
async fn a_catcher_with_result_path_adds_the_error_to_the_input() {
    let definition =
        task_with(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}]}));
    let app = TestApp::new(failing("work", "PaymentDeclined", "insufficient funds"));
    let output = app.output(&definition, json!({"order": 1})).await;
    assert_eq!(output, json!({"order": 1, "error": {"Error": "PaymentDeclined", "Cause": "insufficient funds"}}));
}

#[tokio::test]
async fn retries_run_out_before_the_catcher_takes_over() {
    let clock = VirtualClock::new();
    let script = Script::new();
    let app = TestApp::with_store(flaky(&script, &clock, "Transient", 100), Arc::new(MemoryStore::new()), clock);
    let definition = task_with(json!({
        "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "Recover"}]
    }));
    let output = app.output(&definition, json!({"kept": true})).await;
    assert_eq!(output, json!({"kept": true}));
    assert_eq!(script.calls(), 3);
}

#[tokio::test]
async fn states_task_failed_catches_task_errors_but_not_timeouts() {
    let definition = task_with(json!({"Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Recover"}]}));
    let done = run(&definition, json!({}), failing("work", "Anything", "")).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let done = run(&definition, json!({}), failing("work", "States.Timeout", "")).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
}

/// A handler that takes `seconds` of virtual time, beating every `beat` seconds if given.
fn slow(clock: &VirtualClock, seconds: i64, beat: Option<i64>) -> TaskRegistry {
    let clock = clock.clone();
    TaskRegistry::new().with_fn("work", move |invocation: TaskInvocation| {
        let clock = clock.clone();
        async move {
            let end = clock.now() + Duration::seconds(seconds);
            while clock.now() < end {
                let step = beat.map_or(end, |b| (clock.now() + Duration::seconds(b)).min(end));
                clock.sleep_until(step).await;
                invocation.context.heartbeat.beat();
            }
            Ok::<_, TaskFailure>(json!("finished"))
        }
    })
}

#[tokio::test]
async fn a_task_running_past_timeout_seconds_fails_with_states_timeout() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 100, None), Arc::new(MemoryStore::new()), clock);
    app.engine.register("m", crate::helpers::machine(&task_with(json!({"TimeoutSeconds": 10}))));
    app.engine.start_execution("m", "late", json!({})).await.unwrap();
    let done = app.engine.wait("late").await.unwrap();
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(10)));
    assert!(app.history_types("late").await.contains(&EventType::TaskTimedOut));
}

#[tokio::test]
async fn timeout_seconds_path_reads_the_timeout_from_the_input() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 100, None), Arc::new(MemoryStore::new()), clock);
    let done = app.run(&task_with(json!({"TimeoutSecondsPath": "$.limit"})), json!({"limit": 5})).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(5)));
}

#[tokio::test]
async fn a_task_that_stops_beating_fails_with_states_heartbeat_timeout() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 100, None), Arc::new(MemoryStore::new()), clock);
    let done = app.run(&task_with(json!({"TimeoutSeconds": 300, "HeartbeatSeconds": 20})), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(20)));
}

#[tokio::test]
async fn a_task_that_beats_in_time_runs_past_its_heartbeat_interval() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 100, Some(15)), Arc::new(MemoryStore::new()), clock);
    let done = app.run(&task_with(json!({"HeartbeatSeconds": 20, "ResultPath": "$.r"})), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some(&json!({"r": "finished"})));
}

#[tokio::test]
async fn a_timed_out_task_can_be_retried() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 100, None), Arc::new(MemoryStore::new()), clock);
    let definition = task_with(
        json!({"TimeoutSeconds": 10, "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1, "IntervalSeconds": 5}]}),
    );
    let done = app.run(&definition, json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(25)));
}

#[tokio::test]
async fn the_machine_timeout_ends_the_execution_timed_out() {
    let clock = VirtualClock::new();
    let app = TestApp::with_store(slow(&clock, 1000, None), Arc::new(MemoryStore::new()), clock);
    let mut definition = task_with(json!({}));
    definition["TimeoutSeconds"] = json!(60);
    app.engine.register("m", crate::helpers::machine(&definition));
    app.engine.start_execution("m", "slowpoke", json!({})).await.unwrap();
    let done = app.engine.wait("slowpoke").await.unwrap();
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(app.history_types("slowpoke").await.last(), Some(&EventType::ExecutionTimedOut));
}

#[tokio::test]
async fn a_resource_without_a_handler_fails_the_execution_clearly() {
    let definition = task_with(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]}));
    let done = run(&definition, json!({}), TaskRegistry::new()).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap_or_default().contains("'work'"));
}

#[tokio::test]
async fn an_oversized_task_result_exceeds_the_data_limit_and_is_not_caught_by_states_all() {
    let big = json!("x".repeat(300 * 1024));
    let definition = task_with(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]}));
    let done = run(&definition, json!({}), returning("work", big.clone())).await;
    assert_eq!(done.error.as_deref(), Some("States.DataLimitExceeded"));
    let named = task_with(
        json!({"Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": null, "Next": "Recover"}]}),
    );
    let done = run(&named, json!({}), returning("work", big)).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_failed_task_is_recorded_with_its_error_in_the_history() {
    let app = TestApp::new(failing("work", "OutOfStock", "sku-1"));
    app.engine.register("m", crate::helpers::machine(&task_with(json!({}))));
    app.engine.start_execution("m", "oos", json!({})).await.unwrap();
    app.engine.wait("oos").await.unwrap();
    let history = app.engine.history("oos").await.unwrap();
    assert_eq!(
        types(&history),
        vec![
            EventType::ExecutionStarted,
            EventType::TaskStateEntered,
            EventType::TaskScheduled,
            EventType::TaskStarted,
            EventType::TaskFailed,
            EventType::ExecutionFailed
        ]
    );
    let failed = &history[4];
    assert_eq!((failed.error.as_deref(), failed.cause.as_deref()), (Some("OutOfStock"), Some("sku-1")));
}
