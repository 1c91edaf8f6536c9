//! A store that fails for a while: executions wait for it and carry on, and the engine says
//! it is not healthy meanwhile.

use std::sync::Arc;

use asl_engine::store::FlakyStore;
use asl_engine::{ExecutionStatus, TaskFailure, TaskRegistry, VirtualClock};
use serde_json::{Value, json};

use crate::helpers::{TestApp, machine};

fn three_steps() -> Value {
    json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": "reserve", "ResultPath": "$.reserved", "Next": "Note"},
        "Note": {"Type": "Pass", "Result": "noted", "ResultPath": "$.note", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "charge", "ResultPath": "$.charged", "End": true}
    }})
}

fn tasks() -> TaskRegistry {
    TaskRegistry::new()
        .with_fn("reserve", |_| async { Ok::<_, TaskFailure>(json!(true)) })
        .with_fn("charge", |_| async { Ok::<_, TaskFailure>(json!(true)) })
}

#[tokio::test]
async fn an_execution_whose_store_write_fails_once_is_retried_and_completes() {
    let store = Arc::new(FlakyStore::new());
    let app = TestApp::with_store(tasks(), store.clone(), VirtualClock::new());
    app.engine.register("order", machine(&three_steps()));
    // The start is written by `create`; the commits of the steps after it fail, twice.
    store.fail_next(2);

    app.engine.start_execution("order", "ord_flaky", json!({"id": 1})).await.unwrap();
    let done = app.engine.wait("ord_flaky").await.expect("the execution ends instead of stalling");

    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(&json!({"id": 1, "reserved": true, "note": "noted", "charged": true})));
    assert_eq!(store.refused(), 2);
    let ids: Vec<u64> = app.engine.history("ord_flaky").await.unwrap().iter().map(|e| e.id).collect();
    let expected: Vec<u64> = (1..=u64::try_from(ids.len()).unwrap()).collect();
    assert_eq!(ids, expected, "a retried write records its events once, in order");
    assert!(app.engine.health().is_healthy());
}

#[tokio::test]
async fn while_the_store_is_down_the_engine_reports_itself_unhealthy_and_recovers_after() {
    let store = Arc::new(FlakyStore::new());
    let app = TestApp::with_store(tasks(), store.clone(), VirtualClock::new());
    app.engine.register("order", machine(&three_steps()));
    store.set_down(true);

    app.engine.start_execution("order", "ord_outage", json!({"id": 2})).await.unwrap();
    while app.engine.health().is_healthy() {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let health = app.engine.health();
    assert_eq!(health.store_writes_retrying, 1, "{health:?}");
    assert!(health.store_error.as_deref().is_some_and(|e| e.contains("disk I/O error")), "{health:?}");

    store.set_down(false);
    let done = app.engine.wait("ord_outage").await.expect("the execution ends once the store is back");
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert!(app.engine.health().is_healthy(), "{:?}", app.engine.health());
}
