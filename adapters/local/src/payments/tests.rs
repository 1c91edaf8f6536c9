use orderflow_domain::cart::PaymentMethodId;
use orderflow_domain::customer::CustomerId;

use super::*;
use orderflow_port_contracts::fixtures::order_id;

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

fn simulator() -> (tempfile::TempDir, PaymentSimulator) {
    let dir = tempfile::tempdir().unwrap();
    let payments = PaymentSimulator::open(dir.path().join("payments.db"), Durability::Normal).unwrap();
    (dir, payments)
}

fn request(order: &OrderId, payment_method: &str, amount: Money) -> ChargeRequest {
    ChargeRequest {
        order: order.clone(),
        customer: CustomerId::parse("cus_ada").unwrap(),
        amount,
        payment_method: PaymentMethodId::parse(payment_method).unwrap(),
        idempotency_key: format!("{order}/charge"),
    }
}

/// What a charge answered, comparable.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Charged,
    Declined(String),
    RequiresAction,
    Other(String),
}

async fn answer(payments: &PaymentSimulator, payment_method: &str) -> Answer {
    match pay(payments, &request(&order_id(), payment_method, usd(2599))).await {
        Ok(_) => Answer::Charged,
        Err(PaymentError::Declined { code }) => Answer::Declined(code),
        Err(PaymentError::RequiresAction) => Answer::RequiresAction,
        Err(other) => Answer::Other(other.to_string()),
    }
}

/// Opens the payment of `request` and charges it, as `ChargePayment` does.
async fn pay(payments: &PaymentSimulator, request: &ChargeRequest) -> Result<Charge, PaymentError> {
    let reference = payments.open(request).await?;
    payments.charge(&reference, request).await
}

fn is_stripe_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[tokio::test]
async fn every_test_payment_method_answers_as_stripe_documents() {
    let (_dir, payments) = simulator();
    let declined = |code: &str| Answer::Declined(code.to_owned());
    let cases = [
        ("pm_card_visa", Answer::Charged),
        ("pm_card_visa_debit", Answer::Charged),
        ("pm_card_mastercard", Answer::Charged),
        ("pm_card_mastercard_debit", Answer::Charged),
        ("pm_card_mastercard_prepaid", Answer::Charged),
        ("pm_card_amex", Answer::Charged),
        ("pm_card_discover", Answer::Charged),
        ("pm_card_diners", Answer::Charged),
        ("pm_card_jcb", Answer::Charged),
        ("pm_card_unionpay", Answer::Charged),
        ("pm_card_us", Answer::Charged),
        ("pm_card_gb", Answer::Charged),
        ("pm_card_jp", Answer::Charged),
        ("pm_card_bypassPending", Answer::Charged),
        ("pm_card_avsFail", Answer::Charged),
        ("pm_card_cvcCheckFail", Answer::Charged),
        ("pm_card_riskLevelElevated", Answer::Charged),
        ("pm_card_createDispute", Answer::Charged),
        ("pm_card_threeDSecureOptional", Answer::Charged),
        ("pm_card_authenticationRequiredOnSetup", Answer::Charged),
        ("pm_card_authenticationRequiredSetupForOffSession", Answer::Charged),
        ("pm_card_refundFail", Answer::Charged),
        ("pm_card_chargeDeclined", declined("generic_decline")),
        ("pm_card_visa_chargeDeclined", declined("generic_decline")),
        ("pm_card_chargeCustomerFail", declined("generic_decline")),
        ("pm_card_chargeDeclinedInsufficientFunds", declined("insufficient_funds")),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", declined("insufficient_funds")),
        ("pm_card_chargeDeclinedLostCard", declined("lost_card")),
        ("pm_card_visa_chargeDeclinedStolenCard", declined("stolen_card")),
        ("pm_card_chargeDeclinedFraudulent", declined("fraudulent")),
        ("pm_card_riskLevelHighest", declined("fraudulent")),
        ("pm_card_chargeDeclinedExpiredCard", declined("expired_card")),
        ("pm_card_chargeDeclinedIncorrectCvc", declined("incorrect_cvc")),
        ("pm_card_chargeDeclinedProcessingError", declined("processing_error")),
        ("pm_card_visa_chargeDeclinedVelocityLimitExceeded", declined("card_velocity_exceeded")),
        ("pm_card_authenticationRequired", Answer::RequiresAction),
        ("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds", Answer::RequiresAction),
        ("pm_card_threeDSecure2Required", Answer::RequiresAction),
        ("pm_card_threeDSecureRequired", Answer::RequiresAction),
        ("pm_card_nosuchbrand", declined("resource_missing")),
        ("pm_card_zz", declined("resource_missing")),
        ("pm_1Q0PsIJvEtkwdCNYMSaVuRz6", declined("resource_missing")),
    ];
    for (payment_method, expected) in cases {
        assert_eq!(answer(&payments, payment_method).await, expected, "{payment_method}");
    }
}

#[tokio::test]
async fn every_answer_is_in_the_ledger_with_its_stripe_status() {
    let (_dir, payments) = simulator();
    for payment_method in ["pm_card_visa", "pm_card_chargeDeclinedInsufficientFunds", "pm_card_authenticationRequired"]
    {
        answer(&payments, payment_method).await;
    }
    let ledger = payments.ledger().await.unwrap();
    let seen: Vec<_> =
        ledger.charges.iter().map(|c| (c.payment_method.as_str(), c.status, c.decline_code.as_deref())).collect();
    assert_eq!(
        seen,
        [
            ("pm_card_visa", ChargeStatus::Succeeded, None),
            (
                "pm_card_chargeDeclinedInsufficientFunds",
                ChargeStatus::RequiresPaymentMethod,
                Some("insufficient_funds")
            ),
            ("pm_card_authenticationRequired", ChargeStatus::RequiresAction, None),
        ]
    );
    assert!(ledger.charges.iter().all(|c| is_stripe_id(&c.reference, "pi_") && c.amount == usd(2599)));
}

#[tokio::test]
async fn a_charge_repeated_with_its_key_is_answered_again_without_charging_twice() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let request = request(&order, "pm_card_visa", usd(4200));
    let first = pay(&payments, &request).await.unwrap();
    let again = pay(&payments, &request).await.unwrap();
    assert_eq!(first, again);
    assert!(is_stripe_id(&first.reference, "pi_"));
    assert_eq!(first.amount, usd(4200));
    assert_eq!(payments.ledger().await.unwrap().charges.len(), 1);
}

#[tokio::test]
async fn a_decline_repeated_with_its_key_is_the_same_decline() {
    let (_dir, payments) = simulator();
    let request = request(&order_id(), "pm_card_chargeDeclinedExpiredCard", usd(4200));
    for _ in 0..2 {
        let error = pay(&payments, &request).await.unwrap_err();
        assert!(matches!(error, PaymentError::Declined { ref code } if code == "expired_card"), "{error:?}");
    }
    assert_eq!(payments.ledger().await.unwrap().charges.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_charges_with_one_key_make_one_charge() {
    let (_dir, payments) = simulator();
    let request = request(&order_id(), "pm_card_mastercard", usd(1999));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (payments, request) = (payments.clone(), request.clone());
            tokio::spawn(async move { pay(&payments, &request).await.unwrap() })
        })
        .collect();
    let mut references = std::collections::HashSet::new();
    for call in calls {
        references.insert(call.await.unwrap().reference);
    }
    assert_eq!(references.len(), 1);
    let ledger = payments.ledger().await.unwrap();
    assert_eq!(ledger.charges.len(), 1);
    assert!(references.contains(&ledger.charges[0].reference));
}

#[tokio::test]
async fn a_key_reused_with_another_amount_or_card_is_rejected_and_changes_nothing() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let first = pay(&payments, &request(&order, "pm_card_visa", usd(1000))).await.unwrap();

    let other_amount = pay(&payments, &request(&order, "pm_card_visa", usd(1001))).await;
    assert!(matches!(other_amount, Err(PaymentError::Rejected(_))), "{other_amount:?}");
    let other_card = pay(&payments, &request(&order, "pm_card_amex", usd(1000))).await;
    assert!(matches!(other_card, Err(PaymentError::Rejected(_))), "{other_card:?}");

    let ledger = payments.ledger().await.unwrap();
    assert_eq!(ledger.charges.len(), 1);
    assert_eq!(ledger.charges[0].reference, first.reference);
    assert_eq!(ledger.charges[0].amount, usd(1000));
}

#[tokio::test]
async fn a_zero_or_negative_amount_is_rejected() {
    let (_dir, payments) = simulator();
    for amount in [0, -5] {
        let result = pay(&payments, &request(&order_id(), "pm_card_visa", usd(amount))).await;
        assert!(matches!(result, Err(PaymentError::Rejected(_))), "{result:?}");
    }
    assert!(payments.ledger().await.unwrap().charges.is_empty());
}

#[tokio::test]
async fn find_charge_returns_the_successful_charge_of_that_payment_only() {
    let (_dir, payments) = simulator();
    let paid = request(&order_id(), "pm_card_visa", usd(500));
    let paid_reference = payments.open(&paid).await.unwrap();
    let charge = payments.charge(&paid_reference, &paid).await.unwrap();
    let declined = request(&order_id(), "pm_card_chargeDeclined", usd(500));
    let declined_reference = payments.open(&declined).await.unwrap();
    payments.charge(&declined_reference, &declined).await.unwrap_err();
    let opened_only = payments.open(&request(&order_id(), "pm_card_visa", usd(500))).await.unwrap();

    assert_eq!(payments.find_charge(&paid_reference).await.unwrap(), Some(charge));
    assert_eq!(payments.find_charge(&declined_reference).await.unwrap(), None);
    assert_eq!(payments.find_charge(&opened_only).await.unwrap(), None, "opening charges nothing");
    assert_eq!(payments.find_charge("pi_000000000000000000000000").await.unwrap(), None);
}

#[tokio::test]
async fn a_payment_is_charged_only_for_the_order_that_opened_it() {
    let (_dir, payments) = simulator();
    let opened = request(&order_id(), "pm_card_visa", usd(500));
    let reference = payments.open(&opened).await.unwrap();
    let other = request(&order_id(), "pm_card_visa", usd(500));

    let refused = payments.charge(&reference, &other).await;

    assert!(matches!(refused, Err(PaymentError::Rejected(_))), "{refused:?}");
    assert_eq!(payments.find_charge(&reference).await.unwrap(), None);
}

#[tokio::test]
async fn a_refund_is_made_once_and_asking_again_returns_it() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let charge = pay(&payments, &request(&order, "pm_card_visa", usd(2500))).await.unwrap();

    let refund = payments.refund(&order, &charge).await.unwrap();
    assert!(is_stripe_id(&refund.reference, "re_"));
    assert_eq!(refund.amount, usd(2500));
    assert_eq!(payments.refund(&order, &charge).await.unwrap(), refund);

    let ledger = payments.ledger_of(&order).await.unwrap();
    assert_eq!(ledger.charges.len(), 1);
    let refunds = &ledger.charges[0].refunds;
    assert_eq!(refunds.iter().map(|r| (&r.reference, r.amount)).collect::<Vec<_>>(), [(&refund.reference, usd(2500))]);
    // The refunded charge is still the payment's charge: a compensation retried finds the same refund.
    assert_eq!(payments.find_charge(&charge.reference).await.unwrap(), Some(charge));
}

#[tokio::test]
async fn a_refund_without_a_successful_charge_of_that_order_is_impossible() {
    let (_dir, payments) = simulator();
    let (order, other) = (order_id(), order_id());
    let invented = Charge { reference: "pi_000000000000000000000000".to_owned(), amount: usd(100) };
    let declined = request(&order, "pm_card_chargeDeclined", usd(100));
    pay(&payments, &declined).await.unwrap_err();
    let declined =
        Charge { reference: payments.ledger().await.unwrap().charges[0].reference.clone(), amount: usd(100) };
    let others = pay(&payments, &request(&other, "pm_card_visa", usd(100))).await.unwrap();

    for (order, charge) in [(&order, &invented), (&order, &declined), (&order, &others)] {
        let result = payments.refund(order, charge).await;
        assert!(matches!(result, Err(PaymentError::Rejected(_))), "{result:?}");
    }
    assert!(payments.ledger().await.unwrap().charges.iter().all(|c| c.refunds.is_empty()));
}

#[tokio::test]
async fn a_refund_is_in_full_never_more_nor_less_than_the_charge() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let charge = pay(&payments, &request(&order, "pm_card_visa", usd(2500))).await.unwrap();
    for amount in [usd(2501), usd(100), Money::new(2500, Currency::Eur)] {
        let result = payments.refund(&order, &Charge { amount, ..charge.clone() }).await;
        assert!(matches!(result, Err(PaymentError::Rejected(_))), "{result:?}");
    }
    assert!(payments.ledger().await.unwrap().charges[0].refunds.is_empty());
}

#[tokio::test]
async fn the_database_refuses_a_refund_larger_than_its_charge_even_if_code_tried() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let charge = pay(&payments, &request(&order, "pm_card_visa", usd(2500))).await.unwrap();
    let reference = charge.reference.clone();
    let forced = payments
        .db
        .write(move |conn| {
            Ok(conn.execute(
                "INSERT INTO refunds (reference, charge, amount_minor, currency, created_at)
                 VALUES ('re_x', ?1, 2501, 'USD', '2026-01-01T00:00:00Z')",
                [reference],
            )?)
        })
        .await;
    assert!(forced.is_err());
}

#[tokio::test]
async fn the_refund_of_a_refund_fail_card_fails_and_is_not_recorded() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let charge = pay(&payments, &request(&order, "pm_card_refundFail", usd(700))).await.unwrap();
    let result = payments.refund(&order, &charge).await;
    assert!(matches!(result, Err(PaymentError::Rejected(_))), "{result:?}");
    assert!(payments.ledger().await.unwrap().charges[0].refunds.is_empty());
}

#[tokio::test]
async fn the_ledger_survives_reopening_and_keys_still_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.db");
    let order = order_id();
    let (charge, refund) = {
        let payments = PaymentSimulator::open(&path, Durability::Full).unwrap();
        let charge = pay(&payments, &request(&order, "pm_card_visa", usd(900))).await.unwrap();
        let refund = payments.refund(&order, &charge).await.unwrap();
        (charge, refund)
    };
    let payments = PaymentSimulator::open(&path, Durability::Full).unwrap();
    assert_eq!(pay(&payments, &request(&order, "pm_card_visa", usd(900))).await.unwrap(), charge);
    assert_eq!(payments.refund(&order, &charge).await.unwrap(), refund);
    assert_eq!(payments.find_charge(&charge.reference).await.unwrap(), Some(charge));
    assert_eq!(payments.ledger().await.unwrap().charges.len(), 1);
}

#[tokio::test]
async fn the_ledger_serializes_to_the_documented_json_shape() {
    let (_dir, payments) = simulator();
    let order = order_id();
    let charge = pay(&payments, &request(&order, "pm_card_visa", usd(2599))).await.unwrap();
    payments.refund(&order, &charge).await.unwrap();
    pay(&payments, &request(&order_id(), "pm_card_chargeDeclined", usd(100))).await.unwrap_err();

    let json = serde_json::to_value(payments.ledger().await.unwrap()).unwrap();
    let paid = &json["charges"][0];
    assert_eq!(paid["reference"], charge.reference.as_str());
    assert_eq!(paid["orderId"], order.as_str());
    assert_eq!(paid["customerId"], "cus_ada");
    assert_eq!(paid["amount"], serde_json::json!({"minor": 2599, "currency": "USD"}));
    assert_eq!(paid["paymentMethod"], "pm_card_visa");
    assert_eq!(paid["idempotencyKey"], format!("{order}/charge"));
    assert_eq!(paid["status"], "succeeded");
    assert!(paid.get("declineCode").is_none());
    assert!(OffsetDateTime::parse(paid["createdAt"].as_str().unwrap(), &Rfc3339).is_ok());
    assert_eq!(paid["refunds"][0]["amount"]["minor"], 2599);
    let declined = &json["charges"][1];
    assert_eq!(declined["status"], "requires_payment_method");
    assert_eq!(declined["declineCode"], "generic_decline");
    assert_eq!(declined["refunds"], serde_json::json!([]));

    let back: Ledger = serde_json::from_value(json).unwrap();
    assert_eq!(back, payments.ledger().await.unwrap());
}

#[test]
fn an_orders_database_is_not_mistaken_for_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.db");
    drop(Database::open(&path, Durability::Normal).unwrap());
    let error = PaymentSimulator::open(&path, Durability::Normal).unwrap_err();
    assert!(matches!(error, DbError::Migration(crate::sqlite::MigrationError::WrongDatabase { .. })), "{error:?}");
}
