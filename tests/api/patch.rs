use orderflow_tests::{TestApp, expect_problem, order_body, pointers, ship_through_the_store};
use serde_json::{Value, json};

async fn placed(app: &TestApp) -> (String, String) {
    let response = app.post_order(&order_body()).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    (order["id"].as_str().unwrap().to_owned(), etag)
}

async fn patch(app: &TestApp, id: &str, etag: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app
        .client
        .patch(app.url(&format!("/api/v0/orders/{id}")))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    if let Some(etag) = etag {
        request = request.header("If-Match", etag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_email_can_be_changed_with_the_current_etag() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;

    let response = patch(&app, &id, Some(&etag), &json!({"customer": {"email": "ada@example.org"}})).await;

    assert_eq!(response.status(), 200);
    let new_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["customer"]["email"], "ada@example.org");
    assert_eq!(order["history"].as_array().unwrap().last().unwrap()["detail"], "email address changed");
}

#[tokio::test]
async fn the_address_is_merge_patched_within_the_same_tax_and_shipping_zone() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;

    let response =
        patch(&app, &id, Some(&etag), &json!({"shippingAddress": {"line1": "500 Howard Street", "line2": "Floor 3"}}))
            .await;

    assert_eq!(response.status(), 200);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["shippingAddress"]["line1"], "500 Howard Street");
    assert_eq!(order["shippingAddress"]["line2"], "Floor 3");
    assert_eq!(order["shippingAddress"]["city"], "San Francisco");

    let etag = app.get_order(&id).await.headers()["etag"].to_str().unwrap().to_owned();
    let removed = patch(&app, &id, Some(&etag), &json!({"shippingAddress": {"line2": null}})).await;
    assert!(removed.json::<Value>().await.unwrap()["shippingAddress"].get("line2").is_none());
}

#[tokio::test]
async fn an_address_that_would_change_the_price_is_refused_with_409() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;

    let to_new_york = json!({"shippingAddress": {"city": "New York", "region": "NY", "postalCode": "10001"}});
    expect_problem(patch(&app, &id, Some(&etag), &to_new_york).await, 409, "price-would-change").await;

    let unchanged: Value = app.get_order(&id).await.json().await.unwrap();
    assert_eq!(unchanged["shippingAddress"]["region"], "CA");
}

#[tokio::test]
async fn an_invalid_patched_field_is_a_422_at_its_pointer() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;

    let bad_zip = patch(&app, &id, Some(&etag), &json!({"shippingAddress": {"postalCode": "ABCDE"}})).await;
    assert_eq!(pointers(&expect_problem(bad_zip, 422, "validation").await), ["/shippingAddress/postalCode"]);
    let removed_city = patch(&app, &id, Some(&etag), &json!({"shippingAddress": {"city": null}})).await;
    assert_eq!(pointers(&expect_problem(removed_city, 422, "validation").await), ["/shippingAddress/city"]);
    let other_member = patch(&app, &id, Some(&etag), &json!({"status": "shipped"})).await;
    assert_eq!(pointers(&expect_problem(other_member, 422, "validation").await), ["/status"]);
    let bad_email = patch(&app, &id, Some(&etag), &json!({"customer": {"email": "nope"}})).await;
    assert_eq!(pointers(&expect_problem(bad_email, 422, "validation").await), ["/customer/email"]);
}

#[tokio::test]
async fn a_patch_without_if_match_is_428_and_with_a_stale_etag_412() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;
    let change = json!({"customer": {"email": "ada@example.org"}});

    expect_problem(patch(&app, &id, None, &change).await, 428, "precondition-required").await;
    assert_eq!(patch(&app, &id, Some(&etag), &change).await.status(), 200);
    expect_problem(patch(&app, &id, Some(&etag), &change).await, 412, "precondition-failed").await;
}

#[tokio::test]
async fn a_patch_that_is_not_a_json_merge_patch_is_415() {
    let app = TestApp::with_workflows_paused().await;
    let (id, etag) = placed(&app).await;
    let response = app
        .client
        .patch(app.url(&format!("/api/v0/orders/{id}")))
        .header("content-type", "text/plain")
        .header("If-Match", etag)
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_problem(response, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn a_shipped_order_can_no_longer_be_patched() {
    let app = TestApp::with_workflows_paused().await;
    let (id, _) = placed(&app).await;
    ship_through_the_store(&app, &id).await;
    let etag = app.get_order(&id).await.headers()["etag"].to_str().unwrap().to_owned();

    let response = patch(&app, &id, Some(&etag), &json!({"customer": {"email": "ada@example.org"}})).await;

    expect_problem(response, 409, "order-not-modifiable").await;
}
