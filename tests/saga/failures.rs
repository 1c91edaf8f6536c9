use orderflow_tests::{TestApp, assert_guarantees, order_body, order_of};
use serde_json::json;

async fn settle(app: &TestApp, body: &serde_json::Value) -> serde_json::Value {
    let placed = app.place_order(body).await;
    app.settled_order(placed["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_and_undoes_everything() {
    let app = TestApp::spawn().await;
    let before = app.available("MUG-CLASSIC-WHT").await;

    let order = settle(&app, &order_of("MUG-CLASSIC-WHT", 2, "pm_card_chargeDeclinedInsufficientFunds")).await;
    let id = order["id"].as_str().unwrap();

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "payment_declined");
    assert!(order.get("payment").is_none(), "a declined order records no payment");
    assert_eq!(order["invoice"]["voided"], true);
    let charges = app.charges().await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["status"], "requires_payment_method");
    assert_eq!(charges[0]["declineCode"], "insufficient_funds");
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before);
    assert_eq!(app.emails_of(id).await, ["confirmed", "invoiced", "payment_failed"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn a_card_that_needs_authentication_cancels_the_order_without_charging() {
    let app = TestApp::spawn().await;
    let before = app.available("TEE-LOGO-M").await;

    let order = settle(&app, &order_of("TEE-LOGO-M", 1, "pm_card_authenticationRequired")).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "payment_requires_action");
    assert!(app.charges().await.iter().all(|c| c["status"] != "succeeded"));
    assert_eq!(app.available("TEE-LOGO-M").await, before);
    assert_eq!(app.emails_of(order["id"].as_str().unwrap()).await, ["confirmed", "invoiced", "payment_failed"]);
    assert_guarantees(&app, &[("TEE-LOGO-M", before)]).await;
}

#[tokio::test]
async fn of_two_orders_racing_for_the_last_unit_exactly_one_gets_it() {
    let app = TestApp::spawn().await;
    let initial = app.available("LIMITED-PRINT-01").await;
    let first = settle(&app, &order_of("LIMITED-PRINT-01", u32::try_from(initial - 1).unwrap(), "pm_card_visa")).await;
    assert_eq!(first["status"], "shipped");
    assert_eq!(app.available("LIMITED-PRINT-01").await, 1);

    let (one, other) =
        (order_of("LIMITED-PRINT-01", 1, "pm_card_visa"), order_of("LIMITED-PRINT-01", 1, "pm_card_mastercard"));
    let (a, b) = tokio::join!(app.place_order(&one), app.place_order(&other));
    let a = app.settled_order(a["id"].as_str().unwrap()).await;
    let b = app.settled_order(b["id"].as_str().unwrap()).await;

    let mut outcomes = [a["status"].as_str().unwrap(), b["status"].as_str().unwrap()];
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["cancelled", "shipped"]);
    let loser = if a["status"] == "cancelled" { &a } else { &b };
    assert_eq!(loser["cancellation"]["reason"], "out_of_stock");
    assert_eq!(app.emails_of(loser["id"].as_str().unwrap()).await, ["cancelled"]);
    assert_eq!(app.available("LIMITED-PRINT-01").await, 0);
    assert_guarantees(&app, &[("LIMITED-PRINT-01", initial)]).await;
}

#[tokio::test]
async fn an_undeliverable_address_refunds_releases_stock_and_tells_the_customer() {
    let app = TestApp::spawn().await;
    let before = app.available("MUG-CLASSIC-WHT").await;
    let mut body = order_body();
    body["shippingAddress"]["postalCode"] = json!("00000");

    let order = settle(&app, &body).await;
    let id = order["id"].as_str().unwrap();

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "address_undeliverable");
    assert_eq!(order["payment"]["status"], "refunded");
    assert!(order["payment"]["refundReference"].as_str().unwrap().starts_with("re_"));
    let charge = app.charges().await.into_iter().find(|c| c["orderId"] == id).unwrap();
    assert_eq!(charge["refunds"][0]["amount"], charge["amount"]);
    assert_eq!(order["invoice"]["voided"], true);
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before);
    assert!(app.shipments().await.is_empty());
    assert_eq!(app.emails_of(id).await, ["cancelled", "confirmed", "invoiced", "paid", "refunded"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn when_the_primary_carrier_is_down_the_fallback_ships() {
    let app = TestApp::spawn_with(|config| config.carrier_outage = Some("northwind".to_owned())).await;

    let order = settle(&app, &order_body()).await;

    assert_eq!(order["status"], "shipped");
    assert_eq!(order["shipment"]["carrier"], "contoso");
    assert!(order["shipment"]["trackingNumber"].as_str().unwrap().starts_with("JJD"));
    let execution = app.execution(order["id"].as_str().unwrap()).await;
    let fell_back = execution["events"].as_array().unwrap().iter().any(|e| e["stateName"] == "ShipWithFallbackCarrier");
    assert!(fell_back, "the fallback state did not run");
    assert_guarantees(&app, &[]).await;
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_cancelled_out_of_stock_without_charging() {
    let app = TestApp::spawn().await;
    let initial = app.available("TENT-2P-ULTRA").await;

    let order = settle(&app, &order_of("TENT-2P-ULTRA", u32::try_from(initial + 1).unwrap(), "pm_card_visa")).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "out_of_stock");
    assert!(app.charges().await.is_empty());
    assert!(order.get("invoice").is_none());
    assert_eq!(app.available("TENT-2P-ULTRA").await, initial);
    assert_guarantees(&app, &[("TENT-2P-ULTRA", initial)]).await;
}
