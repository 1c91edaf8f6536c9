//! What every `PaymentGateway` guarantees, charged with [`TestCards`]: a card that pays, one
//! the issuer declines, one that needs its owner. Stripe's test mode answers its `pm_card_…` ids so
//! ([`TestCards::stripe_test_mode`]), and the simulator answers them as Stripe does; a fake Stripe
//! (localstripe) gets cards it made itself.

use futures::future::join_all;
use orderflow_domain::cart::PaymentMethodId;
use orderflow_domain::customer::CustomerId;
use orderflow_domain::ports::{Charge, ChargeRequest, PaymentError, PaymentGateway};
use orderflow_domain::{Currency, Money};

use crate::fixtures::{customer, order_id};

/// The customer the suite charges and the saved payment methods it charges.
#[derive(Debug, Clone)]
pub struct TestCards {
    pub customer: CustomerId,
    /// Pays.
    pub pays: String,
    /// Declined by the card's issuer, with `decline_code` (Stripe's test card without funds:
    /// `insufficient_funds`).
    pub declined: String,
    pub decline_code: String,
    /// Needs its owner to authenticate (3-D Secure): an off-session charge cannot go on.
    pub needs_authentication: String,
}

impl TestCards {
    /// Stripe's test payment methods, for any customer.
    pub fn stripe_test_mode() -> Self {
        Self {
            customer: customer().id,
            pays: "pm_card_visa".to_owned(),
            declined: "pm_card_chargeDeclinedInsufficientFunds".to_owned(),
            decline_code: "insufficient_funds".to_owned(),
            needs_authentication: "pm_card_authenticationRequired".to_owned(),
        }
    }

    /// A charge of $25.99 for a new order, with `payment_method`, under the order's one key.
    pub fn charge_request(&self, payment_method: &str) -> ChargeRequest {
        let order = order_id();
        ChargeRequest {
            idempotency_key: format!("{order}/charge"),
            order,
            customer: self.customer.clone(),
            amount: Money::new(2599, Currency::Usd),
            payment_method: PaymentMethodId::parse(payment_method).expect("a valid payment method"),
        }
    }
}

async fn open(payments: &dyn PaymentGateway, request: &ChargeRequest) -> String {
    payments.open(request).await.expect("opening a payment")
}

/// Opens and charges `request`'s payment; its reference and the charge's answer.
async fn open_and_charge(
    payments: &dyn PaymentGateway,
    request: &ChargeRequest,
) -> (String, Result<Charge, PaymentError>) {
    let reference = open(payments, request).await;
    let charged = payments.charge(&reference, request).await;
    (reference, charged)
}

async fn found(payments: &dyn PaymentGateway, reference: &str) -> Option<Charge> {
    payments.find_charge(reference).await.expect("looking a charge up")
}

pub async fn a_charge_takes_the_amount_asked(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.pays);
    let (reference, charged) = open_and_charge(payments, &request).await;
    let charge = charged.expect("charging a good card");
    assert_eq!(charge.amount, request.amount);
    assert_eq!(charge.reference, reference, "the charge is the payment that was opened");
}

pub async fn opening_a_payment_charges_nothing_and_opening_it_again_names_the_same_one(
    payments: &dyn PaymentGateway,
    cards: &TestCards,
) {
    let request = cards.charge_request(&cards.pays);
    let reference = open(payments, &request).await;
    assert!(!reference.is_empty(), "an opened payment has the partner's reference");
    assert_eq!(open(payments, &request).await, reference, "the same key opens the same payment");
    assert_eq!(found(payments, &reference).await, None, "an opened payment is not a charge");
}

pub async fn charging_twice_charges_once(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.pays);
    let (reference, charged) = open_and_charge(payments, &request).await;
    let first = charged.expect("charging a good card");
    let again = payments.charge(&reference, &request).await.expect("repeating the charge");
    assert_eq!(again, first, "the repeat is answered with the first charge");
}

pub async fn concurrent_charges_of_one_payment_charge_once(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.pays);
    let reference = open(payments, &request).await;
    let charges = join_all((0..10).map(|_| payments.charge(&reference, &request))).await;
    let first = charges[0].as_ref().expect("every racing charge is answered");
    assert!(
        charges.iter().all(|c| c.as_ref().is_ok_and(|c| c == first)),
        "every racing request got the one charge: {charges:?}"
    );
}

pub async fn a_declined_card_is_declined_with_the_partners_code(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.declined);
    let (reference, charged) = open_and_charge(payments, &request).await;
    match charged {
        Err(PaymentError::Declined { code }) => assert_eq!(code, cards.decline_code),
        other => panic!("a card without funds was not declined: {other:?}"),
    }
    assert_eq!(found(payments, &reference).await, None, "a decline is no charge to refund");
}

pub async fn a_card_that_needs_its_owner_requires_action(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.needs_authentication);
    let (reference, charged) = open_and_charge(payments, &request).await;
    assert!(matches!(charged, Err(PaymentError::RequiresAction)), "{charged:?}");
    assert_eq!(found(payments, &reference).await, None);
}

pub async fn a_charge_is_found_by_its_reference_at_once_even_when_its_answer_was_lost(
    payments: &dyn PaymentGateway,
    cards: &TestCards,
) {
    let request = cards.charge_request(&cards.pays);
    let (reference, charged) = open_and_charge(payments, &request).await;
    // The caller never read the answer: all it holds is the reference it recorded before.
    drop(charged);
    let charge = found(payments, &reference).await.expect("the charge, found by its reference");
    assert_eq!((charge.reference.as_str(), charge.amount), (reference.as_str(), request.amount));
}

pub async fn refunding_twice_refunds_once(payments: &dyn PaymentGateway, cards: &TestCards) {
    let request = cards.charge_request(&cards.pays);
    let (_, charged) = open_and_charge(payments, &request).await;
    let charge = charged.expect("charging a good card");
    let refund = payments.refund(&request.order, &charge).await.expect("refunding the charge");
    assert_eq!(refund.amount, charge.amount, "a refund is in full");
    let again = payments.refund(&request.order, &charge).await.expect("refunding again");
    assert_eq!(again, refund, "refunding again returns the same refund");
}
