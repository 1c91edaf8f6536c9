//! An execution store that fails for a while under the whole runtime: `/health` says the
//! engine is degraded meanwhile, and the order carries on once the store is back.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use asl_engine::store::{Commit, Created, ExecutionRecord, StoreFuture};
use asl_engine::{ExecutionStore, HistoryEvent, MemoryStore, StoreError};
use async_trait::async_trait;
use orderflow_tests::{Api, TestApp, order_body};
use serde_json::Value;

/// The in-memory execution store, whose commits fail while `down` is set.
#[derive(Debug, Default)]
struct FailingWhileDown {
    inner: MemoryStore,
    down: AtomicBool,
}

#[async_trait]
impl ExecutionStore for FailingWhileDown {
    async fn create(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) -> Result<Created, StoreError> {
        self.inner.create(record, events).await
    }

    fn commit(&self, name: &str, commit: Commit) -> StoreFuture<()> {
        if self.down.load(Ordering::Acquire) {
            return StoreFuture::ready(Err(StoreError::CommitFailed("disk I/O error".into())));
        }
        self.inner.commit(name, commit)
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.load(name).await
    }

    async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.inner.history(name).await
    }

    async fn running(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.running().await
    }
}

async fn health(api: &Api) -> (u16, Value) {
    let response = api.get("/health").send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_degraded_engine_while_its_store_fails_and_the_order_ships_after() {
    let store = Arc::new(FailingWhileDown::default());
    let dynamic: Arc<dyn ExecutionStore> = store.clone();
    let app = TestApp::spawn_with(|config| config.execution_store = Some(dynamic)).await;
    assert_eq!(health(&app).await.0, 200);

    store.down.store(true, Ordering::Release);
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

    store.down.store(false, Ordering::Release);
    app.order_reaching(id, "shipped").await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["components"]["engine"], "ok", "{body}");
}
