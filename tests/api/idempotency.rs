use futures::future::join_all;
use orderflow_tests::{TestApp, expect_problem, order_body};
use serde_json::{Value, json};

#[tokio::test]
async fn the_same_key_and_body_return_the_same_order_and_store_one() {
    let app = TestApp::with_workflows_paused().await;

    let first = app.post_order_with_key(&order_body(), "key-1").await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = app.post_order_with_key(&order_body(), "key-1").await;

    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.all_orders().await.len(), 1);
}

#[tokio::test]
async fn the_same_request_written_differently_is_still_the_same_request() {
    let app = TestApp::with_workflows_paused().await;
    let first: Value = app.post_order_with_key(&order_body(), "key-1").await.json().await.unwrap();

    // Other key order, whitespace and letter case of normalised fields.
    let mut body = order_body();
    body["items"][0]["sku"] = json!("mug-classic-wht");
    body["shippingAddress"]["country"] = json!("us");
    let raw = format!("  {}  ", serde_json::to_string_pretty(&body).unwrap());
    let again = app
        .client
        .post(app.url("/api/v0/orders"))
        .header("content-type", "application/json")
        .header("Idempotency-Key", "key-1")
        .body(raw)
        .send()
        .await
        .unwrap();

    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused_with_422() {
    let app = TestApp::with_workflows_paused().await;
    let first: Value = app.post_order_with_key(&order_body(), "key-1").await.json().await.unwrap();
    let mut other = order_body();
    other["items"][0]["quantity"] = json!(3);

    let problem = expect_problem(app.post_order_with_key(&other, "key-1").await, 422, "idempotency-key-reused").await;

    assert!(problem["detail"].as_str().unwrap().contains(first["id"].as_str().unwrap()));
    assert_eq!(app.all_orders().await.len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_customer() {
    let app = TestApp::with_workflows_paused().await;
    let mut bob = order_body();
    bob["customer"] = json!({"id": "cus_bob", "email": "bob@example.com", "name": "Bob"});

    let ada: Value = app.post_order_with_key(&order_body(), "shared-key").await.json().await.unwrap();
    let bob: Value = app.post_order_with_key(&bob, "shared-key").await.json().await.unwrap();

    assert_ne!(ada["id"], bob["id"]);
}

#[tokio::test]
async fn without_a_key_every_post_is_a_new_order() {
    let app = TestApp::with_workflows_paused().await;
    let first = app.place_order(&order_body()).await;
    let second = app.place_order(&order_body()).await;
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_duplicates_make_one_order() {
    let app = TestApp::with_workflows_paused().await;
    let body = order_body();

    let responses = join_all((0..50).map(|_| app.post_order_with_key(&body, "storm"))).await;

    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 202);
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "duplicates made several orders: {ids:?}");
    assert_eq!(app.all_orders().await.len(), 1);
}
