//! `PaymentGateway` as a simulator of Stripe in test mode, with a durable ledger.
//!
//! Charges behave as Stripe's published test payment methods do when a saved card is charged
//! off-session (`confirm=true, off_session=true`):
//!
//! | payment method | outcome |
//! |---|---|
//! | `pm_card_visa`, `_visa_debit`, `_mastercard`, `_mastercard_debit`, `_mastercard_prepaid`, `_amex`, `_discover`, `_diners`, `_jcb`, `_unionpay`, and the country cards (`pm_card_us`, `pm_card_gb`, …) | succeeds |
//! | `pm_card_bypassPending`, `_domesticPricing`, `_avsFail`, `_avsLine1Fail`, `_avsZipFail`, `_avsUnchecked`, `_cvcCheckFail`, `_riskLevelElevated`, `_createDispute…`, `_threeDSecureOptional`, `_amex_threeDSecureNotSupported` | succeeds (the checks they fail do not stop an off-session charge; disputes come later) |
//! | `pm_card_authenticationRequiredOnSetup`, `_authenticationRequiredSetupForOffSession` | succeeds: a saved card was set up, so off-session charges need no authentication |
//! | `pm_card_refundFail` | succeeds, but its refund fails (`Rejected`) |
//! | `pm_card_chargeDeclined`, `_visa_chargeDeclined`, `_chargeCustomerFail` | `Declined { code: "generic_decline" }` |
//! | `pm_card_chargeDeclinedInsufficientFunds`, `_visa_…` | `insufficient_funds` |
//! | `pm_card_chargeDeclinedLostCard`, `_visa_…` | `lost_card` |
//! | `pm_card_chargeDeclinedStolenCard`, `_visa_…` | `stolen_card` |
//! | `pm_card_chargeDeclinedFraudulent`, `_riskLevelHighest`, `_radarBlock` | `fraudulent` |
//! | `pm_card_chargeDeclinedExpiredCard` | `expired_card` |
//! | `pm_card_chargeDeclinedIncorrectCvc` | `incorrect_cvc` |
//! | `pm_card_chargeDeclinedProcessingError`, `_threeDSecureOptionalProcessingError` | `processing_error` |
//! | `pm_card_visa_chargeDeclinedVelocityLimitExceeded` | `card_velocity_exceeded` |
//! | `pm_card_authenticationRequired`, `_authenticationRequiredChargeDeclinedInsufficientFunds`, `_threeDSecureRequired`, `_threeDSecure2Required`, `_threeDSecureRequired…` | `RequiresAction` (Stripe: 402 `authentication_required`) |
//! | any other id | `Declined { code: "resource_missing" }` (Stripe: "No such PaymentMethod") |
//!
//! A payment is opened first (a PaymentIntent created unconfirmed: a `pi_…`, nothing charged),
//! then charged by its reference (confirmed); the outcome above is decided when it is charged.
//! Idempotency keys work as Stripe's do: opening again with the same key and the same parameters
//! gets the same `pi_…`; the same key with other parameters is refused (`Rejected`, Stripe's
//! `idempotency_error`). Charging a payment again answers as its first charge did (the same
//! charge, or the same decline) and never charges twice. Every answer is written to the ledger
//! before it is returned, in the simulator's own SQLite file, so a retry after a crash finds it.
//!
//! Refunds are in full and once per charge: refunding again returns the same `re_…`, and the
//! database itself refuses a refund larger than its charge.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use orderflow_domain::Currency;
use orderflow_domain::Money;
use orderflow_domain::address::CountryCode;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{Charge, ChargeRequest, Clock, PaymentError, PaymentGateway, Refund, SystemClock};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::sqlite::{Database, DbError, Durability, Schema};

/// The ledger's schema, in its own file (`DATA_DIR/payments.db`).
const SCHEMA: Schema = Schema {
    name: "payments",
    // "OFp1": Orderflow payments.
    application_id: 0x4F46_7031,
    migrations: &[
        // 1: charges (PaymentIntents) and their refunds.
        r"
        CREATE TABLE charges (
            seq             INTEGER PRIMARY KEY,
            reference       TEXT NOT NULL UNIQUE,
            idempotency_key TEXT NOT NULL UNIQUE,
            order_id        TEXT NOT NULL,
            customer_id     TEXT NOT NULL,
            amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
            currency        TEXT NOT NULL,
            payment_method  TEXT NOT NULL,
            status          TEXT NOT NULL
                            CHECK (status IN ('succeeded', 'requires_payment_method', 'requires_action')),
            decline_code    TEXT CHECK ((status = 'requires_payment_method') = (decline_code IS NOT NULL)),
            created_at      TEXT NOT NULL
        ) STRICT;
        CREATE INDEX charges_by_order ON charges (order_id, seq);

        CREATE TABLE refunds (
            seq          INTEGER PRIMARY KEY,
            reference    TEXT NOT NULL UNIQUE,
            charge       TEXT NOT NULL UNIQUE REFERENCES charges (reference),
            amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
            currency     TEXT NOT NULL,
            created_at   TEXT NOT NULL
        ) STRICT;

        -- The last line of defence for 'never refund more than was charged'.
        CREATE TRIGGER refunds_stay_within_their_charge BEFORE INSERT ON refunds
        WHEN NOT EXISTS (
            SELECT 1 FROM charges c
            WHERE c.reference = NEW.charge AND c.status = 'succeeded' AND c.currency = NEW.currency
              AND NEW.amount_minor
                  + (SELECT coalesce(sum(r.amount_minor), 0) FROM refunds r WHERE r.charge = NEW.charge)
                  <= c.amount_minor
        )
        BEGIN
            SELECT RAISE(ABORT, 'a refund must be of a succeeded charge, in its currency, within its amount');
        END;
        ",
        // 2: payments opened before they are charged (PaymentIntents created unconfirmed). A
        // charge of an opened payment takes its reference and key; charges made before this
        // migration have no opened payment.
        r"
        CREATE TABLE opened (
            seq             INTEGER PRIMARY KEY,
            reference       TEXT NOT NULL UNIQUE,
            idempotency_key TEXT NOT NULL UNIQUE,
            order_id        TEXT NOT NULL,
            customer_id     TEXT NOT NULL,
            amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
            currency        TEXT NOT NULL,
            payment_method  TEXT NOT NULL,
            created_at      TEXT NOT NULL
        ) STRICT;
        ",
    ],
};

/// What a test payment method does when charged off-session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestCard {
    Succeeds,
    /// Charges succeed; refunds come back failed (`pm_card_refundFail`).
    SucceedsButRefundFails,
    Declines(&'static str),
    RequiresAction,
}

impl TestCard {
    /// The behaviour of `payment_method`, as Stripe documents it for its test ids.
    fn of(payment_method: &str) -> Self {
        let Some(name) = payment_method.strip_prefix("pm_card_") else {
            return Self::Declines(UNKNOWN_PAYMENT_METHOD);
        };
        match name {
            "visa"
            | "visa_debit"
            | "mastercard"
            | "mastercard_debit"
            | "mastercard_prepaid"
            | "amex"
            | "discover"
            | "diners"
            | "jcb"
            | "unionpay"
            | "bypassPending"
            | "bypassPendingInternational"
            | "domesticPricing"
            | "avsFail"
            | "avsLine1Fail"
            | "avsZipFail"
            | "avsUnchecked"
            | "cvcCheckFail"
            | "riskLevelElevated"
            | "createDispute"
            | "createDisputeProductNotReceived"
            | "createDisputeInquiry"
            | "threeDSecureOptional"
            | "amex_threeDSecureNotSupported"
            | "authenticationRequiredOnSetup"
            | "authenticationRequiredSetupForOffSession" => Self::Succeeds,
            "refundFail" => Self::SucceedsButRefundFails,
            "chargeDeclined" | "visa_chargeDeclined" | "chargeCustomerFail" => Self::Declines("generic_decline"),
            "chargeDeclinedInsufficientFunds" | "visa_chargeDeclinedInsufficientFunds" => {
                Self::Declines("insufficient_funds")
            }
            "chargeDeclinedLostCard" | "visa_chargeDeclinedLostCard" => Self::Declines("lost_card"),
            "chargeDeclinedStolenCard" | "visa_chargeDeclinedStolenCard" => Self::Declines("stolen_card"),
            "chargeDeclinedFraudulent" | "riskLevelHighest" | "radarBlock" => Self::Declines("fraudulent"),
            "chargeDeclinedExpiredCard" => Self::Declines("expired_card"),
            "chargeDeclinedIncorrectCvc" => Self::Declines("incorrect_cvc"),
            "chargeDeclinedProcessingError" | "threeDSecureOptionalProcessingError" => {
                Self::Declines("processing_error")
            }
            "visa_chargeDeclinedVelocityLimitExceeded" => Self::Declines("card_velocity_exceeded"),
            "authenticationRequired"
            | "authenticationRequiredChargeDeclinedInsufficientFunds"
            | "threeDSecureRequired"
            | "threeDSecure2Required"
            | "threeDSecureRequiredChargeDeclined"
            | "threeDSecureRequiredProcessingError" => Self::RequiresAction,
            // Stripe has a test card per country, named by its ISO code in lower case.
            country
                if country.len() == 2
                    && country.bytes().all(|b| b.is_ascii_lowercase())
                    && CountryCode::parse(country).is_ok() =>
            {
                Self::Succeeds
            }
            _ => Self::Declines(UNKNOWN_PAYMENT_METHOD),
        }
    }
}

/// Stripe's error code for an id it does not know ("No such PaymentMethod").
const UNKNOWN_PAYMENT_METHOD: &str = "resource_missing";

/// Where a charge (a PaymentIntent) ended, in Stripe's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// The money was taken.
    Succeeded,
    /// Declined: the PaymentIntent waits for another payment method; `decline_code` says why.
    RequiresPaymentMethod,
    /// The customer must authenticate, which an off-session charge cannot ask for.
    RequiresAction,
}

impl ChargeStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresAction => "requires_action",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Succeeded, Self::RequiresPaymentMethod, Self::RequiresAction].into_iter().find(|s| s.as_str() == raw)
    }
}

/// Everything the simulated partner has recorded: what `GET /_local/payments` shows.
///
/// ```json
/// {"charges": [{
///   "reference": "pi_3QxAbCdEfGhIjKlMnOpQrStU", "orderId": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB",
///   "customerId": "cus_ada", "amount": {"minor": 2599, "currency": "USD"},
///   "paymentMethod": "pm_card_visa", "idempotencyKey": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/charge",
///   "status": "succeeded", "createdAt": "2026-03-01T12:00:00Z",
///   "refunds": [{"reference": "re_3QxAbCdEfGhIjKlMnOpQrStU",
///                "amount": {"minor": 2599, "currency": "USD"}, "createdAt": "2026-03-01T12:00:05Z"}]
/// }]}
/// ```
///
/// A declined charge has `"status": "requires_payment_method"` and a `"declineCode"`; one that
/// needs authentication has `"status": "requires_action"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ledger {
    /// Oldest first.
    pub charges: Vec<LedgerCharge>,
}

/// One charge attempt (a PaymentIntent) and its refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerCharge {
    /// `pi_` and 24 letters and digits.
    pub reference: String,
    pub order_id: OrderId,
    pub customer_id: String,
    pub amount: Money,
    pub payment_method: String,
    /// The key the charge was made under; repeating it replays this charge.
    pub idempotency_key: String,
    pub status: ChargeStatus,
    /// Stripe's decline code (`insufficient_funds`) when `status` is `requires_payment_method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// At most one, in full.
    pub refunds: Vec<LedgerRefund>,
}

/// A refund of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRefund {
    /// `re_` and 24 letters and digits.
    pub reference: String,
    pub amount: Money,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A simulated Stripe account: charges and refunds recorded in their own SQLite database.
#[derive(Debug, Clone)]
pub struct PaymentSimulator {
    db: Database,
    /// Dates charges and refunds.
    clock: Arc<dyn Clock>,
}

/// Why the simulated partner refused a request outright (`PaymentError::Rejected`).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the idempotency key `{key}` was already used with other parameters (for {reference})")]
    KeyReused { key: String, reference: String },
    #[error("the amount must be positive, not {0}")]
    NonPositiveAmount(Money),
    #[error("no charge {0} exists")]
    NoSuchCharge(String),
    #[error("charge {reference} was made for order {owner}, not {asked}")]
    WrongOrder { reference: String, owner: String, asked: String },
    #[error("charge {0} did not succeed, so there is nothing to refund")]
    NotSucceeded(String),
    #[error("charge {reference} was for {charged}; a refund of {asked} is not a refund in full")]
    NotInFull { reference: String, charged: Money, asked: Money },
    #[error("the refund of {0} failed: the card issuer returned it (pm_card_refundFail)")]
    RefundFailed(String),
}

/// A charge row as the write job needs it.
#[derive(Debug)]
struct StoredCharge {
    reference: String,
    order_id: String,
    customer_id: String,
    amount: Money,
    payment_method: String,
    status: ChargeStatus,
    decline_code: Option<String>,
}

impl StoredCharge {
    /// Whether `other` asks for the same payment: what makes a repeated key a replay, not a reuse.
    fn same_request_as(&self, other: &Self) -> bool {
        (&self.order_id, &self.customer_id, self.amount, &self.payment_method)
            == (&other.order_id, &other.customer_id, other.amount, &other.payment_method)
    }
}

/// A new id in Stripe's shape: `prefix_` and 24 letters and digits.
fn stripe_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + 25);
    id.push_str(prefix);
    id.push('_');
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(24));
    id
}

/// A column that did not hold what the schema promises.
fn bad_column(index: usize, error: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(error))
}

fn money(row: &Row<'_>, amount: usize, currency: usize) -> rusqlite::Result<Money> {
    let currency: Currency = row.get::<_, String>(currency)?.parse().map_err(|e| bad_column(currency, e))?;
    Ok(Money::new(row.get(amount)?, currency))
}

fn timestamp(row: &Row<'_>, index: usize) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::parse(&row.get::<_, String>(index)?, &Rfc3339).map_err(|e| bad_column(index, e))
}

/// A status the schema does not allow.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a charge status")]
struct UnknownStatus(String);

fn charge_status(row: &Row<'_>, index: usize) -> rusqlite::Result<ChargeStatus> {
    let raw: String = row.get(index)?;
    ChargeStatus::parse(&raw).ok_or_else(|| bad_column(index, UnknownStatus(raw)))
}

/// The payment opened under `column` = `value` (its `reference` or its `idempotency_key`), as a
/// charge not yet decided (`status` is a placeholder the caller decides).
fn opened_by(conn: &Connection, column: &str, value: &str) -> Result<Option<(StoredCharge, String)>, DbError> {
    let sql = format!(
        "SELECT reference, order_id, customer_id, amount_minor, currency, payment_method, idempotency_key
         FROM opened WHERE {column} = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([value], |r| {
            Ok((
                StoredCharge {
                    reference: r.get(0)?,
                    order_id: r.get(1)?,
                    customer_id: r.get(2)?,
                    amount: money(r, 3, 4)?,
                    payment_method: r.get(5)?,
                    status: ChargeStatus::Succeeded,
                    decline_code: None,
                },
                r.get(6)?,
            ))
        })
        .optional()?)
}

fn charge_by_reference(conn: &Connection, reference: &str) -> Result<Option<StoredCharge>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT reference, order_id, customer_id, amount_minor, currency, payment_method, status, decline_code
             FROM charges WHERE reference = ?1",
        )?
        .query_row([reference], |r| {
            Ok(StoredCharge {
                reference: r.get(0)?,
                order_id: r.get(1)?,
                customer_id: r.get(2)?,
                amount: money(r, 3, 4)?,
                payment_method: r.get(5)?,
                status: charge_status(r, 6)?,
                decline_code: r.get(7)?,
            })
        })
        .optional()?)
}

fn transient(error: DbError) -> PaymentError {
    PaymentError::Transient(Box::new(error))
}

fn rejected(refused: Refused) -> PaymentError {
    PaymentError::Rejected(Box::new(refused))
}

impl PaymentSimulator {
    /// Opens (creating if needed) the ledger at `path`, such as `DATA_DIR/payments.db`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, DbError> {
        Ok(Self { db: Database::open_with_schema(path, durability, &SCHEMA)?, clock: Arc::new(SystemClock::new()) })
    }

    /// Uses `clock` to date charges and refunds.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> String {
        self.clock.now().format(&Rfc3339).unwrap_or_default()
    }

    /// Every charge and refund, oldest first: the body of `GET /_local/payments`.
    pub async fn ledger(&self) -> Result<Ledger, DbError> {
        self.db.read(|conn| read_ledger(conn, None)).await
    }

    /// The charges and refunds of one order, oldest first.
    pub async fn ledger_of(&self, order: &OrderId) -> Result<Ledger, DbError> {
        let order = order.to_string();
        self.db.read(move |conn| read_ledger(conn, Some(&order))).await
    }
}

fn read_ledger(conn: &Connection, order: Option<&str>) -> Result<Ledger, DbError> {
    let mut refunds: HashMap<String, Vec<LedgerRefund>> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT r.charge, r.reference, r.amount_minor, r.currency, r.created_at
         FROM refunds r JOIN charges c ON c.reference = r.charge
         WHERE ?1 IS NULL OR c.order_id = ?1 ORDER BY r.seq",
    )?;
    let rows = stmt.query_map([order], |r| {
        Ok((
            r.get::<_, String>(0)?,
            LedgerRefund { reference: r.get(1)?, amount: money(r, 2, 3)?, created_at: timestamp(r, 4)? },
        ))
    })?;
    for row in rows {
        let (charge, refund) = row?;
        refunds.entry(charge).or_default().push(refund);
    }

    let mut stmt = conn.prepare_cached(
        "SELECT reference, order_id, customer_id, amount_minor, currency, payment_method, idempotency_key, status,
                decline_code, created_at
         FROM charges WHERE ?1 IS NULL OR order_id = ?1 ORDER BY seq",
    )?;
    let charges = stmt
        .query_map([order], |r| {
            let reference: String = r.get(0)?;
            Ok(LedgerCharge {
                refunds: refunds.remove(&reference).unwrap_or_default(),
                reference,
                order_id: OrderId::parse(&r.get::<_, String>(1)?).map_err(|e| bad_column(1, e))?,
                customer_id: r.get(2)?,
                amount: money(r, 3, 4)?,
                payment_method: r.get(5)?,
                idempotency_key: r.get(6)?,
                status: charge_status(r, 7)?,
                decline_code: r.get(8)?,
                created_at: timestamp(r, 9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Ledger { charges })
}

#[async_trait]
impl PaymentGateway for PaymentSimulator {
    #[tracing::instrument(skip_all, fields(order_id = %request.order, amount = %request.amount))]
    async fn open(&self, request: &ChargeRequest) -> Result<String, PaymentError> {
        if request.amount.minor() <= 0 {
            return Err(rejected(Refused::NonPositiveAmount(request.amount)));
        }
        let asked = StoredCharge {
            reference: stripe_id("pi"),
            order_id: request.order.to_string(),
            customer_id: request.customer.to_string(),
            amount: request.amount,
            payment_method: request.payment_method.to_string(),
            status: ChargeStatus::Succeeded,
            decline_code: None,
        };
        let key = request.idempotency_key.clone();
        let now = self.now();
        let reference = self
            .db
            .write(move |conn| {
                if let Some((first, _)) = opened_by(conn, "idempotency_key", &key)? {
                    return Ok(if first.same_request_as(&asked) {
                        Ok(first.reference)
                    } else {
                        Err(Refused::KeyReused { key, reference: first.reference })
                    });
                }
                conn.prepare_cached(
                    "INSERT INTO opened (reference, idempotency_key, order_id, customer_id, amount_minor, currency,
                                         payment_method, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    asked.reference,
                    key,
                    asked.order_id,
                    asked.customer_id,
                    asked.amount.minor(),
                    asked.amount.currency().code(),
                    asked.payment_method,
                    now,
                ])?;
                Ok(Ok(asked.reference))
            })
            .await
            .map_err(transient)?
            .map_err(rejected)?;
        tracing::info!(reference = %reference, "payment opened");
        Ok(reference)
    }

    #[tracing::instrument(skip_all, fields(order_id = %request.order, reference = %reference))]
    async fn charge(&self, reference: &str, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let (reference, order) = (reference.to_owned(), request.order.to_string());
        let now = self.now();
        let stored = self
            .db
            .write(move |conn| {
                if let Some(first) = charge_by_reference(conn, &reference)? {
                    return Ok(Ok(first));
                }
                let Some((opened, key)) = opened_by(conn, "reference", &reference)? else {
                    return Ok(Err(Refused::NoSuchCharge(reference)));
                };
                if opened.order_id != order {
                    return Ok(Err(Refused::WrongOrder { reference, owner: opened.order_id, asked: order }));
                }
                let decided = match TestCard::of(&opened.payment_method) {
                    TestCard::Succeeds | TestCard::SucceedsButRefundFails => opened,
                    TestCard::Declines(code) => StoredCharge {
                        status: ChargeStatus::RequiresPaymentMethod,
                        decline_code: Some(code.to_owned()),
                        ..opened
                    },
                    TestCard::RequiresAction => StoredCharge { status: ChargeStatus::RequiresAction, ..opened },
                };
                conn.prepare_cached(
                    "INSERT INTO charges (reference, idempotency_key, order_id, customer_id, amount_minor, currency,
                                          payment_method, status, decline_code, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    decided.reference,
                    key,
                    decided.order_id,
                    decided.customer_id,
                    decided.amount.minor(),
                    decided.amount.currency().code(),
                    decided.payment_method,
                    decided.status.as_str(),
                    decided.decline_code,
                    now,
                ])?;
                Ok(Ok(decided))
            })
            .await
            .map_err(transient)?
            .map_err(rejected)?;

        tracing::info!(reference = %stored.reference, status = stored.status.as_str(), "charge answered");
        match (stored.status, stored.decline_code) {
            (ChargeStatus::Succeeded, _) => Ok(Charge { reference: stored.reference, amount: stored.amount }),
            (ChargeStatus::RequiresAction, _) => Err(PaymentError::RequiresAction),
            (ChargeStatus::RequiresPaymentMethod, code) => {
                Err(PaymentError::Declined { code: code.unwrap_or_else(|| "generic_decline".to_owned()) })
            }
        }
    }

    async fn find_charge(&self, reference: &str) -> Result<Option<Charge>, PaymentError> {
        let reference = reference.to_owned();
        let found = self.db.read(move |conn| charge_by_reference(conn, &reference)).await.map_err(transient)?;
        Ok(found
            .filter(|charge| charge.status == ChargeStatus::Succeeded)
            .map(|charge| Charge { reference: charge.reference, amount: charge.amount }))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order, charge = %charge.reference))]
    async fn refund(&self, order: &OrderId, charge: &Charge) -> Result<Refund, PaymentError> {
        let (order, charge) = (order.to_string(), charge.clone());
        let (reference, now) = (stripe_id("re"), self.now());
        let refund = self
            .db
            .write(move |conn| {
                let found = conn
                    .prepare_cached(
                        "SELECT order_id, amount_minor, currency, status, payment_method FROM charges WHERE reference = ?1",
                    )?
                    .query_row([&charge.reference], |r| {
                        Ok((r.get::<_, String>(0)?, money(r, 1, 2)?, charge_status(r, 3)?, r.get::<_, String>(4)?))
                    })
                    .optional()?;
                let Some((owner, charged, status, payment_method)) = found else {
                    return Ok(Err(Refused::NoSuchCharge(charge.reference)));
                };
                if owner != order {
                    return Ok(Err(Refused::WrongOrder { reference: charge.reference, owner, asked: order }));
                }
                if status != ChargeStatus::Succeeded {
                    return Ok(Err(Refused::NotSucceeded(charge.reference)));
                }
                let earlier = conn
                    .prepare_cached("SELECT reference, amount_minor, currency FROM refunds WHERE charge = ?1")?
                    .query_row([&charge.reference], |r| Ok(Refund { reference: r.get(0)?, amount: money(r, 1, 2)? }))
                    .optional()?;
                if let Some(earlier) = earlier {
                    return Ok(Ok(earlier));
                }
                if charge.amount != charged {
                    return Ok(Err(Refused::NotInFull { reference: charge.reference, charged, asked: charge.amount }));
                }
                if TestCard::of(&payment_method) == TestCard::SucceedsButRefundFails {
                    return Ok(Err(Refused::RefundFailed(charge.reference)));
                }
                conn.prepare_cached(
                    "INSERT INTO refunds (reference, charge, amount_minor, currency, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![reference, charge.reference, charged.minor(), charged.currency().code(), now])?;
                Ok(Ok(Refund { reference, amount: charged }))
            })
            .await
            .map_err(transient)?
            .map_err(rejected)?;
        tracing::info!(refund = %refund.reference, "refunded");
        Ok(refund)
    }
}

#[cfg(test)]
mod tests;
