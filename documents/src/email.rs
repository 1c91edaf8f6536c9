//! The email a customer receives at each stage of an order.
//!
//! [`compose`] turns a [`Stage`], the [`Order`] and an [`EmailContext`] into a complete RFC 5322
//! message: `multipart/alternative` with a plain-text and an HTML rendering of the same content
//! (UTF-8, quoted-printable), wrapped in `multipart/mixed` when the invoice PDF is attached. The
//! order id is in the `Subject` and in an `X-Order-Id` header, so support staff and mail filters
//! find every message about an order.
//!
//! Each stage's words are written once, as a list of blocks (paragraphs, facts, the order's
//! lines, links); the text and HTML renderings are made from them, and the HTML rendering
//! escapes every string it is given, so text from a customer can never become markup.
//!
//! Composing never fails: a fact the order does not hold yet is left out of the message rather
//! than invented (a `shipped` email for an order without a shipment record says it has shipped,
//! without a tracking number). The `Message-ID` is derived from the order and the stage, so a
//! retried step sends a message that mail systems recognise as the same one.

mod content;
mod render;

use std::fmt;
use std::str::FromStr;

use lettre::Message;
use lettre::message::MultiPart;
use lettre::message::header::ContentType;
use orderflow_domain::Money;
use orderflow_domain::order::{CancellationReason, Order, OrderId};
use orderflow_domain::ports::OutgoingEmail;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::invoice::{self, PDF_CONTENT_TYPE};
use crate::mime;
use crate::seller::Seller;

/// A moment in an order's life that the customer is told about.
///
/// The snake_case names are stable: they end the mailer's idempotency key (`ord_…/shipped`) and
/// the `NotifyCustomer` task receives them from the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The order was received, priced and its stock reserved: its lines and total.
    Confirmed,
    /// The invoice was issued: its number and total, with the PDF attached or linked.
    Invoiced,
    /// The customer was charged: the amount and the payment reference.
    Paid,
    /// The parcel left with a carrier: carrier, service, tracking number.
    Shipped,
    /// The charge was declined or needed the customer's authentication: nothing was charged and
    /// the order is cancelled.
    PaymentFailed,
    /// A charge was refunded: how much.
    Refunded,
    /// The order was cancelled: why, in plain words, and what was undone.
    Cancelled,
}

impl Stage {
    pub const ALL: [Self; 7] = [
        Self::Confirmed,
        Self::Invoiced,
        Self::Paid,
        Self::Shipped,
        Self::PaymentFailed,
        Self::Refunded,
        Self::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Invoiced => "invoiced",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::PaymentFailed => "payment_failed",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The input named no stage we email about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an email stage; expected one of confirmed, invoiced, paid, shipped, payment_failed, refunded, cancelled"
)]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == raw).ok_or_else(|| UnknownStage(raw.to_owned()))
    }
}

/// Why a payment did not go through, as the payment partner told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentFailure {
    /// The card or bank said no. `code` is the partner's decline code (`insufficient_funds`),
    /// explained to the customer where it is safe to (never the fraud-related ones).
    Declined { code: Option<String> },
    /// The bank wanted the customer to authenticate (3-D Secure), which an off-session charge
    /// cannot do.
    RequiresAction,
}

/// What an email needs beyond the order: facts the order does not record (yet), and the sender.
///
/// Build it with [`EmailContext::new`] and set what the stage uses, by assignment or with struct
/// update syntax: `EmailContext { invoice_pdf: Some(pdf), ..EmailContext::new(&seller, now) }`.
/// The facts are owned, as a task gets them from its adapters (a blob's bytes, a presigned URL).
#[derive(Debug, Clone)]
pub struct EmailContext<'a> {
    /// The sender (`From`) and the footer of every message.
    pub seller: &'a Seller,
    /// When the message is composed: its `Date` header.
    pub now: OffsetDateTime,
    /// `invoiced`: the invoice PDF, attached to the message.
    pub invoice_pdf: Option<Vec<u8>>,
    /// `invoiced`: a link to the invoice (a short-lived presigned URL), offered as well as or
    /// instead of the attachment.
    pub invoice_link: Option<String>,
    /// `shipped`: the carrier's tracking page for the parcel.
    pub tracking_link: Option<String>,
    /// `shipped`: a link to the parcel's label (a short-lived presigned URL), for customers who
    /// want proof of dispatch.
    pub label_link: Option<String>,
    /// Any stage: where the customer can see the order, if the store has such a page.
    pub order_link: Option<String>,
    /// `refunded`: the amount refunded, when the order's payment record does not say it yet.
    pub refund: Option<Money>,
    /// `payment_failed`: what the payment partner said.
    pub payment_failure: Option<PaymentFailure>,
    /// `payment_failed`, `refunded`, `cancelled`: why the order is being cancelled, when the
    /// order has not recorded its cancellation yet (compensation runs before `CancelOrder`).
    pub cancellation_reason: Option<CancellationReason>,
}

impl<'a> EmailContext<'a> {
    /// A context with only the sender and the time; every other fact absent.
    pub fn new(seller: &'a Seller, now: OffsetDateTime) -> Self {
        Self {
            seller,
            now,
            invoice_pdf: None,
            invoice_link: None,
            tracking_link: None,
            label_link: None,
            order_link: None,
            refund: None,
            payment_failure: None,
            cancellation_reason: None,
        }
    }
}

/// The mailer's idempotency key for this order's email at this stage: `ord_…/shipped`.
pub fn idempotency_key(order: &OrderId, stage: Stage) -> String {
    format!("{order}/{stage}")
}

/// The email telling the customer of `order` about `stage`.
pub fn compose(stage: Stage, order: &Order, context: &EmailContext<'_>) -> OutgoingEmail {
    let content = content::for_stage(stage, order, context);
    let alternatives = MultiPart::alternative()
        .boundary(boundary("alt", order, stage))
        .singlepart(mime::text(ContentType::TEXT_PLAIN, render::text(&content, order, context.seller)))
        .singlepart(mime::text(ContentType::TEXT_HTML, render::html(&content, order, context.seller)));
    let body = match (stage, &context.invoice_pdf) {
        (Stage::Invoiced, Some(pdf)) => {
            let number = order.invoice.as_ref().map_or(order.id.as_str(), |invoice| invoice.number.as_str());
            let attachment = mime::attachment(PDF_CONTENT_TYPE, invoice::file_name("invoice", number), pdf.clone());
            MultiPart::mixed().boundary(boundary("mixed", order, stage)).multipart(alternatives).singlepart(attachment)
        }
        _ => alternatives,
    };

    let seller = context.seller;
    let message = Message::builder()
        .date(mime::date(context.now))
        .from(mime::mailbox(&seller.name, &seller.email))
        .to(mime::mailbox(order.customer.name.as_ref(), &order.customer.email))
        .subject(content.subject)
        .message_id(Some(format!("<{}.{stage}@{}>", order.id, seller.mail_domain())))
        .raw_header(mime::header("X-Order-Id", order.id.as_str()))
        .raw_header(mime::header("X-Orderflow-Stage", stage.as_str()))
        // RFC 3834: an automatic message, so out-of-office replies are not sent back.
        .raw_header(mime::header("Auto-Submitted", "auto-generated"))
        .multipart(body)
        .expect("a message with a sender and a recipient always builds");
    OutgoingEmail {
        key: idempotency_key(&order.id, stage),
        to: order.customer.email.clone(),
        message: message.formatted(),
    }
}

/// A boundary that is the same every time the message is composed and cannot occur in any
/// part, whatever the customer wrote: our parts are quoted-printable, which writes `=` as `=3D`,
/// or base64, which has no `=_`.
fn boundary(kind: &str, order: &Order, stage: Stage) -> String {
    format!("=_{kind}_{}_{stage}", order.id)
}

#[cfg(test)]
mod tests;
