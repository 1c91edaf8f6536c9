//! The Lambda handlers in-process: API Gateway HTTP API (payload 2.0) events from fixtures through
//! the API host exactly as `lambda_http::run` passes them, and task inputs through the worker,
//! over the local adapters, so a broken mapping fails here without an emulator.

use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent};
use orderflow::{Config, Runtime};
use orderflow_api::AuthMode;
use orderflow_lambda::http;
use orderflow_lambda::worker::TaskFunction;
use orderflow_workers::Task;
use serde_json::{Value, json};
use tower::{Service, ServiceExt};

/// The local runtime with the API answering as on AWS: callers from the JWT authorizer's claims.
/// Workflows are paused, so the tests run each task themselves.
struct Host {
    runtime: Runtime,
    _data: tempfile::TempDir,
}

async fn host() -> Host {
    let data = tempfile::tempdir().expect("a data directory");
    let mut config = Config::for_tests(data.path());
    config.auth = AuthMode::JwtClaims { customer_claim: "sub".to_owned(), operator_scope: "orders/operate".to_owned() };
    config.workflows_paused = true;
    let runtime = Runtime::open(&config, "http://127.0.0.1:0").await.expect("opening the local runtime");
    Host { runtime, _data: data }
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("reading a fixture")).expect("a fixture is JSON")
}

impl Host {
    /// What API Gateway gets back for `event`: `statusCode`, `headers`, `body` (parsed).
    async fn answer(&self, event: Value) -> (u16, Value, Value) {
        let request: LambdaRequest = serde_json::from_value(event).expect("an HTTP API v2 event");
        let mut adapter = Adapter::from(http::handler(orderflow_api::app(self.runtime.state.clone())));
        let event = LambdaEvent::new(request, Context::default());
        let response = adapter.ready().await.expect("ready").call(event).await.expect("an answer");
        let response = serde_json::to_value(response).expect("the answer serializes");
        let status = u16::try_from(response["statusCode"].as_u64().expect("a status")).expect("a status code");
        let body =
            response["body"].as_str().map_or(Value::Null, |body| serde_json::from_str(body).expect("a JSON body"));
        (status, response["headers"].clone(), body)
    }

    async fn run(&self, task: Task, order: &str) -> Result<Value, lambda_runtime::Diagnostic> {
        let function = TaskFunction { saga: Arc::clone(&self.runtime.saga), task };
        function.handle(LambdaEvent::new(json!({ "orderId": order }), Context::default())).await
    }
}

#[tokio::test]
async fn a_customer_with_claims_lists_orders_under_a_stage_prefix() {
    let host = host().await;
    let (status, headers, body) = host.answer(fixture("list-orders-with-claims-under-a-stage")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["orders"], json!([]), "{body}");
}

#[tokio::test]
async fn a_request_without_claims_is_401_problem_json() {
    let host = host().await;
    let (status, headers, body) = host.answer(fixture("list-orders-without-claims")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(body["type"], "/problems/unauthorized");
}

#[tokio::test]
async fn a_malformed_body_is_a_400_problem_json() {
    let host = host().await;
    let (status, headers, body) = host.answer(fixture("place-order-with-a-malformed-body")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "/problems/malformed-json");
}

#[tokio::test]
async fn another_customers_token_does_not_see_the_order() {
    let host = host().await;
    let (status, _, placed) = host.answer(fixture("place-order-with-a-declined-card")).await;
    assert_eq!(status, 202, "{placed}");
    let id = placed["id"].as_str().expect("an order id");
    let mut get = fixture("list-orders-with-claims-under-a-stage");
    get["rawPath"] = json!(format!("/prod/api/v0/orders/{id}"));
    get["rawQueryString"] = json!("");
    get["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("cus_bob");
    assert_eq!(host.answer(get.clone()).await.0, 404);
    get["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("cus_ada");
    assert_eq!(host.answer(get.clone()).await.0, 200);
    get["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("someone");
    get["requestContext"]["authorizer"]["jwt"]["scopes"] = json!(["orders/operate"]);
    assert_eq!(host.answer(get).await.0, 200, "an operator sees every order");
}

#[tokio::test]
async fn a_declined_card_fails_the_charge_with_the_name_the_state_machine_catches() {
    let host = host().await;
    let (status, _, placed) = host.answer(fixture("place-order-with-a-declined-card")).await;
    assert_eq!(status, 202, "{placed}");
    let order = placed["id"].as_str().expect("an order id");
    for task in [Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice] {
        host.run(task, order).await.unwrap_or_else(|error| panic!("{}: {error:?}", task.name()));
    }
    let declined = host.run(Task::ChargePayment, order).await.expect_err("the card is declined");
    assert_eq!(declined.error_type, "PaymentDeclined");
    assert!(declined.error_message.starts_with("the payment was declined"), "{}", declined.error_message);
}

#[tokio::test]
async fn a_task_input_without_an_order_is_invalid_task_input() {
    let host = host().await;
    let function = TaskFunction { saga: Arc::clone(&host.runtime.saga), task: Task::PriceOrder };
    let error =
        function.handle(LambdaEvent::new(json!({ "order": 1 }), Context::default())).await.expect_err("refused");
    assert_eq!(error.error_type, "InvalidTaskInput");
    assert!(error.error_message.contains("orderId"), "{}", error.error_message);
}
