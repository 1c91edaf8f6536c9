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

/// The seed catalog with `change` applied, written to a file in `dir`.
fn catalog_file(dir: &std::path::Path, name: &str, change: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/catalog.json")).unwrap();
    let mut catalog: Value = serde_json::from_str(&seed).unwrap();
    change(&mut catalog);
    let path = dir.join(name);
    std::fs::write(&path, catalog.to_string()).unwrap();
    path
}

fn promotion<'a>(catalog: &'a mut Value, code: &str) -> &'a mut Value {
    catalog["promotions"].as_array_mut().unwrap().iter_mut().find(|p| p["code"] == code).unwrap()
}

#[tokio::test]
async fn a_retry_returns_the_order_after_its_promotion_expired_and_its_product_left_the_catalog() {
    let catalogs = tempfile::tempdir().unwrap();
    let before = catalog_file(catalogs.path(), "before.json", |catalog| {
        promotion(catalog, "WELCOME10")["validUntil"] = json!("2999-01-01T00:00:00Z");
    });
    let after = catalog_file(catalogs.path(), "after.json", |catalog| {
        promotion(catalog, "WELCOME10")["validUntil"] = json!("2020-01-02T00:00:00Z");
        promotion(catalog, "WELCOME10")["validFrom"] = json!("2020-01-01T00:00:00Z");
        catalog["products"].as_array_mut().unwrap().retain(|p| p["sku"] != "MUG-CLASSIC-WHT");
    });
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.catalog_path = Some(before);
    })
    .await;
    let mut body = order_body();
    body["promoCode"] = json!("WELCOME10");
    let first = app.post_order_with_key(&body, "key-1").await;
    let status = first.status();
    let first: Value = first.json().await.unwrap();
    assert_eq!(status, 202, "{first}");
    assert!(first["pricing"]["discount"].as_i64().unwrap() > 0);

    let mut config = app.config.clone();
    config.catalog_path = Some(after);
    let app = app.restart_with(config).await;
    // Without the key the same cart is no longer valid: both its SKU and its promotion are gone.
    expect_problem(app.post_order(&body).await, 422, "validation").await;
    let again = app.post_order_with_key(&body, "key-1").await;

    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let mut other = body.clone();
    other["items"][0]["quantity"] = json!(3);
    expect_problem(app.post_order_with_key(&other, "key-1").await, 422, "idempotency-key-reused").await;
    assert_eq!(app.all_orders().await.len(), 1);
}
