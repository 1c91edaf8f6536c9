//! Compensations decided by facts, not by the state that failed: what the carrier and the payment
//! partner hold, and what the store records, decide whether an order is finished or undone.

use orderflow::faults::Faults;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{ShipmentRequest, StoreError};
use orderflow_tests::{TestApp, assert_guarantees, order_body, order_of};
use orderflow_workers::Task;
use serde_json::{Value, json};

/// Restarts `app` on its data directory with its workflows running.
async fn run_workflows(app: TestApp) -> TestApp {
    let mut config = app.config.clone();
    config.workflows_paused = false;
    app.restart_with(config).await
}

fn history(order: &Value) -> Vec<String> {
    order["history"].as_array().unwrap().iter().map(|h| h["detail"].as_str().unwrap().to_owned()).collect()
}

/// Places an order on `app` (workflows paused) and runs its saga by hand up to the charge.
async fn paid_by_hand(app: &TestApp) -> String {
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap().to_owned();
    for task in [Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice, Task::ChargePayment] {
        app.saga.run(task, json!({"orderId": id})).await.unwrap();
    }
    id
}

/// Runs the saga's task `task` on order `id` by hand and returns the error name it failed with.
async fn failure_of(app: &TestApp, task: Task, id: &str) -> String {
    match app.saga.run(task, json!({"orderId": id})).await {
        Ok(result) => panic!("{} succeeded: {result}", task.name()),
        Err(error) => error.name().to_owned(),
    }
}

#[tokio::test]
async fn a_ship_step_whose_answers_are_all_lost_ends_shipped_and_nothing_is_undone() {
    // The label is bought and the order recorded as shipped, but no attempt's answer arrives.
    let app =
        TestApp::spawn_with(|config| config.faults = Faults::parse("ShipOrder:Transient:1:after", 3).unwrap()).await;
    let before = app.available("MUG-CLASSIC-WHT").await;

    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();
    let order = app.settled_order(id).await;

    assert_eq!(order["status"], "shipped");
    assert_eq!(order["payment"]["status"], "succeeded", "a shipped order keeps its payment");
    assert!(order["invoice"].get("voided").is_none_or(|v| v == false), "{order}");
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before - 2, "the shipped mugs left the stock once");
    assert_eq!(app.emails_of(id).await, ["confirmed", "invoiced", "paid", "shipped"]);
    let execution = app.execution(id).await;
    assert_eq!(execution["execution"]["status"], "SUCCEEDED");
    let states: Vec<&str> =
        execution["events"].as_array().unwrap().iter().filter_map(|e| e["stateName"].as_str()).collect();
    assert!(states.contains(&"ReconcileShipment"), "the machine asked the carrier: {states:?}");
    assert!(!states.contains(&"RefundPayment"), "a shipped order went into the refund: {states:?}");
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn a_decline_after_a_charge_whose_answer_was_lost_refunds_that_charge() {
    // The first attempt charges the card and its answer is lost; the retry is declined. The order
    // recorded its payment's reference before the charge, so the refund finds the charge.
    let app = TestApp::spawn_with(|config| {
        config.faults =
            Faults::parse("ChargePayment:PaymentDeclined:1:retry,ChargePayment:Transient:1:after", 7).unwrap();
    })
    .await;
    let before = app.available("MUG-CLASSIC-WHT").await;
    let placed = app.place_order(&order_of("MUG-CLASSIC-WHT", 1, "pm_card_visa")).await;
    let id = placed["id"].as_str().unwrap().to_owned();

    let order = app.settled_order(&id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "payment_declined");
    assert_eq!(order["payment"]["status"], "refunded");
    let charges = app.charges().await;
    assert_eq!(charges.len(), 1, "one charge was made: {charges:?}");
    assert_eq!(order["payment"]["reference"], charges[0]["reference"]);
    assert_eq!(charges[0]["refunds"][0]["amount"], charges[0]["amount"], "the lost charge was refunded in full");
    assert_eq!(app.emails_of(&id).await, ["confirmed", "invoiced", "payment_failed", "refunded"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn a_customer_who_cancels_after_a_label_was_bought_gets_the_label_voided_and_the_money_back() {
    let app = TestApp::with_workflows_paused().await;
    let before = app.available("MUG-CLASSIC-WHT").await;
    let id = paid_by_hand(&app).await;
    // The saga got as far as buying the label; the answer was lost before the shipment was
    // recorded, and the customer cancelled in that window.
    let order_id = OrderId::parse(&id).unwrap();
    let order = app.saga.orders.get(&order_id).await.unwrap().unwrap();
    let reference = app
        .saga
        .carrier
        .open(&ShipmentRequest {
            order: order_id.clone(),
            destination: order.shipping_address.clone(),
            weight: orderflow_domain::catalog::Grams(order.lines.iter().map(|l| l.weight.0).sum()),
            idempotency_key: format!("{id}/ship"),
        })
        .await
        .unwrap();
    app.saga
        .orders
        .update(&order_id, |order| Ok::<_, StoreError>(order.record_shipment_opened(&reference)))
        .await
        .unwrap();
    let label = app.saga.carrier.ship(&reference, "northwind").await.unwrap();
    let cancelled = app.client.delete(app.url(&format!("/api/v0/orders/{id}"))).send().await.unwrap();
    assert_eq!(cancelled.status(), 202);

    let app = run_workflows(app).await;
    let order = app.settled_order(&id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "customer_request");
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(order["invoice"]["voided"], true);
    let shipment = app.shipments().await.into_iter().find(|s| s["trackingNumber"] == label.tracking_number.as_str());
    assert_eq!(shipment.unwrap()["voided"], true, "the label was voided with the carrier");
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before);
    assert_eq!(app.emails_of(&id).await, ["cancelled", "refunded"]);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn compensations_refuse_to_undo_a_shipped_order() {
    let app = TestApp::spawn().await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();
    let shipped = app.settled_order(id).await;
    assert_eq!(shipped["status"], "shipped");
    let stock = app.available("MUG-CLASSIC-WHT").await;

    for task in [Task::RefundPayment, Task::VoidInvoice, Task::ReleaseStock, Task::CancelOrder] {
        assert_eq!(failure_of(&app, task, id).await, "OrderShipped", "{} acted on a shipped order", task.name());
    }

    let order: Value = app.get_order(id).await.json().await.unwrap();
    assert_eq!(order, shipped, "nothing changed on the order");
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, stock);
    assert!(app.charges().await.iter().all(|c| c["refunds"].as_array().is_none_or(Vec::is_empty)));
}

#[tokio::test]
async fn a_compensation_failure_is_noted_once_with_what_is_left_and_no_internals() {
    let app = TestApp::with_workflows_paused().await;
    let id = &paid_by_hand(&app).await;

    // Retried after a lost answer, the task runs twice.
    let failure = json!({"orderId": id, "error": "Transient", "cause": "SQLITE_BUSY: database is locked"});
    for _ in 0..2 {
        app.saga.run(Task::RecordCompensationFailure, failure.clone()).await.unwrap();
    }

    let order: Value = app.get_order(id).await.json().await.unwrap();
    let notes: Vec<String> = history(&order).into_iter().filter(|d| d.starts_with("needs attention")).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("is not refunded"), "the note says what is left: {}", notes[0]);
    assert!(notes[0].contains("is not voided"), "{}", notes[0]);
    assert!(!notes[0].contains("SQLITE"), "the customer's order carries no internals: {}", notes[0]);
}

#[tokio::test]
async fn an_order_stopped_by_an_unexpected_error_shows_the_customer_no_internals() {
    let app = TestApp::spawn_with(|config| config.faults = Faults::parse("PriceOrder:Boom:1", 5).unwrap()).await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();

    let order = app.settled_order(id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "internal_error");
    let text = order.to_string();
    for internal in ["Boom", "injected", "stopped by"] {
        assert!(!text.contains(internal), "the order shows {internal:?}: {text}");
    }
    let execution = app.execution(id).await.to_string();
    assert!(execution.contains("injected fault"), "the cause stays in the execution history");
    assert_guarantees(&app, &[]).await;
}

#[tokio::test]
async fn an_invoice_number_taken_by_an_issue_that_failed_for_good_is_voided_by_a_credit_note() {
    let app = TestApp::spawn().await;
    let year = time::OffsetDateTime::now_utc().year();
    // The first invoice's PDF cannot be written: its path is taken by a folder.
    let blocked = app.config.data_dir.join(format!("invoices/INV-{year}-000001.pdf"));
    std::fs::create_dir_all(blocked.join("taken")).unwrap();

    let first = app.place_order(&order_body()).await;
    let first = app.settled_order(first["id"].as_str().unwrap()).await;
    let second = app.place_order(&order_body()).await;
    let second = app.settled_order(second["id"].as_str().unwrap()).await;

    assert_eq!(first["status"], "cancelled");
    assert_eq!(first["invoice"]["number"], format!("INV-{year}-000001"), "{first}");
    assert_eq!(first["invoice"]["voided"], true, "the number ends as a credit note");
    assert_eq!(second["status"], "shipped");
    assert_eq!(second["invoice"]["number"], format!("INV-{year}-000002"));
    assert_guarantees(&app, &[]).await;
}

#[tokio::test]
async fn the_address_cannot_change_once_a_label_is_being_bought() {
    let app = TestApp::with_workflows_paused().await;
    let id = &paid_by_hand(&app).await;
    // The ship step fixes the address on the order before it asks the carrier.
    let mut order = app.saga.orders.get(&OrderId::parse(id).unwrap()).await.unwrap().unwrap();
    order.begin_shipping(time::OffsetDateTime::now_utc());
    let order = app.saga.orders.save(&order).await.unwrap();

    let patch = |body: Value| {
        app.client
            .patch(app.url(&format!("/api/v0/orders/{id}")))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", format!("\"{}\"", order.version))
            .body(body.to_string())
            .send()
    };
    let moved = patch(json!({"shippingAddress": {"line1": "500 Howard Street"}})).await.unwrap();
    assert_eq!(moved.status(), 409);
    let problem: Value = moved.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("being shipped"), "{problem}");
    let renamed = patch(json!({"customer": {"email": "ada@example.org"}})).await.unwrap();
    assert_eq!(renamed.status(), 200, "the email can still change");
}
