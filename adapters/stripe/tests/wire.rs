//! The Stripe adapter against answers shaped as Stripe's API reference documents them, served by
//! wiremock: what a fake Stripe cannot show (the replay of an idempotency key, rate limits,
//! outages, `Stripe-Should-Retry`, a lost answer reconciled) and exactly what goes on the wire.

use std::time::Duration;

use orderflow_adapters_stripe::{SecretKey, StripePayments};
use orderflow_domain::ports::{Charge, ChargeRequest, PaymentError, PaymentGateway};
use orderflow_domain::{Currency, Money};
use orderflow_port_contracts::payments::TestCards;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk_test_51WireSecretThatMustNeverShow";
const PI: &str = "pi_3QxAbCdEfGhIjKlMnOpQrStU";

fn stripe(server: &MockServer) -> StripePayments {
    StripePayments::with_timeout(server.uri(), SecretKey::new(KEY), Duration::from_millis(500)).expect("a client")
}

fn request() -> ChargeRequest {
    let cards = TestCards::stripe_test_mode();
    cards.charge_request(&cards.pays)
}

/// A PaymentIntent as Stripe shows it, in `status`.
fn intent(status: &str) -> Value {
    json!({
        "id": PI, "object": "payment_intent", "amount": 2599, "amount_received": if status == "succeeded" { 2599 } else { 0 },
        "currency": "usd", "customer": "cus_ada", "payment_method": "pm_card_visa", "status": status,
        "metadata": {"order_id": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB"}, "livemode": false, "last_payment_error": null
    })
}

/// Stripe's error document.
fn error(kind: &str, code: &str, decline_code: Option<&str>) -> Value {
    let mut error = json!({"type": kind, "code": code, "message": "As Stripe says it.", "doc_url": "https://stripe.com/docs/error-codes"});
    if let Some(decline_code) = decline_code {
        error["decline_code"] = json!(decline_code);
    }
    json!({ "error": error })
}

async fn requests_to(server: &MockServer, to: &str) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default().into_iter().filter(|r| r.url.path() == to).collect()
}

fn idempotency_key(request: &Request) -> Option<String> {
    request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[tokio::test]
async fn opening_sends_the_orders_key_the_amount_the_customer_and_the_card_with_the_api_version() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("stripe-version", orderflow_adapters_stripe::API_VERSION))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("requires_confirmation")))
        .mount(&server)
        .await;
    let request = request();

    let reference = stripe(&server).open(&request).await.unwrap();

    assert_eq!(reference, PI);
    let sent = &requests_to(&server, "/v1/payment_intents").await[0];
    assert_eq!(idempotency_key(sent), Some(request.idempotency_key.clone()));
    let form: Vec<(String, String)> = serde_urlencoded_pairs(&sent.body);
    for (name, value) in [
        ("amount", "2599"),
        ("currency", "usd"),
        ("customer", request.customer.to_string().as_str()),
        ("payment_method", "pm_card_visa"),
        ("metadata[order_id]", request.order.to_string().as_str()),
    ] {
        assert!(form.contains(&(name.to_owned(), value.to_owned())), "{name}={value} not in {form:?}");
    }
    assert!(!form.iter().any(|(name, _)| name == "confirm"), "opening charges nothing");
}

#[tokio::test]
async fn opening_again_after_a_lost_answer_sends_the_same_key_and_gets_the_same_payment() {
    let server = MockServer::start().await;
    // Stripe replays the first answer for a repeated key: the same PaymentIntent.
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("requires_confirmation")))
        .mount(&server)
        .await;
    let request = request();

    let first = stripe(&server).open(&request).await.unwrap();
    let again = stripe(&server).open(&request).await.unwrap();

    assert_eq!(first, again);
    let sent = requests_to(&server, "/v1/payment_intents").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(idempotency_key(&sent[0]), idempotency_key(&sent[1]), "a retry never makes a new key");
    assert_eq!(sent[0].body, sent[1].body, "and asks exactly the same");
}

#[tokio::test]
async fn a_charge_confirms_off_session_and_a_retry_after_an_outage_sends_the_same_key() {
    let server = MockServer::start().await;
    let confirm = format!("/v1/payment_intents/{PI}/confirm");
    Mock::given(method("POST"))
        .and(path(confirm.as_str()))
        .respond_with(ResponseTemplate::new(500).set_body_json(error("api_error", "", None)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(confirm.as_str()))
        .and(body_string_contains("off_session=true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("succeeded")))
        .mount(&server)
        .await;
    let request = request();

    let outage = stripe(&server).charge(PI, &request).await;
    let charged = stripe(&server).charge(PI, &request).await;

    assert!(matches!(outage, Err(PaymentError::Transient(_))), "{outage:?}");
    assert_eq!(charged.unwrap(), Charge { reference: PI.to_owned(), amount: Money::new(2599, Currency::Usd) });
    let sent = requests_to(&server, &confirm).await;
    assert_eq!(idempotency_key(&sent[0]), Some(format!("{}/confirm", request.idempotency_key)));
    assert_eq!(idempotency_key(&sent[0]), idempotency_key(&sent[1]));
}

#[tokio::test]
async fn a_charge_confirmed_by_an_attempt_whose_answer_was_lost_is_read_back_not_made_again() {
    let server = MockServer::start().await;
    // Stripe refuses to confirm a PaymentIntent that already succeeded.
    Mock::given(method("POST"))
        .and(path(format!("/v1/payment_intents/{PI}/confirm")))
        .respond_with(ResponseTemplate::new(400).set_body_json(error(
            "invalid_request_error",
            "payment_intent_unexpected_state",
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payment_intents/{PI}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("succeeded")))
        .mount(&server)
        .await;

    let charged = stripe(&server).charge(PI, &request()).await;

    assert_eq!(charged.unwrap().reference, PI);
}

#[tokio::test]
async fn declines_and_authentication_are_the_sagas_business_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_declined/confirm"))
        .respond_with(ResponseTemplate::new(402).set_body_json(error(
            "card_error",
            "card_declined",
            Some("insufficient_funds"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_sca/confirm"))
        .respond_with(ResponseTemplate::new(402).set_body_json(error("card_error", "authentication_required", None)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_action/confirm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("requires_action")))
        .mount(&server)
        .await;
    let stripe = stripe(&server);

    match stripe.charge("pi_declined", &request()).await {
        Err(PaymentError::Declined { code }) => assert_eq!(code, "insufficient_funds"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(stripe.charge("pi_sca", &request()).await, Err(PaymentError::RequiresAction)));
    assert!(matches!(stripe.charge("pi_action", &request()).await, Err(PaymentError::RequiresAction)));
}

#[tokio::test]
async fn rate_limits_outages_timeouts_and_stripes_own_advice_decide_what_is_retried() {
    let server = MockServer::start().await;
    let answers = [
        ("pi_limited", ResponseTemplate::new(429).set_body_json(error("invalid_request_error", "rate_limit", None))),
        ("pi_down", ResponseTemplate::new(503)),
        ("pi_locked", ResponseTemplate::new(409).set_body_json(error("idempotency_error", "", None))),
        (
            "pi_advised",
            ResponseTemplate::new(400).insert_header("Stripe-Should-Retry", "true").set_body_json(error(
                "invalid_request_error",
                "lock_timeout",
                None,
            )),
        ),
        ("pi_slow", ResponseTemplate::new(200).set_body_json(intent("succeeded")).set_delay(Duration::from_secs(2))),
    ];
    for (intent, answer) in answers {
        Mock::given(method("POST"))
            .and(path(format!("/v1/payment_intents/{intent}/confirm")))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_final/confirm"))
        .respond_with(ResponseTemplate::new(503).insert_header("Stripe-Should-Retry", "false"))
        .mount(&server)
        .await;
    let stripe = stripe(&server);

    for intent in ["pi_limited", "pi_down", "pi_locked", "pi_advised", "pi_slow"] {
        let answer = stripe.charge(intent, &request()).await;
        assert!(matches!(answer, Err(PaymentError::Transient(_))), "{intent}: {answer:?}");
    }
    let told_not_to = stripe.charge("pi_final", &request()).await;
    assert!(matches!(told_not_to, Err(PaymentError::Rejected(_))), "{told_not_to:?}");
}

#[tokio::test]
async fn an_invalid_request_is_rejected_and_its_error_never_shows_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(400).set_body_json(error(
            "invalid_request_error",
            "resource_missing",
            None,
        )))
        .mount(&server)
        .await;

    let refused = stripe(&server).open(&request()).await.unwrap_err();

    assert!(matches!(refused, PaymentError::Rejected(_)), "{refused:?}");
    let shown = format!("{refused:?} {}", orderflow_domain::CauseChain(&refused));
    assert!(shown.contains("resource_missing"), "{shown}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
    assert!(!format!("{:?}", stripe(&server)).contains(KEY));
}

#[tokio::test]
async fn a_refund_already_made_is_returned_without_refunding_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "has_more": false, "url": "/v1/refunds",
            "data": [{"id": "re_earlier", "object": "refund", "amount": 2599, "currency": "usd",
                      "payment_intent": PI, "status": "succeeded"}]
        })))
        .mount(&server)
        .await;
    let charge = Charge { reference: PI.to_owned(), amount: Money::new(2599, Currency::Usd) };

    let refund = stripe(&server).refund(&request().order, &charge).await.unwrap();

    assert_eq!((refund.reference.as_str(), refund.amount), ("re_earlier", charge.amount));
    assert!(requests_to(&server, "/v1/refunds").await.iter().all(|r| r.method.as_str() == "GET"), "no second refund");
}

#[tokio::test]
async fn a_refund_is_made_in_full_under_the_orders_refund_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [], "has_more": false})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "re_new", "object": "refund", "amount": 2599, "currency": "usd", "payment_intent": PI, "status": "pending"
        })))
        .mount(&server)
        .await;
    let order = request().order;
    let charge = Charge { reference: PI.to_owned(), amount: Money::new(2599, Currency::Usd) };

    let refund = stripe(&server).refund(&order, &charge).await.unwrap();

    assert_eq!(refund.reference, "re_new");
    let posted: Vec<Request> =
        requests_to(&server, "/v1/refunds").await.into_iter().filter(|r| r.method.as_str() == "POST").collect();
    assert_eq!(idempotency_key(&posted[0]), Some(format!("{order}/refund")));
    let form = serde_urlencoded_pairs(&posted[0].body);
    assert!(form.contains(&("payment_intent".to_owned(), PI.to_owned())), "{form:?}");
    assert!(!form.iter().any(|(name, _)| name == "amount"), "no amount: a refund in full");
}

#[tokio::test]
async fn a_charge_stripe_does_not_know_is_no_charge() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_unknown"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error(
            "invalid_request_error",
            "resource_missing",
            None,
        )))
        .mount(&server)
        .await;

    assert_eq!(stripe(&server).find_charge("pi_unknown").await.unwrap(), None);
}

/// A form body's pairs, decoded.
fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
