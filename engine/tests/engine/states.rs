//! The state types: Pass, Choice, Wait, Succeed, Fail, Parallel and Map.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use asl_engine::{Clock, EventType, ExecutionStatus, TaskFailure, TaskInvocation, TaskRegistry, VirtualClock};
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Script, TestApp, echo, failing, machine, run, types};

fn choice_machine() -> Value {
    json!({"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Choices": [
            {"Variable": "$.total", "NumericGreaterThanEquals": 100, "Next": "Big"},
            {"And": [{"Variable": "$.country", "IsPresent": true}, {"Variable": "$.country", "StringMatches": "F*"}], "Next": "French"}
        ], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "French": {"Type": "Pass", "Result": "french", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true}
    }})
}

#[tokio::test]
async fn a_choice_takes_the_first_matching_rule_or_the_default() {
    let app = TestApp::new(TaskRegistry::new());
    assert_eq!(app.output(&choice_machine(), json!({"total": 150, "country": "FR"})).await, json!("big"));
    assert_eq!(app.output(&choice_machine(), json!({"total": 10, "country": "FR"})).await, json!("french"));
    assert_eq!(app.output(&choice_machine(), json!({"total": 10})).await, json!("small"));
}

#[tokio::test]
async fn a_choice_without_a_match_or_default_fails_with_states_no_choice_matched() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": true, "Next": "D"}]},
        "D": {"Type": "Succeed"}
    }});
    let done = run(&definition, json!({"a": false}), TaskRegistry::new()).await;
    assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn a_choice_passes_its_input_through_output_path() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "OutputPath": "$.keep", "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "D"}]},
        "D": {"Type": "Succeed"}
    }});
    let app = TestApp::new(TaskRegistry::new());
    assert_eq!(app.output(&definition, json!({"go": true, "keep": {"k": 1}})).await, json!({"k": 1}));
}

#[tokio::test]
async fn a_wait_of_seconds_takes_virtual_time_not_real_time() {
    let app = TestApp::new(TaskRegistry::new());
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let started = std::time::Instant::now();
    let done = app.run(&definition, json!({"x": 1})).await;
    assert_eq!(done.output.as_deref(), Some(&json!({"x": 1})));
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::hours(1)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the wait took real time");
}

#[tokio::test]
async fn a_wait_reads_seconds_or_a_timestamp_from_the_input() {
    let app = TestApp::new(TaskRegistry::new());
    let by_seconds = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.delay", "End": true}}});
    let done = app.run(&by_seconds, json!({"delay": 90})).await;
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(90)));

    let by_timestamp =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.until", "End": true}}});
    let until = app.clock.now() + Duration::minutes(5);
    let until_text = until.format(&time::format_description::well_known::Rfc3339).unwrap();
    let done = app.run(&by_timestamp, json!({"until": until_text})).await;
    assert_eq!(done.stop_date, Some(until));
}

#[tokio::test]
async fn a_wait_until_a_past_timestamp_ends_at_once() {
    let app = TestApp::new(TaskRegistry::new());
    let definition =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": true}}});
    let done = app.run(&definition, json!({})).await;
    assert_eq!(done.stop_date, Some(done.start_date));
}

#[tokio::test]
async fn a_wait_with_a_negative_seconds_path_fails_with_states_runtime() {
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.delay", "End": true}}});
    let done = run(&definition, json!({"delay": -1}), TaskRegistry::new()).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn a_fail_state_ends_the_execution_with_its_error_and_cause() {
    let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "RefundFailed", "Cause": "the card is gone"}}});
    let done = run(&definition, json!({}), TaskRegistry::new()).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!((done.error.as_deref(), done.cause.as_deref()), (Some("RefundFailed"), Some("the card is gone")));
}

#[tokio::test]
async fn a_fail_state_can_take_error_and_cause_from_paths_and_intrinsics() {
    let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('order {} failed', $.id)"}}});
    let done = run(&definition, json!({"e": "Custom", "id": 7}), TaskRegistry::new()).await;
    assert_eq!((done.error.as_deref(), done.cause.as_deref()), (Some("Custom"), Some("order 7 failed")));
}

#[tokio::test]
async fn a_succeed_state_applies_input_and_output_paths() {
    let definition =
        json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    let app = TestApp::new(TaskRegistry::new());
    assert_eq!(app.output(&definition, json!({"a": {"b": 2}})).await, json!(2));
}

fn parallel_machine() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "ResultPath": "$.results", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "echo", "Parameters": {"branch": "a", "n.$": "$.n"}, "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
    ]}}})
}

#[tokio::test]
async fn a_parallel_state_outputs_its_branch_results_in_branch_order() {
    let app = TestApp::new(echo("echo"));
    let output = app.output(&parallel_machine(), json!({"n": 1})).await;
    assert_eq!(output, json!({"n": 1, "results": [{"branch": "a", "n": 1}, "b"]}));
}

#[tokio::test]
async fn a_failing_branch_cancels_its_siblings_and_can_be_caught() {
    let sibling_cancelled = Arc::new(AtomicBool::new(false));
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = Arc::clone(&sibling_cancelled);
    let tasks = failing("boom", "BranchBroke", "on purpose").with_fn("slow", move |_| {
        let guard = SetOnDrop(Arc::clone(&flag));
        async move {
            std::future::pending::<()>().await;
            drop(guard);
            Ok::<Value, TaskFailure>(json!(null))
        }
    });
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Done", "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.error", "Next": "Done"}], "Branches": [
            {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "slow", "End": true}}},
            {"StartAt": "Boom", "States": {"Boom": {"Type": "Task", "Resource": "boom", "End": true}}}
        ]},
        "Done": {"Type": "Succeed"}
    }});
    let app = TestApp::new(tasks);
    let output = app.output(&definition, json!({"id": 1})).await;
    assert_eq!(output, json!({"id": 1, "error": {"Error": "BranchBroke", "Cause": "on purpose"}}));
    assert!(sibling_cancelled.load(Ordering::SeqCst), "the slow branch was not cancelled");
}

fn map_machine(extra: Value) -> Value {
    let mut map = json!({"Type": "Map", "ItemsPath": "$.detail.shipped", "ResultPath": "$.detail.shipped", "End": true,
        "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "courier.$": "$.detail.delivery-partner"},
        "ItemProcessor": {"StartAt": "Ship", "States": {"Ship": {"Type": "Task", "Resource": "ship", "End": true}}}});
    if let (Value::Object(map), Value::Object(extra)) = (&mut map, extra) {
        map.extend(extra);
    }
    json!({"StartAt": "M", "States": {"M": map}})
}

fn shipment() -> Value {
    json!({"ship-date": "2016-03-14T01:59:00Z", "detail": {"delivery-partner": "UQS", "shipped": [
        {"prod": "R31", "dest-code": 9511, "quantity": 1344},
        {"prod": "S39", "dest-code": 9511, "quantity": 40},
        {"prod": "R31", "dest-code": 9833, "quantity": 12}
    ]}})
}

#[tokio::test]
async fn a_map_runs_its_processor_per_item_with_item_selector_and_keeps_order() {
    let app = TestApp::new(echo("ship"));
    let output = app.output(&map_machine(json!({})), shipment()).await;
    let shipped = &output["detail"]["shipped"];
    assert_eq!(shipped.as_array().map(Vec::len), Some(3));
    assert_eq!(
        shipped[0],
        json!({"parcel": {"prod": "R31", "dest-code": 9511, "quantity": 1344}, "index": 0, "courier": "UQS"})
    );
    assert_eq!(shipped[2]["index"], json!(2));
    assert_eq!(output["ship-date"], json!("2016-03-14T01:59:00Z"));
}

#[tokio::test]
async fn a_map_with_max_concurrency_runs_at_most_that_many_items_at_once() {
    let clock = VirtualClock::new();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let (clock, running, peak) = (clock.clone(), Arc::clone(&running), Arc::clone(&peak));
        TaskRegistry::new().with_fn("ship", move |invocation: TaskInvocation| {
            let (clock, running, peak) = (clock.clone(), Arc::clone(&running), Arc::clone(&peak));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                clock.sleep_until(clock.now() + Duration::seconds(10)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, TaskFailure>(invocation.input)
            }
        })
    };
    let app = TestApp::with_store(tasks, Arc::new(asl_engine::MemoryStore::new()), clock);
    let mut input = shipment();
    input["detail"]["shipped"] = json!([1, 2, 3, 4, 5, 6, 7]);
    let done = app.run(&map_machine(json!({"MaxConcurrency": 2})), input).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(
        done.stop_date.map(|stop| stop - done.start_date),
        Some(Duration::seconds(40)),
        "7 items, 2 at a time, 10 s each"
    );
}

#[tokio::test]
async fn a_legacy_map_with_iterator_and_parameters_still_runs() {
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "Parameters": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let app = TestApp::new(TaskRegistry::new());
    assert_eq!(app.output(&definition, json!(["a", "b"])).await, json!([{"v": "a", "i": 0}, {"v": "b", "i": 1}]));
}

#[tokio::test]
async fn a_map_over_a_non_array_fails_with_states_runtime() {
    let done =
        run(&map_machine(json!({})), json!({"detail": {"delivery-partner": "x", "shipped": "nope"}}), echo("ship"))
            .await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn a_failing_iteration_fails_the_map_with_its_error() {
    let done = run(&map_machine(json!({})), shipment(), failing("ship", "CarrierUnavailable", "strike")).await;
    assert_eq!((done.error.as_deref(), done.cause.as_deref()), (Some("CarrierUnavailable"), Some("strike")));
}

#[tokio::test]
async fn map_iterations_are_recorded_in_the_history() {
    let app = TestApp::new(echo("ship"));
    app.engine.register("map", machine(&map_machine(json!({}))));
    app.engine.start_execution("map", "map-1", shipment()).await.unwrap();
    app.engine.wait("map-1").await.unwrap();
    let history = app.engine.history("map-1").await.unwrap();
    let count = |t: EventType| history.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count(EventType::MapStateStarted), 1);
    assert_eq!(count(EventType::MapIterationStarted), 3);
    assert_eq!(count(EventType::MapIterationSucceeded), 3);
    assert_eq!(count(EventType::TaskSucceeded), 3);
    let iteration_indexes: Vec<Option<u64>> =
        history.iter().filter(|e| e.event_type == EventType::TaskScheduled).map(|e| e.map_index).collect();
    assert_eq!(iteration_indexes.len(), 3);
    assert!(iteration_indexes.iter().all(Option::is_some));
    assert_eq!(types(&history).last(), Some(&EventType::ExecutionSucceeded));
}

#[tokio::test]
async fn a_task_gets_a_stable_attempt_id_per_map_item() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "ship", None, |_, invocation| Ok(invocation.input.clone()));
    let app = TestApp::new(tasks);
    app.engine.register("map", machine(&map_machine(json!({}))));
    app.engine.start_execution("map", "ids", shipment()).await.unwrap();
    app.engine.wait("ids").await.unwrap();
    let mut ids: Vec<String> = (0..3).map(|i| script.invocation(i).context.attempt_id).collect();
    ids.sort();
    assert_eq!(ids, vec!["ids/M[0]/Ship#0", "ids/M[1]/Ship#0", "ids/M[2]/Ship#0"]);
}

#[tokio::test]
async fn a_state_visited_twice_gets_two_attempt_ids() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "count", None, |call, _| Ok(json!(call)));
    let definition = json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Task", "Resource": "count", "ResultPath": "$.n", "Next": "Again?"},
        "Again?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 1, "Next": "Count"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let app = TestApp::new(tasks);
    app.engine.register("loop", machine(&definition));
    app.engine.start_execution("loop", "twice", json!({})).await.unwrap();
    app.engine.wait("twice").await.unwrap();
    let ids: Vec<String> = (0..2).map(|i| script.invocation(i).context.attempt_id).collect();
    assert_eq!(ids, vec!["twice/Count#0", "twice/Count#2"]);
}

#[tokio::test]
async fn a_failing_iteration_cancels_the_iterations_still_running() {
    let clock = VirtualClock::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let (clock, finished) = (clock.clone(), Arc::clone(&finished));
        TaskRegistry::new().with_fn("ship", move |invocation: TaskInvocation| {
            let (clock, finished) = (clock.clone(), Arc::clone(&finished));
            async move {
                if invocation.input["parcel"] == json!("bad") {
                    return Err(TaskFailure::new("AddressUndeliverable", "no such street"));
                }
                clock.sleep_until(clock.now() + Duration::hours(1)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(json!("shipped"))
            }
        })
    };
    let app = TestApp::with_store(tasks, Arc::new(asl_engine::MemoryStore::new()), clock);
    let mut input = shipment();
    input["detail"]["shipped"] = json!(["slow", "slow", "bad", "slow"]);
    let done = app.run(&map_machine(json!({})), input).await;
    assert_eq!(done.error.as_deref(), Some("AddressUndeliverable"));
    assert_eq!(done.stop_date, Some(done.start_date), "the map waited for the slow items");
    assert_eq!(finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_parallel_state_applies_result_selector_to_its_branch_results() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
    "ResultSelector": {"first.$": "$[0]", "count.$": "States.ArrayLength($)"}, "ResultPath": "$.summary",
    "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
    ]}}});
    let app = TestApp::new(TaskRegistry::new());
    assert_eq!(app.output(&definition, json!({"k": 1})).await, json!({"k": 1, "summary": {"first": "a", "count": 2}}));
}

#[tokio::test]
async fn a_retried_parallel_state_runs_all_its_branches_again() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "flaky", None, |call, _| {
        if call == 0 { Err(TaskFailure::new("Transient", "first")) } else { Ok(json!("ok")) }
    });
    let tasks = tasks.with_fn("steady", |_| async { Ok::<_, TaskFailure>(json!("steady")) });
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
    "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 5}],
    "Branches": [
        {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": "flaky", "End": true}}},
        {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "steady", "End": true}}}
    ]}}});
    let app = TestApp::new(tasks);
    let done = app.run(&definition, json!({})).await;
    assert_eq!(done.output.as_deref(), Some(&json!(["ok", "steady"])));
    assert_eq!(script.calls(), 2);
    assert_eq!(done.stop_date.map(|stop| stop - done.start_date), Some(Duration::seconds(5)));
}

#[tokio::test]
async fn a_map_inside_a_parallel_branch_runs_with_nested_scopes() {
    let script = Script::new();
    let tasks = script.register(TaskRegistry::new(), "echo", None, |_, invocation| Ok(invocation.input.clone()));
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "E", "States": {"E": {"Type": "Task", "Resource": "echo", "End": true}}}}}}
    ]}}});
    let app = TestApp::new(tasks);
    app.engine.register("nested", machine(&definition));
    app.engine.start_execution("nested", "n1", json!({"items": [1, 2]})).await.unwrap();
    let done = app.engine.wait("n1").await.unwrap();
    assert_eq!(done.output.as_deref(), Some(&json!([[1, 2]])));
    let mut ids: Vec<String> = (0..2).map(|i| script.invocation(i).context.attempt_id).collect();
    ids.sort();
    assert_eq!(ids, vec!["n1/P[0]/M[0]/E#0", "n1/P[0]/M[1]/E#0"]);
}
