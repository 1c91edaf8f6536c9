//! `PaymentGateway` on Stripe: a PaymentIntent per order, created unconfirmed (the payment is
//! opened and its `pi_…` recorded on the order), then confirmed off-session with the customer's
//! saved payment method (the charge), read back by its id, and refunded in full.
//!
//! It speaks Stripe's REST API directly (four endpoints, form-encoded requests, JSON answers)
//! rather than through `async-stripe`: that crate's typed answers refuse documents that leave a
//! field out or null (localstripe's PaymentIntents, and any field Stripe adds or retires between
//! API versions), and its errors do not carry the `Stripe-Should-Retry` header. Here the answers
//! are read leniently, field by field, and every request names the API version it was written
//! against.
//!
//! Orders name Stripe's objects directly: the order's customer id is the Stripe customer
//! (`cus_…`), its payment method the customer's saved PaymentMethod (`pm_…`).
//!
//! # Outcomes
//!
//! - A decline (`402`, `card_error`) is `Declined` with the issuer's `decline_code` (or the error's
//!   `code`); `authentication_required`, or a PaymentIntent left in `requires_action`, is
//!   `RequiresAction`.
//! - `429`, `409` (a concurrent request with the same key), `5xx`, a connection error, a timeout,
//!   and any answer with `Stripe-Should-Retry: true` are `Transient`: the caller retries with the
//!   same idempotency key, so a request whose answer was lost is answered, never repeated.
//! - Anything else Stripe refuses (`invalid_request_error`, authentication) is `Rejected`, logged
//!   as a defect: retrying cannot help.

use std::fmt;
use std::time::Duration;

#[cfg(feature = "fake")]
pub mod localstripe;

use async_trait::async_trait;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{Charge, ChargeRequest, PaymentError, PaymentGateway, Refund};
use orderflow_domain::{Currency, Money};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

/// The API version every request is written against (Stripe's `Stripe-Version` header).
pub const API_VERSION: &str = "2024-06-20";
/// Where Stripe is.
pub const API_BASE: &str = "https://api.stripe.com";
/// How long one request may take before it is a `Transient` failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A Stripe secret key (`sk_…` or `rk_…`). Never shown: its `Debug` names only its kind and
/// mode.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// `sk_test`, `rk_live`, ...: the prefix, which says what the key is without giving it away.
    fn kind(&self) -> &str {
        self.0.get(..7).filter(|prefix| prefix.ends_with("_test") || prefix.ends_with("_live")).unwrap_or("a key")
    }

    /// Whether the key is for Stripe's test mode.
    pub fn is_test_mode(&self) -> bool {
        self.0.get(2..8) == Some("_test_")
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}…)", self.kind())
    }
}

/// Stripe, as the saga's payment partner.
#[derive(Debug, Clone)]
pub struct StripePayments {
    http: reqwest::Client,
    base: String,
    key: SecretKey,
}

/// Why building the client failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for Stripe")]
pub struct ClientError(#[source] reqwest::Error);

impl StripePayments {
    /// Stripe at `base` (`API_BASE`, or a fake such as localstripe) with `key`.
    pub fn new(base: impl Into<String>, key: SecretKey) -> Result<Self, ClientError> {
        Self::with_timeout(base, key, REQUEST_TIMEOUT)
    }

    /// As [`StripePayments::new`], giving up on a request after `timeout` (a `Transient` failure).
    pub fn with_timeout(base: impl Into<String>, key: SecretKey, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(ClientError)?;
        Ok(Self { http, base: base.into().trim_end_matches('/').to_owned(), key })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key.0)
            .header("Stripe-Version", API_VERSION)
    }

    /// Sends `request` and reads its answer as `T`, or the error Stripe answered with.
    async fn send<T: for<'de> Deserialize<'de>>(&self, request: RequestBuilder) -> Result<T, StripeFailure> {
        let response = request.send().await.map_err(StripeFailure::Unreachable)?;
        if response.status().is_success() {
            return response.json().await.map_err(StripeFailure::Unreadable);
        }
        Err(StripeFailure::from_response(response).await)
    }

    async fn payment_intent(&self, reference: &str) -> Result<Option<PaymentIntent>, StripeFailure> {
        let path = format!("/v1/payment_intents/{}", path_segment(reference)?);
        match self.send(self.request(Method::GET, &path)).await {
            Ok(intent) => Ok(Some(intent)),
            Err(StripeFailure::Answered { status: StatusCode::NOT_FOUND, .. }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// The refunds already made of `reference`, newest first.
    async fn refunds_of(&self, reference: &str) -> Result<Vec<StripeRefund>, StripeFailure> {
        let list: List<StripeRefund> = self
            .send(self.request(Method::GET, "/v1/refunds").query(&[("payment_intent", reference), ("limit", "10")]))
            .await?;
        Ok(list.data)
    }
}

/// The answer to a charge: what the PaymentIntent's state says became of it.
fn outcome(intent: PaymentIntent) -> Result<Charge, PaymentError> {
    match intent.status.as_str() {
        "succeeded" => {
            let amount = intent.amount_received.filter(|received| *received > 0).unwrap_or(intent.amount);
            Ok(Charge { amount: money(amount, &intent.currency)?, reference: intent.id })
        }
        "requires_action" => Err(PaymentError::RequiresAction),
        "requires_payment_method" => {
            let error = intent.last_payment_error.unwrap_or_default();
            Err(declined(&error))
        }
        // A card payment still settling: asking again later finds it settled.
        "processing" => Err(PaymentError::Transient(format!("payment {} is still processing", intent.id).into())),
        other => {
            Err(PaymentError::Rejected(format!("payment {} is {other}, which cannot be charged", intent.id).into()))
        }
    }
}

fn declined(error: &ApiError) -> PaymentError {
    if error.code.as_deref() == Some("authentication_required") {
        return PaymentError::RequiresAction;
    }
    let code =
        error.decline_code.clone().or_else(|| error.code.clone()).unwrap_or_else(|| "generic_decline".to_owned());
    PaymentError::Declined { code }
}

fn money(minor: i64, currency: &str) -> Result<Money, PaymentError> {
    let currency: Currency = currency
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| PaymentError::Rejected(format!("Stripe answered in an unknown currency `{currency}`").into()))?;
    Ok(Money::new(minor, currency))
}

/// `reference` as a path segment: Stripe's ids are letters, digits and `_`; anything else is a
/// bug of the caller's, refused before it reaches a URL.
fn path_segment(reference: &str) -> Result<&str, StripeFailure> {
    if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(reference)
    } else {
        Err(StripeFailure::BadReference(reference.to_owned()))
    }
}

#[async_trait]
impl PaymentGateway for StripePayments {
    #[tracing::instrument(skip_all, fields(order_id = %request.order, amount = %request.amount))]
    async fn open(&self, request: &ChargeRequest) -> Result<String, PaymentError> {
        let amount = request.amount.minor().to_string();
        let currency = request.amount.currency().code().to_ascii_lowercase();
        let order = request.order.to_string();
        let (customer, payment_method) = (request.customer.to_string(), request.payment_method.to_string());
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("customer", customer.as_str()),
            ("payment_method", payment_method.as_str()),
            ("metadata[order_id]", order.as_str()),
        ];
        let intent: PaymentIntent = self
            .send(
                self.request(Method::POST, "/v1/payment_intents")
                    .header("Idempotency-Key", &request.idempotency_key)
                    .form(&form),
            )
            .await
            .map_err(|failure| failure.into_payment_error("opening a payment"))?;
        tracing::info!(reference = %intent.id, "payment opened");
        Ok(intent.id)
    }

    #[tracing::instrument(skip_all, fields(order_id = %request.order, reference = %reference))]
    async fn charge(&self, reference: &str, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let path = format!(
            "/v1/payment_intents/{}/confirm",
            path_segment(reference).map_err(|f| f.into_payment_error("charging"))?
        );
        let confirmed = self
            .send::<PaymentIntent>(
                self.request(Method::POST, &path)
                    .header("Idempotency-Key", format!("{}/confirm", request.idempotency_key))
                    .form(&[("off_session", "true")]),
            )
            .await;
        let intent = match confirmed {
            Ok(intent) => intent,
            Err(StripeFailure::Answered { status: StatusCode::PAYMENT_REQUIRED, error, .. }) => {
                tracing::info!(code = ?error.code, decline_code = ?error.decline_code, "charge declined");
                return Err(declined(&error));
            }
            // Confirming a payment that is no longer waiting for it (`payment_intent_unexpected_
            // state`): an earlier attempt confirmed it, and its answer was lost. What became of
            // that attempt is the payment's state now.
            Err(refused @ StripeFailure::Answered { status: StatusCode::BAD_REQUEST, .. }) => {
                match self.payment_intent(reference).await {
                    Ok(Some(intent)) if intent.status != "requires_confirmation" => intent,
                    Ok(_) => return Err(refused.into_payment_error("charging")),
                    Err(failure) => return Err(failure.into_payment_error("reading a payment back")),
                }
            }
            Err(failure) => return Err(failure.into_payment_error("charging")),
        };
        let answered = outcome(intent);
        tracing::info!(charged = answered.is_ok(), "charge answered");
        answered
    }

    async fn find_charge(&self, reference: &str) -> Result<Option<Charge>, PaymentError> {
        let intent =
            self.payment_intent(reference).await.map_err(|f| f.into_payment_error("reading a payment back"))?;
        match intent {
            Some(intent) if intent.status == "succeeded" => outcome(intent).map(Some),
            Some(_) => Ok(None),
            None => {
                tracing::warn!(reference, "Stripe knows no such payment");
                Ok(None)
            }
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order, charge = %charge.reference))]
    async fn refund(&self, order: &OrderId, charge: &Charge) -> Result<Refund, PaymentError> {
        let reference = path_segment(&charge.reference).map_err(|f| f.into_payment_error("refunding"))?;
        // A refund already made is the refund: asking Stripe first keeps a retry from refunding
        // twice even where its idempotency key has expired (after a day).
        if let Some(refund) = self.earlier_refund(reference, charge).await? {
            return Ok(refund);
        }
        let order_id = order.to_string();
        let made = self
            .send::<StripeRefund>(
                self.request(Method::POST, "/v1/refunds")
                    .header("Idempotency-Key", format!("{order}/refund"))
                    .form(&[("payment_intent", reference), ("metadata[order_id]", order_id.as_str())]),
            )
            .await;
        let refund = match made {
            Ok(refund) => refund,
            Err(refused) if refused.code() == Some("charge_already_refunded") => {
                match self.earlier_refund(reference, charge).await? {
                    Some(refund) => return Ok(refund),
                    None => return Err(refused.into_payment_error("refunding")),
                }
            }
            Err(failure) => return Err(failure.into_payment_error("refunding")),
        };
        settled_refund(refund, charge)
    }
}

impl StripePayments {
    async fn earlier_refund(&self, reference: &str, charge: &Charge) -> Result<Option<Refund>, PaymentError> {
        let refunds = self.refunds_of(reference).await.map_err(|f| f.into_payment_error("listing refunds"))?;
        let kept = refunds
            .into_iter()
            .find(|refund| refund.status.as_deref() != Some("failed") && refund.status.as_deref() != Some("canceled"));
        kept.map(|refund| settled_refund(refund, charge)).transpose()
    }
}

/// A refund Stripe accepted (`succeeded`, or `pending` until the bank settles it); a refund that
/// failed at once is refused.
fn settled_refund(refund: StripeRefund, charge: &Charge) -> Result<Refund, PaymentError> {
    match refund.status.as_deref() {
        Some("failed" | "canceled") => Err(PaymentError::Rejected(
            format!("refund {} of {} {}", refund.id, charge.reference, refund.status.unwrap_or_default()).into(),
        )),
        _ => Ok(Refund { reference: refund.id, amount: Money::new(refund.amount, charge.amount.currency()) }),
    }
}

/// How a request to Stripe failed.
#[derive(Debug, thiserror::Error)]
enum StripeFailure {
    #[error("Stripe could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("Stripe's answer could not be read")]
    Unreadable(#[source] reqwest::Error),
    #[error("Stripe answered {status}: {}", error.summary())]
    Answered { status: StatusCode, should_retry: Option<bool>, error: ApiError },
    #[error("`{0}` is not a Stripe id")]
    BadReference(String),
}

impl StripeFailure {
    async fn from_response(response: Response) -> Self {
        let status = response.status();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.eq_ignore_ascii_case("true"));
        let error = response.json::<ErrorBody>().await.map(|body| body.error).unwrap_or_default();
        Self::Answered { status, should_retry, error }
    }

    /// Stripe's error code, when Stripe answered with one.
    fn code(&self) -> Option<&str> {
        match self {
            Self::Answered { error, .. } => error.code.as_deref(),
            _ => None,
        }
    }

    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            // The answer was cut off mid-way: the request may have been done.
            Self::Unreadable(error) => error.is_timeout() || error.is_body() || error.is_decode(),
            Self::Answered { status, should_retry, .. } => match should_retry {
                Some(retry) => *retry,
                None => {
                    *status == StatusCode::TOO_MANY_REQUESTS
                        || *status == StatusCode::CONFLICT
                        || status.is_server_error()
                }
            },
            Self::BadReference(_) => false,
        }
    }

    fn into_payment_error(self, doing: &'static str) -> PaymentError {
        if self.is_transient() {
            return PaymentError::Transient(Box::new(Context { doing, failure: self }));
        }
        if let Self::Answered { status: StatusCode::PAYMENT_REQUIRED, error, .. } = &self {
            return declined(error);
        }
        tracing::error!(error = %self, doing, "Stripe refused a request: a defect or a configuration error, not retried");
        PaymentError::Rejected(Box::new(Context { doing, failure: self }))
    }
}

/// A failure and what was being done when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{doing}")]
struct Context {
    doing: &'static str,
    #[source]
    failure: StripeFailure,
}

/// The parts of a PaymentIntent read here; every other field is ignored.
#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    amount_received: Option<i64>,
    currency: String,
    #[serde(default)]
    last_payment_error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
struct StripeRefund {
    id: String,
    amount: i64,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    data: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ApiError,
}

/// Stripe's error object.
#[derive(Debug, Default, Clone, Deserialize)]
struct ApiError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    fn summary(&self) -> String {
        let parts = [self.kind.as_deref(), self.code.as_deref(), self.decline_code.as_deref(), self.message.as_deref()];
        let summary: Vec<&str> = parts.into_iter().flatten().collect();
        if summary.is_empty() { "no error document".to_owned() } else { summary.join(", ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_key_never_shows_itself() {
        let key = SecretKey::new("sk_test_51AbCdEfGhIjKlMnOp");
        assert_eq!(format!("{key:?}"), "SecretKey(sk_test…)");
        assert!(key.is_test_mode());
        assert!(!SecretKey::new("sk_live_51AbCd").is_test_mode());
        assert_eq!(format!("{:?}", SecretKey::new("whatever")), "SecretKey(a key…)");
    }

    #[test]
    fn only_stripe_shaped_ids_reach_a_url() {
        assert!(path_segment("pi_3QxAbC").is_ok());
        assert!(path_segment("../v1/charges").is_err());
        assert!(path_segment("").is_err());
    }
}
