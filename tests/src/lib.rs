//! Test support: a real server on a real socket, over a fresh data directory.
//!
//! `TestApp::spawn()` starts the local runtime on `127.0.0.1:0` in this process and gives typed
//! calls to it; `restart()` stops it and starts a new one on the same data directory, as a
//! process restart would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use orderflow::{Config, Runtime};
use orderflow_api::AppState;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running local server and a client for it.
#[derive(Debug)]
pub struct TestApp {
    pub address: SocketAddr,
    pub client: Client,
    pub config: Config,
    /// The runtime's state, to arrange situations the API cannot produce on its own (an order
    /// that has shipped, say) through the same ports the workflow uses.
    pub state: AppState,
    data_dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl TestApp {
    /// The whole runtime over a fresh, empty data directory: orders are processed by the saga.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The runtime with its workflows paused: orders are accepted and stay `pending`, which is
    /// what tests of the API alone need.
    pub async fn with_workflows_paused() -> Self {
        Self::spawn_with(|config| config.workflows_paused = true).await
    }

    /// A server over a fresh data directory, with the configuration adjusted by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("a temporary data directory"));
        let mut config = Config::for_tests(data_dir.path());
        configure(&mut config);
        Self::start(config, data_dir).await
    }

    async fn start(config: Config, data_dir: Arc<tempfile::TempDir>) -> Self {
        let listener = tokio::net::TcpListener::bind(config.bind).await.expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let runtime = Runtime::open(&config, &format!("http://{address}")).await.expect("the runtime opens");
        let state = runtime.state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            orderflow::serve(listener, runtime, async move {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        Self { address, client: Client::new(), config, state, data_dir, stop: Some(stop), server: Some(server) }
    }

    /// Stops the server (finishing requests in flight) and starts a new one on the same data
    /// directory.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        let mut config = self.config.clone();
        config.bind.set_port(0);
        Self::start(config, Arc::clone(&self.data_dir)).await
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server stops cleanly");
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub async fn post_order(&self, body: &Value) -> Response {
        self.client.post(self.url("/api/v0/orders")).json(body).send().await.expect("the request is sent")
    }

    pub async fn post_order_with_key(&self, body: &Value, key: &str) -> Response {
        self.client
            .post(self.url("/api/v0/orders"))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// Places a valid order and returns its JSON.
    pub async fn place_order(&self, body: &Value) -> Value {
        let response = self.post_order(body).await;
        assert_eq!(response.status(), 202, "placing {body} failed");
        response.json().await.expect("an order")
    }

    pub async fn get_order(&self, id: &str) -> Response {
        self.get(&format!("/api/v0/orders/{id}")).send().await.expect("the request is sent")
    }

    /// Every order, following the pages.
    pub async fn all_orders(&self) -> Vec<Value> {
        let mut orders = Vec::new();
        let mut path = "/api/v0/orders?limit=100".to_owned();
        loop {
            let page: Value = self.get(&path).send().await.expect("sent").json().await.expect("a page");
            orders.extend(page["orders"].as_array().expect("orders").iter().cloned());
            match page["nextCursor"].as_str() {
                Some(cursor) => path = format!("/api/v0/orders?limit=100&cursor={cursor}"),
                None => return orders,
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A valid order body: two mugs to San Francisco, paid with Stripe's test Visa.
pub fn order_body() -> Value {
    json!({
        "customer": {"id": "cus_ada", "email": "ada@example.com", "name": "Ada Lovelace"},
        "items": [{"sku": "MUG-CLASSIC-WHT", "quantity": 2}],
        "shippingAddress": {
            "name": "Ada Lovelace",
            "line1": "12 Market Street",
            "city": "San Francisco",
            "region": "CA",
            "postalCode": "94103",
            "country": "US"
        },
        "paymentMethod": "pm_card_visa"
    })
}

/// Asserts `response` is a problem document with `status` and `type`, and returns it.
pub async fn expect_problem(response: Response, status: u16, problem_type: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = response.json().await.expect("a JSON problem");
    assert_eq!(problem["type"], format!("/problems/{problem_type}"), "{problem}");
    assert_eq!(problem["status"], status);
    problem
}

/// The JSON pointers a validation problem names.
pub fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["pointer"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Moves an order along its lifecycle to `shipped` through the store port, as the workflow
/// would, so tests can check what the API allows once an order has shipped.
pub async fn ship_through_the_store(app: &TestApp, id: &str) {
    use orderflow_domain::order::{InvoiceRecord, OrderId, PaymentRecord, PaymentStatus, ShipmentRecord};
    let at = time_now();
    let id = OrderId::parse(id).expect("an order id");
    let mut order = app.state.orders.get(&id).await.expect("the store answers").expect("the order exists");
    order.confirm(at).expect("confirmable");
    let invoice = InvoiceRecord {
        number: "INV-TEST-1".into(),
        issued_at: at,
        document_key: "invoices/test.pdf".into(),
        credit_note_key: None,
    };
    order.record_invoice(invoice, at).expect("invoiceable");
    let amount = order.pricing.total;
    order
        .record_payment(
            PaymentRecord {
                status: PaymentStatus::Succeeded,
                reference: "pi_test".into(),
                amount,
                refund_reference: None,
            },
            at,
        )
        .expect("payable");
    let shipment = ShipmentRecord {
        carrier: "test".into(),
        service: "ground".into(),
        tracking_number: "TEST123".into(),
        label_key: "labels/test.pdf".into(),
    };
    order.record_shipment(shipment, at).expect("shippable");
    app.state.orders.save(&order).await.expect("saved");
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
