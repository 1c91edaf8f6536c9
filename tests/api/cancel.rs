use orderflow_tests::{TestApp, expect_problem, order_body, ship_through_the_store};
use serde_json::Value;

async fn delete(app: &TestApp, id: &str) -> reqwest::Response {
    app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap()
}

#[tokio::test]
async fn cancelling_an_order_that_has_not_shipped_is_accepted_with_202() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();

    let response = delete(&app, &id).await;

    assert_eq!(response.status(), 202);
    let order: Value = response.json().await.unwrap();
    assert!(order["cancellationRequestedAt"].is_string());
    assert_eq!(
        order["history"].as_array().unwrap().last().unwrap()["detail"],
        "cancellation requested by the customer"
    );
}

#[tokio::test]
async fn asking_twice_to_cancel_changes_nothing_the_second_time() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();

    let first = delete(&app, &id).await;
    let etag = first.headers()["etag"].clone();
    let second = delete(&app, &id).await;

    assert_eq!(second.status(), 202);
    assert_eq!(second.headers()["etag"], etag);
}

#[tokio::test]
async fn a_shipped_order_cannot_be_cancelled() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    ship_through_the_store(&app, &id).await;

    expect_problem(delete(&app, &id).await, 409, "order-not-modifiable").await;
}

#[tokio::test]
async fn cancelling_with_a_stale_etag_is_412() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    let response =
        app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).header("If-Match", "\"41\"").send().await.unwrap();
    expect_problem(response, 412, "precondition-failed").await;
}

#[tokio::test]
async fn cancelling_an_unknown_order_is_404() {
    let app = TestApp::with_workflows_paused().await;
    expect_problem(delete(&app, "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB").await, 404, "not-found").await;
}
