use hmac::{Hmac, KeyInit, Mac};
use orderflow_domain::Secret;
use orderflow_tests::{TestApp, expect_problem, order_body};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec_orderflow_tests";

async fn app() -> TestApp {
    TestApp::spawn_with(|config| config.stripe_webhook_secret = Some(Secret::new(SECRET))).await
}

/// `Stripe-Signature` for `body` signed at `at` (seconds since 1970) with `secret`.
fn signature(body: &str, at: i64, secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{at}.{body}").as_bytes());
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Stripe's `refund.failed` event for a refund of `order`.
fn refund_failed(event: &str, order: &str) -> String {
    json!({
        "id": event, "object": "event", "type": "refund.failed", "api_version": "2024-06-20", "livemode": false,
        "data": {"object": {
            "id": "re_3QxFailed", "object": "refund", "amount": 2599, "currency": "usd",
            "payment_intent": "pi_3QxAbC", "status": "failed", "failure_reason": "expired_or_canceled_card",
            "metadata": {"order_id": order}
        }}
    })
    .to_string()
}

async fn deliver(app: &TestApp, body: &str, signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn notes_of_failed_refunds(order: &Value) -> usize {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["detail"].as_str().unwrap().contains("re_3QxFailed"))
        .count()
}

#[tokio::test]
async fn a_failed_refund_stripe_reports_is_noted_on_its_order_once_however_often_it_is_delivered() {
    let app = app().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    let body = refund_failed("evt_1Refund", &id);

    for _ in 0..2 {
        let answer = deliver(&app, &body, &signature(&body, now(), SECRET)).await;
        assert_eq!(answer.status(), 200);
    }

    let order = app.settled_order(&id).await;
    assert_eq!(notes_of_failed_refunds(&order), 1, "{order}");
    let note =
        order["history"].as_array().unwrap().iter().find(|h| h["detail"].as_str().unwrap().contains("re_3QxFailed"));
    assert!(note.unwrap()["detail"].as_str().unwrap().contains("expired_or_canceled_card"));
}

#[tokio::test]
async fn a_tampered_body_a_wrong_secret_or_an_old_signature_is_400_and_changes_nothing() {
    let app = app().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    let body = refund_failed("evt_2Refund", &id);
    let tampered = body.replace("expired_or_canceled_card", "lost_or_stolen_card");

    let refusals = [
        deliver(&app, &tampered, &signature(&body, now(), SECRET)).await,
        deliver(&app, &body, &signature(&body, now(), "whsec_someone_else")).await,
        deliver(&app, &body, &signature(&body, now() - 3600, SECRET)).await,
        deliver(&app, &body, "").await,
    ];

    for refused in refusals {
        let problem = expect_problem(refused, 400, "invalid-parameters").await;
        assert_eq!(problem["errors"][0]["header"], "Stripe-Signature", "{problem}");
    }
    let order = app.settled_order(&id).await;
    assert_eq!(notes_of_failed_refunds(&order), 0, "{order}");
}

#[tokio::test]
async fn events_about_nothing_we_act_on_are_acknowledged() {
    let app = app().await;
    let body =
        json!({"id": "evt_3", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_x"}}})
            .to_string();
    assert_eq!(deliver(&app, &body, &signature(&body, now(), SECRET)).await.status(), 200);
    let unknown_order = refund_failed("evt_4", "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB");
    assert_eq!(deliver(&app, &unknown_order, &signature(&unknown_order, now(), SECRET)).await.status(), 200);
}

#[tokio::test]
async fn without_a_signing_secret_there_is_no_webhook_endpoint() {
    let app = TestApp::spawn().await;
    let body = refund_failed("evt_5", "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB");
    expect_problem(deliver(&app, &body, &signature(&body, now(), SECRET)).await, 404, "not-found").await;
}
