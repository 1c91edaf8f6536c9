use orderflow_tests::{TestApp, expect_problem, order_body};
use serde_json::json;

#[tokio::test]
async fn a_valid_order_is_accepted_with_202_its_location_and_its_pricing() {
    let app = TestApp::with_workflows_paused().await;

    let response = app.post_order(&order_body()).await;

    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("etag"));
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v0/orders/{}", order["id"].as_str().unwrap()));
    assert_eq!(order["status"], "pending");
    assert_eq!(order["lines"][0]["unitPrice"], 1400);
    assert_eq!(order["lines"][0]["lineTotal"], 2800);
    // 28.00 + 5.99 shipping + 7.25% California tax on the goods (2.03)
    assert_eq!(
        order["pricing"],
        json!({
            "subtotal": 2800, "discount": 0, "tax": 203, "shipping": 599, "total": 3602,
            "currency": "USD", "taxJurisdiction": "US-CA", "taxRatePpm": 72500
        })
    );
}

#[tokio::test]
async fn a_placed_order_reads_back_at_its_location_with_the_same_etag() {
    let app = TestApp::with_workflows_paused().await;
    let response = app.post_order(&order_body()).await;
    let etag = response.headers()["etag"].clone();
    let placed: serde_json::Value = response.json().await.unwrap();

    let read = app.get_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], etag);
    let order: serde_json::Value = read.json().await.unwrap();
    assert_eq!(order, placed);
    assert_eq!(order["history"][0]["status"], "pending");
    assert_eq!(order["shippingAddress"]["postalCode"], "94103");
    assert_eq!(order["customer"]["email"], "ada@example.com");
}

#[tokio::test]
async fn reading_an_order_with_its_current_etag_answers_304() {
    let app = TestApp::with_workflows_paused().await;
    let response = app.post_order(&order_body()).await;
    let etag = response.headers()["etag"].clone();
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let read = app.get(&format!("/api/v0/orders/{id}")).header("If-None-Match", etag).send().await.unwrap();

    assert_eq!(read.status(), 304);
}

#[tokio::test]
async fn a_valid_promotion_code_is_applied_to_the_subtotal() {
    let app = TestApp::with_workflows_paused().await;
    let mut body = order_body();
    body["promoCode"] = json!("welcome10");

    let order = app.place_order(&body).await;

    assert_eq!(order["promoCode"], "WELCOME10");
    assert_eq!(order["pricing"]["discount"], 280);
    assert_eq!(order["pricing"]["total"], 2800 - 280 + 183 + 599);
}

#[tokio::test]
async fn an_expired_or_future_promotion_code_is_refused_with_422_at_promo_code() {
    let app = TestApp::with_workflows_paused().await;
    for code in ["SUMMER25", "LAUNCH2031", "NOSUCHCODE"] {
        let mut body = order_body();
        body["promoCode"] = json!(code);
        let problem = expect_problem(app.post_order(&body).await, 422, "validation").await;
        assert_eq!(orderflow_tests::pointers(&problem), ["/promoCode"], "{code}: {problem}");
    }
}

#[tokio::test]
async fn an_unknown_order_is_a_404_problem() {
    let app = TestApp::with_workflows_paused().await;
    expect_problem(app.get_order("ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB").await, 404, "not-found").await;
    expect_problem(app.get_order("not-an-id").await, 404, "not-found").await;
}

#[tokio::test]
async fn in_gateway_mode_a_customer_sees_only_their_own_orders() {
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.auth = orderflow_api::AuthMode::GatewayHeader(http_header("x-customer-id"));
    })
    .await;
    let post = |customer: &'static str| {
        app.client.post(app.url("/api/v0/orders")).header("x-customer-id", customer).json(&order_body()).send()
    };

    let own = post("cus_ada").await.unwrap();
    assert_eq!(own.status(), 202);
    let id = own.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    expect_problem(post("cus_bob").await.unwrap(), 403, "forbidden").await;

    let as_bob = app.get(&format!("/api/v0/orders/{id}")).header("x-customer-id", "cus_bob").send().await.unwrap();
    expect_problem(as_bob, 404, "not-found").await;
    let as_ada = app.get(&format!("/api/v0/orders/{id}")).header("x-customer-id", "cus_ada").send().await.unwrap();
    assert_eq!(as_ada.status(), 200);
    let anonymous = app.get(&format!("/api/v0/orders/{id}")).send().await.unwrap();
    expect_problem(anonymous, 400, "invalid-parameters").await;
}

fn http_header(name: &'static str) -> http::HeaderName {
    http::HeaderName::from_static(name)
}
