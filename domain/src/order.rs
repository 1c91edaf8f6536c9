//! An order and its lifecycle.
//!
//! ```text
//! pending ──► confirmed ──► invoiced ──► paid ──► shipped
//!    │            │             │          │
//!    └────────────┴─────────────┴──────────┴──► cancelled (with a reason)
//! ```
//!
//! `shipped` and `cancelled` are terminal. The status only moves through the methods below, each
//! of which refuses an illegal transition and records it in the order's history.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ulid::Ulid;

use crate::Invalid;
use crate::address::PostalAddress;
use crate::cart::{OrderRequest, PaymentMethodId};
use crate::customer::{Customer, EmailAddress};
use crate::money::Money;
use crate::pricing::promotions::PromotionCode;
use crate::pricing::{PricedLine, Pricing, Quote};

/// An order's id: `ord_` and a ULID, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

impl OrderId {
    const PREFIX: &'static str = "ord_";

    pub fn from_ulid(ulid: Ulid) -> Self {
        Self(format!("{}{ulid}", Self::PREFIX))
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        raw.strip_prefix(Self::PREFIX)
            .and_then(|ulid| Ulid::from_string(ulid).ok())
            .map(Self::from_ulid)
            .ok_or_else(|| Invalid::new("must be an order id such as `ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB`"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_conversions!(OrderId);

/// Where an order is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted and stored; its workflow is starting.
    Pending,
    /// Priced against the catalog and stock reserved.
    Confirmed,
    /// An invoice has been issued.
    Invoiced,
    /// The customer has been charged.
    Paid,
    /// Handed to a carrier with a tracking number. Terminal.
    Shipped,
    /// Stopped, with everything undone. Terminal.
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [Self; 6] =
        [Self::Pending, Self::Confirmed, Self::Invoiced, Self::Paid, Self::Shipped, Self::Cancelled];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Invoiced => "invoiced",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Cancelled => "cancelled",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Shipped | Self::Cancelled)
    }

    /// Whether the lifecycle allows moving from `self` to `next`.
    pub const fn may_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Confirmed)
                | (Self::Confirmed, Self::Invoiced)
                | (Self::Invoiced, Self::Paid)
                | (Self::Paid, Self::Shipped)
                | (Self::Pending | Self::Confirmed | Self::Invoiced | Self::Paid, Self::Cancelled)
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = Invalid;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| Invalid::new("must be one of pending, confirmed, invoiced, paid, shipped, cancelled"))
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    OutOfStock,
    PaymentDeclined,
    PaymentRequiresAction,
    AddressUndeliverable,
    CarrierUnavailable,
    CustomerRequest,
    InternalError,
}

impl CancellationReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out_of_stock",
            Self::PaymentDeclined => "payment_declined",
            Self::PaymentRequiresAction => "payment_requires_action",
            Self::AddressUndeliverable => "address_undeliverable",
            Self::CarrierUnavailable => "carrier_unavailable",
            Self::CustomerRequest => "customer_request",
            Self::InternalError => "internal_error",
        }
    }
}

impl fmt::Display for CancellationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The invoice issued for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceRecord {
    /// Sequential, assigned once per order: `INV-2026-000042`.
    pub number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Where the PDF is kept in the blob store.
    pub document_key: String,
    /// Set when the invoice is voided by a credit note after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_note_key: Option<String>,
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Refunded,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Refunded => "refunded",
        }
    }
}

/// The charge made for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    pub status: PaymentStatus,
    /// The payment partner's reference (a Stripe PaymentIntent id).
    pub reference: String,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reference: Option<String>,
}

/// The parcel handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentRecord {
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    /// Where the label PDF is kept in the blob store.
    pub label_key: String,
}

/// Why and when an order was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub reason: CancellationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What the partner said, where it helps the customer (a card's decline code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The order's status once this happened.
    pub status: OrderStatus,
    pub detail: String,
}

/// A status change the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// A change the order no longer allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoLongerModifiable {
    #[error("the order is {0} and can no longer be changed")]
    Status(OrderStatus),
    /// A label is being bought for the address the order had: changing it now could ship the
    /// parcel to the old one.
    #[error("the order is being shipped: its shipping address can no longer be changed")]
    ShippingStarted,
}

/// What a customer's cancellation request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationRequest {
    /// Flagged: the order's next step will stop it and undo what was done.
    Accepted,
    /// The order was already cancelled, or a cancellation was already requested.
    AlreadyRequested,
}

/// The most history entries an order keeps.
pub const HISTORY_LIMIT: usize = 50;

/// How many partner events an order remembers: partners redeliver within days, and an order hears
/// of a handful in its life.
pub const PARTNER_EVENTS_KEPT: usize = 32;

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: OrderId,
    pub customer: Customer,
    pub lines: Vec<PricedLine>,
    pub pricing: Pricing,
    pub shipping_address: PostalAddress,
    pub payment_method: PaymentMethodId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo_code: Option<PromotionCode>,
    status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<ShipmentRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancellation: Option<Cancellation>,
    /// When the customer asked to cancel; the next step of the workflow acts on it.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    cancellation_requested_at: Option<OffsetDateTime>,
    /// When the saga began buying a label for `shipping_address`; the address is fixed from then.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    shipping_started_at: Option<OffsetDateTime>,
    /// The payment partner's decline code of the last declined charge, for the customer's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decline_code: Option<String>,
    /// The payment opened with the partner for this order, recorded before it is charged: the
    /// fact a compensation reads the charge back by, whatever became of the charge's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_opened: Option<String>,
    /// The shipment opened with the shipping partner for this order, recorded before a label is
    /// bought on it: the fact a compensation asks the carrier about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shipment_opened: Option<String>,
    /// The partners' events already recorded on the order (Stripe's `evt_…`), so that an event
    /// delivered twice is recorded once. The newest [`PARTNER_EVENTS_KEPT`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partner_events: Vec<String>,
    history: Vec<HistoryEntry>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// Incremented by the store on every write; the basis of ETags and optimistic concurrency.
    pub version: u64,
}

impl Order {
    /// A new order, `pending`, from a parsed request and its quote.
    pub fn place(id: OrderId, request: OrderRequest, quote: Quote, at: OffsetDateTime) -> Self {
        Self {
            id,
            customer: request.customer,
            lines: quote.lines,
            pricing: quote.pricing,
            shipping_address: request.shipping_address,
            payment_method: request.payment_method,
            promo_code: request.promo_code,
            status: OrderStatus::Pending,
            invoice: None,
            payment: None,
            shipment: None,
            cancellation: None,
            cancellation_requested_at: None,
            shipping_started_at: None,
            decline_code: None,
            payment_opened: None,
            shipment_opened: None,
            partner_events: Vec::new(),
            history: vec![HistoryEntry { at, status: OrderStatus::Pending, detail: "order received".to_owned() }],
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }

    pub fn cancellation_requested_at(&self) -> Option<OffsetDateTime> {
        self.cancellation_requested_at
    }

    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    pub fn shipping_started_at(&self) -> Option<OffsetDateTime> {
        self.shipping_started_at
    }

    pub fn decline_code(&self) -> Option<&str> {
        self.decline_code.as_deref()
    }

    /// The partner's reference of the order's payment: the one opened for it, or, for an order
    /// charged before payments were opened first, the one its payment records. `None`: nothing
    /// was ever opened, so nothing can have been charged.
    pub fn payment_reference(&self) -> Option<&str> {
        self.payment_opened.as_deref().or(self.payment.as_ref().map(|payment| payment.reference.as_str()))
    }

    /// Notes what the partner's event `event` says, once per event: `false` when it was already
    /// recorded.
    pub fn record_partner_event(&mut self, event: &str, detail: impl Into<String>, at: OffsetDateTime) -> bool {
        if self.partner_events.iter().any(|seen| seen == event) {
            return false;
        }
        if self.partner_events.len() == PARTNER_EVENTS_KEPT {
            self.partner_events.remove(0);
        }
        self.partner_events.push(event.to_owned());
        self.note(at, detail);
        true
    }

    /// Records the payment opened for the order, before it is charged. Returns `false` when that
    /// payment was already recorded. A second, different reference is a bug of the caller's (the
    /// order's payment is opened under one key) and keeps the first: the first is what may have
    /// been charged.
    pub fn record_payment_opened(&mut self, reference: &str) -> bool {
        if self.payment_opened.is_some() {
            return false;
        }
        self.payment_opened = Some(reference.to_owned());
        true
    }

    /// The shipping partner's reference of the order's shipment. `None`: no shipment was opened,
    /// so no label can have been bought.
    pub fn shipment_reference(&self) -> Option<&str> {
        self.shipment_opened.as_deref()
    }

    /// Records the shipment opened for the order, before a label is bought on it. Returns
    /// `false` when one was already recorded, and keeps that one: it is the one that may carry
    /// a label.
    pub fn record_shipment_opened(&mut self, reference: &str) -> bool {
        if self.shipment_opened.is_some() {
            return false;
        }
        self.shipment_opened = Some(reference.to_owned());
        true
    }

    /// Records something that happened without changing the status.
    ///
    /// The history is bounded: past [`HISTORY_LIMIT`] entries the oldest after the first ("order
    /// received") make room, so an order patched a thousand times stays a small item.
    pub fn note(&mut self, at: OffsetDateTime, detail: impl Into<String>) {
        self.history.push(HistoryEntry { at, status: self.status, detail: detail.into() });
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(1);
        }
        self.updated_at = at;
    }

    fn become_(&mut self, next: OrderStatus, at: OffsetDateTime, detail: String) -> Result<(), IllegalTransition> {
        if !self.status.may_become(next) {
            return Err(IllegalTransition { from: self.status, to: next });
        }
        self.status = next;
        self.note(at, detail);
        Ok(())
    }

    /// The order was priced against the catalog and its stock reserved.
    pub fn confirm(&mut self, at: OffsetDateTime) -> Result<(), IllegalTransition> {
        self.become_(OrderStatus::Confirmed, at, "order confirmed: priced and stock reserved".to_owned())
    }

    pub fn record_invoice(&mut self, invoice: InvoiceRecord, at: OffsetDateTime) -> Result<(), IllegalTransition> {
        self.become_(OrderStatus::Invoiced, at, format!("invoice {} issued", invoice.number))?;
        self.invoice = Some(invoice);
        Ok(())
    }

    pub fn record_payment(&mut self, payment: PaymentRecord, at: OffsetDateTime) -> Result<(), IllegalTransition> {
        self.become_(OrderStatus::Paid, at, format!("charged {} ({})", payment.amount, payment.reference))?;
        self.payment = Some(payment);
        Ok(())
    }

    pub fn record_shipment(&mut self, shipment: ShipmentRecord, at: OffsetDateTime) -> Result<(), IllegalTransition> {
        let detail =
            format!("shipped with {} {}, tracking {}", shipment.carrier, shipment.service, shipment.tracking_number);
        self.become_(OrderStatus::Shipped, at, detail)?;
        self.shipment = Some(shipment);
        Ok(())
    }

    /// Cancels the order. Call it once everything the order did has been undone. `detail` is what
    /// the partner said, where it helps the customer (a card's decline code).
    pub fn cancel(
        &mut self,
        reason: CancellationReason,
        detail: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), IllegalTransition> {
        let note = match &detail {
            Some(detail) => format!("order cancelled: {reason} ({detail})"),
            None => format!("order cancelled: {reason}"),
        };
        self.become_(OrderStatus::Cancelled, at, note)?;
        self.cancellation = Some(Cancellation { reason, at, detail });
        Ok(())
    }

    /// Records that the charge was refunded in full. A compensation: the status does not change
    /// (`cancel` follows). Refunding a charge the order never recorded (its answer was lost)
    /// records it too, so the order tells the whole story.
    pub fn record_refund(&mut self, charge: PaymentRecord, refund_reference: String, at: OffsetDateTime) {
        if self.payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Refunded) {
            return;
        }
        let detail = format!("refunded {} ({refund_reference})", charge.amount);
        self.payment =
            Some(PaymentRecord { status: PaymentStatus::Refunded, refund_reference: Some(refund_reference), ..charge });
        self.note(at, detail);
    }

    /// Records the credit note that voids `invoice`, the order's invoice or one whose number was
    /// assigned to the order but never recorded on it (issuing failed for good after the number
    /// was taken). A compensation: the status does not change. Returns `false` when the invoice
    /// was already voided.
    pub fn void_invoice(&mut self, invoice: InvoiceRecord, credit_note_key: String, at: OffsetDateTime) -> bool {
        let invoice = self.invoice.get_or_insert(invoice);
        if invoice.credit_note_key.is_some() {
            return false;
        }
        invoice.credit_note_key = Some(credit_note_key);
        let detail = format!("invoice {} voided by a credit note", invoice.number);
        self.note(at, detail);
        true
    }

    /// The customer asks to cancel. Allowed until the order has shipped.
    pub fn request_cancellation(&mut self, at: OffsetDateTime) -> Result<CancellationRequest, NoLongerModifiable> {
        match self.status {
            OrderStatus::Shipped => Err(NoLongerModifiable::Status(self.status)),
            OrderStatus::Cancelled => Ok(CancellationRequest::AlreadyRequested),
            _ if self.cancellation_requested_at.is_some() => Ok(CancellationRequest::AlreadyRequested),
            _ => {
                self.cancellation_requested_at = Some(at);
                self.note(at, "cancellation requested by the customer");
                Ok(CancellationRequest::Accepted)
            }
        }
    }

    fn ensure_modifiable(&self) -> Result<(), NoLongerModifiable> {
        if self.status.is_terminal() { Err(NoLongerModifiable::Status(self.status)) } else { Ok(()) }
    }

    /// The saga is about to buy a label for the current shipping address, which is fixed from
    /// now on. Returns `false` when it had already begun.
    pub fn begin_shipping(&mut self, at: OffsetDateTime) -> bool {
        if self.shipping_started_at.is_some() {
            return false;
        }
        self.shipping_started_at = Some(at);
        self.updated_at = at;
        true
    }

    /// The payment partner declined the charge with `code`. Returns `false` when already recorded.
    pub fn record_decline(&mut self, code: &str, at: OffsetDateTime) -> bool {
        if self.decline_code.as_deref() == Some(code) {
            return false;
        }
        self.decline_code = Some(code.to_owned());
        self.note(at, format!("payment declined ({code})"));
        true
    }

    /// Changes where the order ships. The caller checks that the price does not change.
    pub fn change_shipping_address(
        &mut self,
        address: PostalAddress,
        at: OffsetDateTime,
    ) -> Result<(), NoLongerModifiable> {
        self.ensure_modifiable()?;
        if address != self.shipping_address {
            if self.shipping_started_at.is_some() {
                return Err(NoLongerModifiable::ShippingStarted);
            }
            self.shipping_address = address;
            self.note(at, "shipping address changed");
        }
        Ok(())
    }

    /// Changes the email address the customer is told at.
    pub fn change_email(&mut self, email: EmailAddress, at: OffsetDateTime) -> Result<(), NoLongerModifiable> {
        self.ensure_modifiable()?;
        if email != self.customer.email {
            self.customer.email = email;
            self.note(at, "email address changed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
