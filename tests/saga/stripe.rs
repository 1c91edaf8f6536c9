//! The saga with Stripe as the payment partner (`PAYMENTS=stripe`), against localstripe, which
//! `scripts/localstripe.sh` starts (`LOCALSTRIPE_URL`). The shop's customer and saved cards are
//! made in the fake first, as a shop's checkout would have made them in Stripe.

use orderflow::Payments;
use orderflow_adapters_stripe::localstripe::LocalStripe;
use orderflow_domain::Secret;
use orderflow_tests::{TestApp, order_body};
use serde_json::{Value, json};

const KEY: &str = "sk_test_orderflow_saga";

fn localstripe() -> String {
    std::env::var("LOCALSTRIPE_URL").expect("LOCALSTRIPE_URL is not set: run these tests with scripts/localstripe.sh")
}

fn fake_stripe() -> LocalStripe {
    LocalStripe::new(localstripe(), KEY)
}

/// A Stripe customer with the card `number` saved: the order body that pays with it.
async fn customer_paying_with(number: &str) -> Value {
    let (customer, cards) = fake_stripe().customer_with_cards(&[number]).await;
    let mut body = order_body();
    body["customer"]["id"] = json!(customer);
    body["paymentMethod"] = json!(cards[0]);
    body
}

async fn app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.payments = Payments::Stripe { api_base: localstripe(), key: Secret::new(KEY) };
    })
    .await
}

async fn payment_intent(reference: &str) -> Value {
    fake_stripe().get(&format!("/v1/payment_intents/{reference}")).await
}

#[tokio::test]
#[ignore = "needs localstripe: scripts/localstripe.sh"]
async fn an_order_paid_through_stripe_is_charged_once_and_shipped() {
    let app = app().await;
    let placed = app.place_order(&customer_paying_with("4242424242424242").await).await;

    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "shipped", "{order}");
    let reference = order["payment"]["reference"].as_str().unwrap();
    let intent = payment_intent(reference).await;
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount"], order["pricing"]["total"]);
    assert_eq!(intent["metadata"]["order_id"], order["id"]);
}

#[tokio::test]
#[ignore = "needs localstripe: scripts/localstripe.sh"]
async fn a_card_stripe_declines_cancels_the_order_with_stripes_code() {
    let app = app().await;
    let placed = app.place_order(&customer_paying_with("4000000000000341").await).await;

    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["cancellation"]["reason"], "payment_declined");
    assert!(order.get("payment").is_none(), "nothing was charged: {order}");
    let history: Vec<&str> = order["history"].as_array().unwrap().iter().filter_map(|h| h["detail"].as_str()).collect();
    assert!(history.contains(&"payment declined (card_declined)"), "{history:?}");
}

#[tokio::test]
#[ignore = "needs localstripe: scripts/localstripe.sh"]
async fn an_undeliverable_order_paid_through_stripe_is_refunded_there_once() {
    let app = app().await;
    let mut body = customer_paying_with("4242424242424242").await;
    body["shippingAddress"]["postalCode"] = json!("00000");
    let placed = app.place_order(&body).await;

    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["payment"]["status"], "refunded");
    let reference = order["payment"]["reference"].as_str().unwrap();
    let refunds = fake_stripe().get("/v1/refunds").await;
    let of_this: Vec<&Value> =
        refunds["data"].as_array().unwrap().iter().filter(|r| r["payment_intent"] == reference).collect();
    assert_eq!(of_this.len(), 1, "refunded once: {refunds}");
    assert_eq!(of_this[0]["amount"], order["pricing"]["total"]);
    assert_eq!(order["payment"]["refundReference"], of_this[0]["id"]);
}
