//! The Stripe adapter against localstripe, a stateful fake Stripe that `scripts/localstripe.sh`
//! starts (`LOCALSTRIPE_URL`): the payment port's contract suite, with a customer and cards the
//! fake made itself, and what Stripe does that the suite does not ask.
//!
//! `#[ignore]`d: a plain `cargo test` has no fake running.
//!
//! localstripe 1.15.10 differs from Stripe where these tests would notice, so they do not ask it:
//! it ignores `Idempotency-Key` (opening a payment twice under one key opens two), and it declines
//! with `card_declined` and no `decline_code`. The replay of a key is shown against Stripe's
//! documented answers in `tests/wire.rs` instead.

use orderflow_adapters_stripe::localstripe::LocalStripe;
use orderflow_adapters_stripe::{SecretKey, StripePayments};
use orderflow_domain::customer::CustomerId;
use orderflow_domain::ports::{PaymentError, PaymentGateway};
use orderflow_port_contracts as contracts;
use orderflow_port_contracts::payments::TestCards;
use serde_json::Value;

fn base() -> String {
    std::env::var("LOCALSTRIPE_URL").expect("LOCALSTRIPE_URL is not set: run these tests with scripts/localstripe.sh")
}

const KEY: &str = "sk_test_localstripe";

fn stripe() -> StripePayments {
    StripePayments::new(base(), SecretKey::new(KEY)).expect("a client")
}

/// `POST path` with `form` to the fake, as a shop's own setup would; the answer.
/// A customer with three saved cards: one that pays, one declined, one that needs 3-D Secure.
async fn cards() -> TestCards {
    let localstripe = LocalStripe::new(base(), KEY);
    let (customer, saved) =
        localstripe.customer_with_cards(&["4242424242424242", "4000000000000341", "4000002760003184"]).await;
    let [pays, declined, needs_authentication] = <[String; 3]>::try_from(saved).expect("three cards");
    TestCards {
        customer: CustomerId::parse(&customer).expect("a customer id"),
        pays,
        declined,
        decline_code: "card_declined".to_owned(),
        needs_authentication,
    }
}

macro_rules! contract_tests {
    (payments => $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            #[ignore = "needs localstripe: scripts/localstripe.sh"]
            async fn $name() {
                contracts::payments::$name(&stripe(), &cards().await).await;
            }
        )*
    };
}

// Every guarantee of the suite but the replay of an opening key, which localstripe ignores.
contract_tests! { payments =>
    a_charge_takes_the_amount_asked,
    charging_twice_charges_once,
    concurrent_charges_of_one_payment_charge_once,
    a_declined_card_is_declined_with_the_partners_code,
    a_card_that_needs_its_owner_requires_action,
    a_charge_is_found_by_its_reference_at_once_even_when_its_answer_was_lost,
    refunding_twice_refunds_once,
}

#[tokio::test]
#[ignore = "needs localstripe: scripts/localstripe.sh"]
async fn a_payment_opened_is_a_payment_intent_waiting_for_confirmation_with_the_order_in_its_metadata() {
    let cards = cards().await;
    let request = cards.charge_request(&cards.pays);

    let reference = stripe().open(&request).await.unwrap();

    let intent: Value = reqwest::Client::new()
        .get(format!("{}/v1/payment_intents/{reference}", base()))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intent["status"], "requires_confirmation");
    assert_eq!(intent["amount"], 2599);
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["customer"], cards.customer.to_string());
    assert_eq!(intent["metadata"]["order_id"], request.order.to_string());
}

#[tokio::test]
#[ignore = "needs localstripe: scripts/localstripe.sh"]
async fn a_wrong_key_is_refused_and_never_retried() {
    let cards = cards().await;
    let request = cards.charge_request(&cards.pays);
    // localstripe accepts any `sk_test_…` key; one that is no key at all it refuses with 401.
    let stripe = StripePayments::new(base(), SecretKey::new("")).unwrap();

    let refused = stripe.open(&request).await;

    assert!(matches!(refused, Err(PaymentError::Rejected(_))), "{refused:?}");
}
