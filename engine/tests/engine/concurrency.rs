//! Many executions at once on one runtime, with a bound on tasks in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use asl_engine::{
    Clock, Engine, ExecutionStatus, MemoryStore, TaskFailure, TaskInvocation, TaskRegistry, VirtualClock,
};
use serde_json::json;
use time::Duration;

use crate::helpers::machine;

fn saga() -> serde_json::Value {
    json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "work", "ResultPath": "$.result", "Next": "Pause",
                 "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 30}]},
        "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.result.n", "NumericGreaterThanEquals": 0, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_executions_run_at_once_with_retries_and_waits_on_virtual_time() {
    let clock = VirtualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let calls = Arc::clone(&calls);
        TaskRegistry::new().with_fn("work", move |invocation: TaskInvocation| {
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                if invocation.context.retry_count == 0 && invocation.input["n"].as_u64().unwrap_or(0).is_multiple_of(3)
                {
                    return Err(TaskFailure::new("Transient", "first try"));
                }
                Ok(json!({"n": invocation.input["n"]}))
            }
        })
    };
    let engine =
        Engine::builder().store(Arc::new(MemoryStore::new())).tasks(tasks).clock(Arc::new(clock.clone())).build();
    engine.register("saga", machine(&saga()));
    let count = 3000u64;
    for n in 0..count {
        engine.start_execution("saga", &format!("e{n}"), json!({"n": n})).await.unwrap();
    }
    for n in 0..count {
        let done = engine.wait(&format!("e{n}")).await.unwrap();
        assert_eq!(done.status, ExecutionStatus::Succeeded, "e{n}: {:?}", done.cause);
    }
    assert_eq!(calls.load(Ordering::SeqCst), usize::try_from(count + count.div_ceil(3)).unwrap());
    assert_eq!(engine.live_executions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_tasks_in_flight_run_at_once() {
    let clock = VirtualClock::new();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks = {
        let (clock, running, peak) = (clock.clone(), Arc::clone(&running), Arc::clone(&peak));
        TaskRegistry::new().with_fn("work", move |_| {
            let (clock, running, peak) = (clock.clone(), Arc::clone(&running), Arc::clone(&peak));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                clock.sleep_until(clock.now() + Duration::seconds(5)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, TaskFailure>(json!({"n": 1}))
            }
        })
    };
    let engine = Engine::builder()
        .store(Arc::new(MemoryStore::new()))
        .tasks(tasks)
        .clock(Arc::new(clock))
        .max_tasks_in_flight(3)
        .build();
    engine.register("saga", machine(&saga()));
    for n in 0..40 {
        engine.start_execution("saga", &format!("b{n}"), json!({"n": 1})).await.unwrap();
    }
    for n in 0..40 {
        assert_eq!(engine.wait(&format!("b{n}")).await.unwrap().status, ExecutionStatus::Succeeded);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}
