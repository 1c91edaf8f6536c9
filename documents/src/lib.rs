//! What the saga files and sends: the invoice and credit-note PDFs, and the email the customer
//! receives at every stage of an order.
//!
//! Everything here is a pure function of an [`Order`](orderflow_domain::order::Order) and a few
//! facts the order does not hold yet: no I/O, no clock, no randomness. The same inputs give the
//! same bytes, so a saga step that is retried stores the same file and sends the same message
//! (with the same `Message-ID`) again.
//!
//! # A tour
//!
//! - [`invoice`]: [`render_invoice`] and [`render_credit_note`] draw an A4 PDF with printpdf's
//!   built-in Helvetica: the seller ([`Seller`]), the buyer and the shipping address, the lines,
//!   and subtotal, discount, shipping, tax and total. Long orders flow onto further pages.
//! - [`email`]: [`compose`] writes one complete RFC 5322 message per [`Stage`] (`confirmed`,
//!   `invoiced`, `paid`, `shipped`, `payment_failed`, `refunded`, `cancelled`), as an
//!   [`OutgoingEmail`](orderflow_domain::ports::OutgoingEmail) keyed `<order id>/<stage>` for the
//!   mailer's once-per-key guarantee. What the order does not record (the invoice PDF to attach,
//!   links, the decline reason, the time) comes in an [`EmailContext`].
//! - [`seller`]: the store as a legal seller and as the sender of mail.
//! - `format` (private): amounts (`USD 1,234.56`, `JPY 1,500`), tax rates (`7.25%`), dates and
//!   cancellation reasons in plain words, shared by the PDFs and the emails.
//! - `pdf` and `mime` (private): the drawing (printpdf) and the message encoding (lettre)
//!   underneath.
//!
//! # Example
//!
//! ```no_run
//! # fn example(order: &orderflow_domain::order::Order) -> Result<(), orderflow_documents::DocumentError> {
//! use orderflow_documents::{EmailContext, InvoiceDetails, Seller, Stage, compose, render_invoice};
//!
//! let seller = Seller::default();
//! let now = time::OffsetDateTime::now_utc();
//! let details = InvoiceDetails { number: "INV-2026-000042".into(), issued_at: now };
//! let pdf = render_invoice(order, &details, &seller)?;
//! let email = compose(Stage::Invoiced, order, &EmailContext { invoice_pdf: Some(pdf), ..EmailContext::new(&seller, now) });
//! assert!(email.key.ends_with("/invoiced"));
//! # Ok(())
//! # }
//! ```

pub mod email;
mod format;
pub mod invoice;
mod mime;
mod pdf;
pub mod seller;

#[cfg(test)]
mod fixtures;

pub use email::{EmailContext, PaymentFailure, Stage, UnknownStage, compose, idempotency_key};
pub use invoice::{
    CreditNoteDetails, InvoiceDetails, PDF_CONTENT_TYPE, credit_note_number, render_credit_note, render_invoice,
};
pub use seller::Seller;

/// Why a document could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// An amount cannot be shown negated (only `i64::MIN` minor units, which no priced order
    /// reaches).
    #[error("an amount on the document is out of range")]
    AmountOutOfRange,
    /// The PDF writer failed.
    #[error("the PDF could not be written")]
    Pdf(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}
