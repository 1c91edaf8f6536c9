//! The saga's tasks through `Saga::run`, on the local adapters: each does its one thing once,
//! however often it runs, and the compensations go by what the partners hold.

mod shop;

use orderflow_domain::order::{CancellationReason, OrderStatus, PaymentStatus};
use orderflow_domain::ports::{BlobStore, StockLevel};
use orderflow_workers::Task;
use shop::{Shop, failure};

#[tokio::test]
async fn reserving_stock_again_after_a_lost_answer_succeeds_and_reserves_once() {
    let shop = Shop::open().await;
    let before = shop.mugs().await;
    let order = shop.place("pm_card_visa").await;
    shop.run_all(&order, &[Task::PriceOrder]).await;
    shop.reserve_behind_the_sagas_back(&order).await;

    shop.run_all(&order, &[Task::ReserveStock, Task::ReserveStock]).await;

    assert_eq!(shop.mugs().await, StockLevel { on_hand: before.on_hand, reserved: before.reserved + 2 });
    assert_eq!(shop.order(&order).await.status(), OrderStatus::Confirmed);
}

#[tokio::test]
async fn charging_a_declined_card_records_the_decline_code_on_the_order() {
    let shop = Shop::open().await;
    let order = shop.place("pm_card_chargeDeclinedInsufficientFunds").await;
    shop.run_all(&order, &[Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice]).await;

    assert_eq!(failure(shop.run(Task::ChargePayment, &order).await), "PaymentDeclined");
    let declined = shop.order(&order).await;
    assert_eq!(declined.decline_code(), Some("insufficient_funds"));
    assert_eq!(declined.payment, None);

    shop.run_after(Task::CancelOrder, &order, "PaymentDeclined").await.unwrap();
    let cancellation = shop.order(&order).await.cancellation().cloned().expect("the order is cancelled");
    assert_eq!(cancellation.reason, CancellationReason::PaymentDeclined);
    assert_eq!(cancellation.detail.as_deref(), Some("insufficient_funds"), "the code reaches the customer");
}

#[tokio::test]
async fn charging_again_after_a_lost_answer_records_the_one_charge() {
    let shop = Shop::open().await;
    let order = shop.place("pm_card_visa").await;
    shop.run_all(&order, &[Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice]).await;
    shop.charge_behind_the_sagas_back(&order).await;

    shop.run_all(&order, &[Task::ChargePayment, Task::ChargePayment]).await;

    let ledger = shop.payments.ledger_of(&order).await.unwrap();
    assert_eq!(ledger.charges.len(), 1, "charged once");
    let paid = shop.order(&order).await;
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert_eq!(paid.payment.map(|p| p.reference), Some(ledger.charges[0].reference.clone()));
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_refunded_by_the_reference_the_order_recorded_first() {
    let shop = Shop::open().await;
    let order = shop.place("pm_card_visa").await;
    shop.run_all(&order, &[Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice]).await;
    shop.charge_behind_the_sagas_back(&order).await;
    assert!(shop.order(&order).await.payment.is_none(), "the order never learnt it was paid");

    let refunded = shop.run(Task::RefundPayment, &order).await.unwrap();

    assert_eq!(refunded["refunded"], true);
    let ledger = shop.payments.ledger_of(&order).await.unwrap();
    assert_eq!(ledger.charges[0].refunds.len(), 1, "the charge was refunded: {ledger:?}");
    assert_eq!(shop.order(&order).await.payment.map(|p| p.reference), Some(ledger.charges[0].reference.clone()));
}

#[tokio::test]
async fn an_order_that_never_opened_a_payment_has_nothing_to_refund() {
    let shop = Shop::open().await;
    let order = shop.place("pm_card_visa").await;
    shop.run_all(&order, &[Task::PriceOrder, Task::ReserveStock]).await;

    let refunded = shop.run(Task::RefundPayment, &order).await.unwrap();

    assert_eq!(refunded["refunded"], false);
    assert!(shop.payments.ledger_of(&order).await.unwrap().charges.is_empty());
}

#[tokio::test]
async fn reconciling_finds_a_label_bought_before_a_crash_and_finishes_the_order() {
    let shop = Shop::open().await;
    let before = shop.mugs().await;
    let order = shop.paid_order().await;
    let label = shop.buy_label_behind_the_sagas_back(&order).await;

    let reconciled = shop.run(Task::ReconcileShipment, &order).await.unwrap();

    assert_eq!(reconciled["shipped"], true);
    assert_eq!(reconciled["shipment"]["trackingNumber"], label.tracking_number.as_str());
    let shipped = shop.order(&order).await;
    assert_eq!(shipped.status(), OrderStatus::Shipped);
    let record = shipped.shipment.expect("the shipment is recorded");
    assert_eq!(record.tracking_number, label.tracking_number);
    assert_eq!(shop.blobs.get(&record.label_key).await.unwrap(), Some(label.label), "the label is filed");
    assert_eq!(shop.mugs().await, StockLevel { on_hand: before.on_hand - 2, reserved: before.reserved });
}

#[tokio::test]
async fn a_refund_is_refused_for_a_shipped_order() {
    let shop = Shop::open().await;
    let order = shop.paid_order().await;
    shop.run_all(&order, &[Task::ShipOrder]).await;

    assert_eq!(failure(shop.run(Task::RefundPayment, &order).await), "OrderShipped");
    let ledger = shop.payments.ledger_of(&order).await.unwrap();
    assert!(ledger.charges[0].refunds.is_empty(), "the money stays charged");
}

#[tokio::test]
async fn undoing_is_refused_while_the_carrier_holds_a_label_the_order_does_not_know_of() {
    let shop = Shop::open().await;
    let before = shop.mugs().await;
    let order = shop.paid_order().await;
    shop.buy_label_behind_the_sagas_back(&order).await;

    for task in [Task::RefundPayment, Task::VoidInvoice, Task::ReleaseStock] {
        assert_eq!(failure(shop.run(task, &order).await), "OrderShipped", "{}", task.name());
    }
    assert_eq!(failure(shop.run_after(Task::CancelOrder, &order, "Transient").await), "OrderShipped");
    let order = shop.order(&order).await;
    assert_eq!(order.status(), OrderStatus::Paid);
    assert_eq!(order.payment.map(|p| p.status), Some(PaymentStatus::Succeeded));
    assert_eq!(shop.mugs().await.reserved, before.reserved + 2, "the mugs stay promised to the parcel");
}

#[tokio::test]
async fn a_compensation_failure_notes_what_is_left_to_undo_once() {
    let shop = Shop::open().await;
    let order = shop.paid_order().await;
    let label = shop.buy_label_behind_the_sagas_back(&order).await;

    for _ in 0..2 {
        shop.run_after(Task::RecordCompensationFailure, &order, "States.TaskFailed").await.unwrap();
    }

    let order = shop.order(&order).await;
    let notes: Vec<&str> = order
        .history()
        .iter()
        .map(|entry| entry.detail.as_str())
        .filter(|detail| detail.starts_with("needs attention:"))
        .collect();
    assert_eq!(notes.len(), 1, "noted once: {notes:?}");
    for fact in [
        format!("the charge of {} is not refunded", order.pricing.total),
        format!("label {} is neither recorded nor voided", label.tracking_number),
        format!("invoice {} is not voided", order.invoice.as_ref().expect("invoiced").number),
        "the order is still paid".to_owned(),
    ] {
        assert!(notes[0].contains(&fact), "{fact:?} is missing from {:?}", notes[0]);
    }
}

#[tokio::test]
async fn voiding_a_number_whose_issue_died_before_filing_files_the_invoice_and_its_credit_note() {
    let shop = Shop::open().await;
    let order = shop.place("pm_card_visa").await;
    shop.run_all(&order, &[Task::PriceOrder, Task::ReserveStock]).await;
    // IssueInvoice took the next number, and the process died before it filed the PDF.
    shop.saga.invoice_numbers.assign(&order, 2026).await.unwrap();

    shop.run(Task::VoidInvoice, &order).await.unwrap();

    let invoice = shop.order(&order).await.invoice.expect("the number is accounted for on the order");
    let credit_note = invoice.credit_note_key.as_ref().expect("the number is voided");
    assert!(shop.blobs.get(&invoice.document_key).await.unwrap().is_some(), "the invoice it voids is filed");
    assert!(shop.blobs.get(credit_note).await.unwrap().is_some(), "the credit note is filed");
}
