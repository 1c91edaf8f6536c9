//! What every `PaymentGateway` guarantees. The gateway under test answers Stripe's test payment
//! methods as Stripe does in test mode (`pm_card_visa` succeeds,
//! `pm_card_chargeDeclinedInsufficientFunds` is declined, `pm_card_authenticationRequired` needs
//! the customer): the simulator does, and so does Stripe itself with a test key.

use futures::future::join_all;
use orderflow_domain::cart::PaymentMethodId;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{ChargeRequest, PaymentError, PaymentGateway};
use orderflow_domain::{Currency, Money};

use crate::fixtures::{customer, order_id};

/// A charge of $25.99 for a new order, with `payment_method`, under the order's one key.
pub fn charge_request(payment_method: &str) -> ChargeRequest {
    let order = order_id();
    ChargeRequest {
        idempotency_key: format!("{order}/charge"),
        order,
        customer: customer().id,
        amount: Money::new(2599, Currency::Usd),
        payment_method: PaymentMethodId::parse(payment_method).expect("a valid payment method"),
    }
}

async fn found(payments: &dyn PaymentGateway, order: &OrderId) -> Option<orderflow_domain::ports::Charge> {
    payments.find_charge(order).await.expect("looking a charge up")
}

pub async fn a_charge_takes_the_amount_asked(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_visa");
    let charge = payments.charge(&request).await.expect("charging a good card");
    assert_eq!(charge.amount, request.amount);
    assert!(!charge.reference.is_empty(), "the partner's reference is kept for the refund");
}

pub async fn charging_twice_with_the_same_key_charges_once(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_visa");
    let first = payments.charge(&request).await.expect("charging a good card");
    let again = payments.charge(&request).await.expect("repeating the charge");
    assert_eq!(again, first, "the repeat is answered with the first charge");
}

pub async fn concurrent_charges_with_one_key_charge_once(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_visa");
    let charges = join_all((0..10).map(|_| payments.charge(&request))).await;
    let first = charges[0].as_ref().expect("every racing charge is answered");
    assert!(
        charges.iter().all(|c| c.as_ref().is_ok_and(|c| c == first)),
        "every racing request got the one charge: {charges:?}"
    );
}

pub async fn a_declined_card_is_declined_with_the_partners_code(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_chargeDeclinedInsufficientFunds");
    match payments.charge(&request).await {
        Err(PaymentError::Declined { code }) => assert_eq!(code, "insufficient_funds"),
        other => panic!("a card without funds was not declined: {other:?}"),
    }
    assert_eq!(found(payments, &request.order).await, None, "a decline is no charge to refund");
}

pub async fn a_card_that_needs_its_owner_requires_action(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_authenticationRequired");
    assert!(matches!(payments.charge(&request).await, Err(PaymentError::RequiresAction)));
    assert_eq!(found(payments, &request.order).await, None);
}

pub async fn the_charge_of_an_order_is_found_even_when_its_answer_was_lost(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_visa");
    let charge = payments.charge(&request).await.expect("charging a good card");
    assert_eq!(found(payments, &request.order).await, Some(charge));
    assert_eq!(found(payments, &order_id()).await, None, "an order never charged has no charge");
}

pub async fn refunding_twice_refunds_once(payments: &dyn PaymentGateway) {
    let request = charge_request("pm_card_visa");
    let charge = payments.charge(&request).await.expect("charging a good card");
    let refund = payments.refund(&request.order, &charge).await.expect("refunding the charge");
    assert_eq!(refund.amount, charge.amount, "a refund is in full");
    let again = payments.refund(&request.order, &charge).await.expect("refunding again");
    assert_eq!(again, refund, "refunding again returns the same refund");
}
