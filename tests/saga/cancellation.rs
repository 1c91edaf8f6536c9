use orderflow::faults::Faults;
use orderflow_tests::{TestApp, assert_guarantees, expect_problem, order_body};

#[tokio::test]
async fn a_customer_who_cancels_after_paying_gets_everything_undone() {
    // The paid email keeps failing for a while (retried on a slowed clock): the order waits at
    // `paid`, long enough to cancel it before it ships.
    let app = TestApp::spawn_with(|config| {
        config.time_scale = 0.2;
        config.faults = Faults::parse("NotifyPaid:Transient:1.0", 1).unwrap();
    })
    .await;
    let before = app.available("MUG-CLASSIC-WHT").await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();
    app.order_reaching(id, "paid").await;

    let response = app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let order = app.settled_order(id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "customer_request");
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(order["invoice"]["voided"], true);
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before);
    let history: Vec<&str> =
        order["history"].as_array().unwrap().iter().map(|h| h["detail"].as_str().unwrap()).collect();
    assert!(history.iter().any(|d| d.starts_with("the paid email could not be sent")), "{history:?}");
    assert_eq!(app.emails_of(id).await, ["cancelled", "confirmed", "invoiced", "refunded"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn an_order_cancelled_before_its_workflow_starts_is_cancelled_with_nothing_to_undo() {
    let app = TestApp::with_workflows_paused().await;
    let before = app.available("MUG-CLASSIC-WHT").await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    assert_eq!(app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap().status(), 202);
    let mut config = app.config.clone();
    config.workflows_paused = false;

    let app = app.restart_with(config).await;
    let order = app.settled_order(&id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "customer_request");
    assert!(app.charges().await.is_empty());
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before);
    assert_eq!(app.emails_of(&id).await, ["cancelled"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn a_shipped_order_can_no_longer_be_cancelled() {
    let app = TestApp::spawn().await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();
    app.settled_order(id).await;

    let response = app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap();

    expect_problem(response, 409, "order-not-modifiable").await;
    assert_guarantees(&app, &[]).await;
}
