//! An execution store that fails for a while under the whole runtime: `/health` says the
//! engine is degraded meanwhile, and the order carries on once the store is back.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_engine::ExecutionStore;
use asl_engine::store::FlakyStore;
use orderflow_tests::{Api, TestApp, order_body};
use serde_json::Value;

async fn health(api: &Api) -> (u16, Value) {
    let response = api.get("/health").send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_degraded_engine_while_its_store_fails_and_the_order_ships_after() {
    let store = Arc::new(FlakyStore::new());
    let dynamic: Arc<dyn ExecutionStore> = store.clone();
    let app = TestApp::spawn_with(|config| config.execution_store = Some(dynamic)).await;
    assert_eq!(health(&app).await.0, 200);

    store.set_down(true);
    let order = app.place_order(&order_body()).await;
    let id = order["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body) = health(&app).await;
        if status != 200 {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "/health never noticed the failing store: {body}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["components"]["engine"], "degraded", "{body}");
    assert_eq!(body["components"]["orderStore"], "ok", "{body}");

    store.set_down(false);
    app.order_reaching(id, "shipped").await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["components"]["engine"], "ok", "{body}");
}
