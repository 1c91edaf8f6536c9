//! Test support: a real server on a real socket, over a fresh data directory.
//!
//! `TestApp::spawn()` starts the local runtime on `127.0.0.1:0` in this process and gives typed
//! calls to it; `restart()` stops it and starts a new one on the same data directory, as a
//! process restart would.

use std::net::SocketAddr;
use std::sync::Arc;

use orderflow::{Config, Runtime};
use orderflow_api::AppState;
use orderflow_workers::Saga;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running local server and a client for it.
#[derive(Debug)]
pub struct TestApp {
    pub api: Api,
    pub config: Config,
    /// The runtime's state, to arrange situations the API cannot produce on its own (an order
    /// that has shipped, say) through the same ports the workflow uses.
    pub state: AppState,
    /// The saga's tasks over the runtime's adapters, to run one step by hand or to arrange what
    /// a partner holds (a label whose answer was lost, a charge made under another key).
    pub saga: Arc<Saga>,
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
        let saga = Arc::clone(&runtime.saga);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            orderflow::serve(listener, runtime, async move {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        Self { api: Api::new(address), config, state, saga, data_dir, stop: Some(stop), server: Some(server) }
    }

    /// Stops the server (finishing requests in flight) and starts a new one on the same data
    /// directory.
    pub async fn restart(self) -> Self {
        let config = self.config.clone();
        self.restart_with(config).await
    }

    /// Stops the server and starts a new one on the same data directory with `config`.
    pub async fn restart_with(mut self, mut config: Config) -> Self {
        self.stop().await;
        config.bind.set_port(0);
        config.data_dir = self.data_dir.path().to_path_buf();
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
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
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

/// A client of a running server, typed for the routes tests use.
#[derive(Debug, Clone)]
pub struct Api {
    pub address: SocketAddr,
    pub client: Client,
}

impl Api {
    pub fn new(address: SocketAddr) -> Self {
        Self { address, client: Client::new() }
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

/// What the partners and the store say happened, read over HTTP.
impl Api {
    /// Waits until the order's workflow has finished (the order `shipped` or `cancelled`, and
    /// the last email sent), and returns the order.
    pub async fn settled_order(&self, id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let response = self.get(&format!("/api/v0/orders/{id}/execution")).send().await.expect("sent");
            if response.status() == 200 {
                let execution: Value = response.json().await.expect("an execution");
                if execution["execution"]["status"] != "RUNNING" {
                    return self.get_order(id).await.json().await.expect("an order");
                }
            }
            assert!(std::time::Instant::now() < deadline, "the workflow of order {id} did not finish");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits until the order reaches `status`.
    pub async fn order_reaching(&self, id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let order: Value = self.get_order(id).await.json().await.expect("an order");
            if order["status"] == status {
                return order;
            }
            assert!(std::time::Instant::now() < deadline, "order {id} never became {status}: {order}");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.expect("sent");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// The payment simulator's ledger: every charge attempt with its refunds.
    pub async fn charges(&self) -> Vec<Value> {
        self.get_json("/_local/payments").await["charges"].as_array().cloned().unwrap_or_default()
    }

    /// Every entry of a paged `/_local` listing, following `nextCursor`.
    async fn all_pages(&self, path: &str, field: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            // Cursors are digits, `_`, and email keys (letters, digits, `_`, `-`, `.`, `/`): safe
            // in a query as they are.
            let url = match &cursor {
                Some(before) => format!("{path}?limit=1000&before={before}"),
                None => format!("{path}?limit=1000"),
            };
            let response = self.get(&url).send().await.expect("sent");
            assert_eq!(response.status(), 200, "GET {path}");
            let page: Value = response.json().await.expect("JSON");
            all.extend(page[field].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return all,
            }
        }
    }

    /// The carrier simulator's shipments, newest first.
    pub async fn shipments(&self) -> Vec<Value> {
        self.all_pages("/_local/shipments", "shipments").await
    }

    /// The emails sent, as `(order id, stage)` pairs, newest first.
    pub async fn emails(&self) -> Vec<(String, String)> {
        self.all_pages("/_local/emails", "emails")
            .await
            .iter()
            .map(|email| {
                let key = email["key"].as_str().unwrap_or_default();
                let (order, stage) = key.split_once('/').unwrap_or((key, ""));
                (order.to_owned(), stage.to_owned())
            })
            .collect()
    }

    /// The stages the customer of `order` was emailed about, sorted.
    pub async fn emails_of(&self, order: &str) -> Vec<String> {
        let mut stages: Vec<String> =
            self.emails().await.into_iter().filter(|(o, _)| o == order).map(|(_, s)| s).collect();
        stages.sort();
        stages
    }

    /// Units of `sku` available to order now.
    pub async fn available(&self, sku: &str) -> i64 {
        self.get_json(&format!("/api/v0/products/{sku}")).await["available"].as_i64().expect("available")
    }

    /// The order's workflow execution and its events.
    pub async fn execution(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v0/orders/{id}/execution")).await
    }

    /// Fetches a document link from an order and returns its bytes.
    pub async fn document(&self, url: &str) -> Vec<u8> {
        let response = self.client.get(url).send().await.expect("sent");
        assert_eq!(response.status(), 200, "GET {url}");
        response.bytes().await.expect("bytes").to_vec()
    }
}

/// An order body for `customer` of `quantity` units of `sku`, paid with `payment_method`.
pub fn order_of(sku: &str, quantity: u32, payment_method: &str) -> Value {
    let mut body = order_body();
    body["items"] = json!([{"sku": sku, "quantity": quantity}]);
    body["paymentMethod"] = json!(payment_method);
    body
}

/// The text of a PDF, page after page.
pub fn pdf_text(pdf: &[u8]) -> String {
    let document = lopdf::Document::load_mem(pdf).expect("a PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).expect("text")
}

/// The emails a cancelled order's customer must have had, exactly, given the (sorted) stages
/// they were sent: the forward stages reached, each once and in order (a prefix of confirmed,
/// invoiced, paid), "refunded" exactly when money went back, and one final word: "cancelled",
/// or "payment_failed" when the card was the reason.
fn cancelled_emails<'a>(stages: &[&'a str], refunded: bool) -> Vec<&'a str> {
    let forward = ["confirmed", "invoiced", "paid"];
    let reached = forward.iter().take_while(|stage| stages.contains(stage)).count();
    let last = if stages.contains(&"payment_failed") { "payment_failed" } else { "cancelled" };
    let mut expected: Vec<&str> = forward[..reached].to_vec();
    expected.push(last);
    if refunded {
        expected.push("refunded");
    }
    expected.sort_unstable();
    expected
}

/// Checks the guarantees of the architecture on everything `app` has done, once every order
/// has settled: each order `shipped` or `cancelled`; money charged at most once, and refunded
/// in full exactly when a charged order was cancelled; no label kept for a cancelled order; stock
/// conserved (available = initial − shipped); exactly the emails each order's path calls for,
/// each once.
pub async fn assert_guarantees(app: &Api, initial_stock: &[(&str, i64)]) {
    let orders = app.all_orders().await;
    let charges = app.charges().await;
    let emails = app.emails().await;
    let shipments = app.shipments().await;
    let mut shipped_units: std::collections::HashMap<String, i64> = std::collections::HashMap::new();

    for summary in &orders {
        let id = summary["id"].as_str().expect("id");
        let order = app.settled_order(id).await;
        let status = order["status"].as_str().expect("status");
        let succeeded: Vec<&Value> =
            charges.iter().filter(|c| c["orderId"] == id && c["status"] == "succeeded").collect();
        assert!(succeeded.len() <= 1, "order {id} was charged {} times", succeeded.len());
        let refunded = succeeded.iter().map(|c| c["refunds"].as_array().map_or(0, Vec::len)).sum::<usize>();
        let order_shipments = shipments.iter().filter(|s| s["orderId"] == id).count();
        let mut stages: Vec<&str> = emails.iter().filter(|(o, _)| o == id).map(|(_, s)| s.as_str()).collect();
        stages.sort_unstable();

        match status {
            "shipped" => {
                assert_eq!(succeeded.len(), 1, "shipped order {id} was not charged");
                assert_eq!(
                    succeeded[0]["amount"]["minor"], order["pricing"]["total"],
                    "order {id} charged the wrong amount"
                );
                assert_eq!(refunded, 0, "shipped order {id} was refunded");
                assert_eq!(order_shipments, 1, "order {id} has {order_shipments} shipments");
                assert_eq!(stages, ["confirmed", "invoiced", "paid", "shipped"], "emails of shipped order {id}");
                for line in order["lines"].as_array().expect("lines") {
                    *shipped_units.entry(line["sku"].as_str().expect("sku").to_owned()).or_default() +=
                        line["quantity"].as_i64().expect("quantity");
                }
            }
            "cancelled" => {
                assert_eq!(
                    refunded,
                    succeeded.len(),
                    "cancelled order {id}: charged {} refunded {refunded}",
                    succeeded.len()
                );
                assert!(order["cancellation"]["reason"].is_string(), "cancelled order {id} has no reason");
                if let Some(invoice) = order.get("invoice") {
                    assert_eq!(invoice["voided"], true, "cancelled order {id} kept a live invoice");
                }
                let live_labels = shipments.iter().filter(|s| s["orderId"] == id && s["voided"] != true).count();
                assert_eq!(live_labels, 0, "cancelled order {id} kept a label");
                assert_eq!(stages, cancelled_emails(&stages, refunded == 1), "emails of cancelled order {id}");
            }
            other => panic!("order {id} ended {other}"),
        }
    }
    // Refunds only ever follow a successful charge.
    for charge in &charges {
        if charge["status"] != "succeeded" {
            assert!(charge["refunds"].as_array().is_none_or(Vec::is_empty), "a failed charge was refunded: {charge}");
        }
    }
    for (sku, initial) in initial_stock {
        let shipped = shipped_units.get(*sku).copied().unwrap_or_default();
        assert_eq!(app.available(sku).await, initial - shipped, "stock of {sku} is not conserved");
    }
}
