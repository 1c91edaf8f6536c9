//! Bad input gets a clear 4xx naming the field, never a 5xx, and never stores anything.

use orderflow_tests::{TestApp, expect_problem, order_body, pointers};
use serde_json::{Value, json};

async fn assert_nothing_stored(app: &TestApp) {
    assert!(app.all_orders().await.is_empty(), "a rejected request stored an order");
}

#[tokio::test]
async fn prices_sent_by_a_client_are_rejected_with_422_at_the_member() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["items"][0]["unitPrice"] = json!(1);

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    assert_eq!(pointers(&problem), ["/items/0/unitPrice"]);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn an_unknown_sku_is_rejected_with_422_at_its_line() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["items"] = json!([{"sku": "MUG-CLASSIC-WHT", "quantity": 1}, {"sku": "NO-SUCH-THING", "quantity": 1}]);

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    assert_eq!(pointers(&problem), ["/items/1/sku"]);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn quantities_outside_one_to_999_are_rejected_with_422() {
    let app = TestApp::with_workflows_paused().await;
    for quantity in [json!(0), json!(-3), json!(1000), json!(1.5), json!("2"), json!(1e40)] {
        let mut body = order_body();
        body["items"][0]["quantity"] = quantity.clone();
        let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;
        assert_eq!(pointers(&problem), ["/items/0/quantity"], "quantity {quantity}");
    }
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_malformed_email_is_rejected_with_422() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["customer"]["email"] = json!("ada-at-example.com");

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    assert_eq!(pointers(&problem), ["/customer/email"]);
}

#[tokio::test]
async fn more_than_one_hundred_lines_are_rejected_with_422() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["items"] = (0..101).map(|i| json!({"sku": format!("SKU-{i:03}"), "quantity": 1})).collect::<Value>();

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    assert_eq!(pointers(&problem), ["/items"]);
}

#[tokio::test]
async fn an_empty_cart_and_a_repeated_sku_are_rejected_with_422() {
    let app = TestApp::with_workflows_paused().await;
    let mut empty = order_body();
    empty["items"] = json!([]);
    assert_eq!(pointers(&expect_problem(app.post_order(&empty).await, 422, "validation").await), ["/items"]);

    let mut repeated = order_body();
    repeated["items"] = json!([{"sku": "MUG-CLASSIC-WHT", "quantity": 1}, {"sku": "mug-classic-wht", "quantity": 2}]);
    assert_eq!(pointers(&expect_problem(app.post_order(&repeated).await, 422, "validation").await), ["/items/1/sku"]);
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = TestApp::with_workflows_paused().await;
    let body = json!({
        "customer": {"id": "cus ada", "email": "nope", "name": " "},
        "items": [{"sku": "-BAD", "quantity": 0}],
        "shippingAddress": {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "region": "ZZ",
            "postalCode": "1234", "country": "US"},
        "paymentMethod": "4242424242424242",
        "promoCode": "x"
    });

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    let mut found = pointers(&problem);
    found.sort();
    assert_eq!(
        found,
        [
            "/customer/email",
            "/customer/id",
            "/customer/name",
            "/items/0/quantity",
            "/items/0/sku",
            "/paymentMethod",
            "/promoCode",
            "/shippingAddress/postalCode",
            "/shippingAddress/region",
        ]
    );
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_missing_member_is_named_by_its_pointer() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["shippingAddress"].as_object_mut().unwrap().remove("country");

    let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;

    assert_eq!(pointers(&problem), ["/shippingAddress/country"]);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::with_workflows_paused().await;
    for raw in ["{\"customer\": ", "not json", "{} {}", ""] {
        let response = app
            .client
            .post(app.url("/api/v0/orders"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        expect_problem(response, 400, "malformed-json").await;
    }
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = TestApp::with_workflows_paused().await;
    let response = app
        .client
        .post(app.url("/api/v0/orders"))
        .header("content-type", "text/plain")
        .body(order_body().to_string())
        .send()
        .await
        .unwrap();
    expect_problem(response, 415, "unsupported-media-type").await;
    let without_type = app.client.post(app.url("/api/v0/orders")).body(order_body().to_string()).send().await.unwrap();
    expect_problem(without_type, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_problem() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["customer"]["name"] = json!("x".repeat(70 * 1024));

    expect_problem(app.post_order(&body).await, 413, "payload-too-large").await;

    // Without a Content-Length the limit still holds.
    let chunks = futures::stream::iter((0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let streamed = app
        .client
        .post(app.url("/api/v0/orders"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    expect_problem(streamed, 413, "payload-too-large").await;
}

#[tokio::test]
async fn an_invalid_idempotency_key_is_a_400_problem_naming_the_header() {
    let app = TestApp::with_workflows_paused().await;
    let problem =
        expect_problem(app.post_order_with_key(&order_body(), &"k".repeat(300)).await, 400, "invalid-parameters").await;
    assert_eq!(problem["errors"][0]["header"], "Idempotency-Key");
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_problems() {
    let app = TestApp::with_workflows_paused().await;
    expect_problem(app.get("/api/v0/nothing-here").send().await.unwrap(), 404, "not-found").await;
    let put = app.client.put(app.url("/api/v0/orders")).json(&order_body()).send().await.unwrap();
    expect_problem(put, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn problem_types_resolve_to_a_description() {
    let app = TestApp::with_workflows_paused().await;
    let response = app.get("/problems/validation").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("JSON pointer"));
}
