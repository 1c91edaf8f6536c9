//! `POST /webhooks/stripe`: what Stripe says happened to the orders' payments after the saga was
//! done with them, recorded on the orders. Today that is a refund that failed after Stripe had
//! accepted it (the customer's card was closed, say): the money did not reach the customer, and
//! the order says so for a person to act on. Other events are acknowledged and left alone.
//!
//! Every delivery is verified before anything is read: the `Stripe-Signature` header's `v1`
//! HMAC-SHA256 of `<timestamp>.<body>` under the endpoint's signing secret, compared in constant
//! time, with a timestamp at most [`TOLERANCE`] old, so a captured delivery cannot be replayed
//! later. A delivery that fails the check is `400` and changes nothing. An event is recorded once
//! however often Stripe delivers it (by its `evt_…` id).

use std::fmt;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use orderflow_domain::order::OrderId;
use serde::Deserialize;
use sha2::Sha256;
use time::OffsetDateTime;

use crate::AppState;
use crate::problem::{ApiError, InvalidParam, Problem};

/// How old a signed delivery may be: Stripe's own libraries' default.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// A webhook endpoint's signing secret (`whsec_…`). Its `Debug` does not show it.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or has no timestamp and v1 signature")]
    Malformed,
    #[error("the delivery was signed {0} seconds away from now, more than the tolerance allows")]
    Stale(i64),
    #[error("no v1 signature matches the body under this endpoint's secret")]
    Mismatch,
}

/// Checks `header` (`t=…,v1=…[,v1=…]`) against `body` under `secret` at `now`.
pub fn verify(secret: &WebhookSecret, header: &str, body: &[u8], now: OffsetDateTime) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now.unix_timestamp() - timestamp;
    if age.unsigned_abs() > TOLERANCE.as_secs() {
        return Err(SignatureError::Stale(age));
    }
    let mac = {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(secret.0.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    };
    // `verify_slice` compares in constant time; each candidate gets a fresh copy of the MAC.
    if signatures.iter().any(|signature| mac.clone().verify_slice(signature).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Receive an event from Stripe.
///
/// Verified by its `Stripe-Signature`; a refund that failed is recorded on its order, once per
/// event. Other events, and events about orders this deployment does not have, are acknowledged
/// with `200` and left alone, so that Stripe does not send them again.
#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    tag = "webhooks",
    request_body(content = String, content_type = "application/json", description = "A Stripe event, as Stripe signed it"),
    responses(
        (status = 200, description = "The event was recorded, or needs nothing"),
        (status = 400, description = "The signature is missing, stale or wrong; nothing was changed", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "This deployment receives no Stripe events (no signing secret)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(secret) = &state.stripe_webhook else { return Err(ApiError::NotFound("route")) };
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok()).unwrap_or_default();
    if let Err(refused) = verify(secret, signature, &body, state.clock.now()) {
        tracing::warn!(error = %refused, "refused a Stripe delivery");
        return Err(ApiError::InvalidParameters(vec![InvalidParam::header("Stripe-Signature", refused.to_string())]));
    }
    let event: Event = serde_json::from_slice(&body).map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    let object = &event.data.object;
    let refund_failed = match event.kind.as_str() {
        "refund.failed" => true,
        "refund.updated" | "charge.refund.updated" => object["status"] == "failed",
        _ => false,
    };
    if !refund_failed {
        return Ok(StatusCode::OK);
    }
    let order = object["metadata"]["order_id"].as_str().and_then(|id| OrderId::parse(id).ok());
    let Some(order) = order else {
        tracing::warn!(event = %event.id, "a failed refund names no order of ours");
        return Ok(StatusCode::OK);
    };
    let refund = object["id"].as_str().unwrap_or("a refund");
    let reason = object["failure_reason"].as_str().unwrap_or("no reason given");
    let detail = format!("refund {refund} failed at Stripe ({reason}): the money did not reach the customer");
    let now = state.clock.now();
    match state
        .orders
        .update(&order, |order| Ok::<_, ApiError>(order.record_partner_event(&event.id, detail.clone(), now)))
        .await
    {
        Ok(_) => {
            tracing::error!(order_id = %order, refund, reason, "a refund failed after Stripe accepted it; a person must pay the customer back");
            Ok(StatusCode::OK)
        }
        Err(ApiError::NotFound(_)) => {
            tracing::warn!(order_id = %order, event = %event.id, "a failed refund names an order this deployment does not have");
            Ok(StatusCode::OK)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn signed(body: &str, at: i64, secret: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{at}.{body}").as_bytes());
        format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn a_delivery_signed_with_the_secret_within_the_tolerance_is_accepted() {
        let secret = WebhookSecret::new(SECRET);
        let header = signed("{}", 1_800_000_000, SECRET);
        assert_eq!(verify(&secret, &header, b"{}", at(1_800_000_100)), Ok(()));
        // Stripe sends a v1 per active secret while one is rolled: any may match.
        let rolled = format!("t=1800000000,v1={},{}", "00".repeat(32), header.split_once(',').unwrap().1);
        assert_eq!(verify(&secret, &rolled, b"{}", at(1_800_000_000)), Ok(()));
    }

    #[test]
    fn a_tampered_body_a_wrong_secret_an_old_timestamp_and_a_missing_header_are_refused() {
        let secret = WebhookSecret::new(SECRET);
        let header = signed(r#"{"amount":100}"#, 1_800_000_000, SECRET);
        let now = at(1_800_000_000);
        assert_eq!(verify(&secret, &header, br#"{"amount":999}"#, now), Err(SignatureError::Mismatch));
        let other = signed(r#"{"amount":100}"#, 1_800_000_000, "whsec_other");
        assert_eq!(verify(&secret, &other, br#"{"amount":100}"#, now), Err(SignatureError::Mismatch));
        assert_eq!(verify(&secret, &header, br#"{"amount":100}"#, at(1_800_000_301)), Err(SignatureError::Stale(301)));
        assert_eq!(verify(&secret, "", b"{}", now), Err(SignatureError::Malformed));
        assert_eq!(verify(&secret, "t=1800000000", b"{}", now), Err(SignatureError::Malformed));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }
}
