//! The ports: what the domain needs from the outside world, as traits. Each has a local adapter
//! (SQLite, files, simulators) good enough to run the product, and a cloud one (DynamoDB, S3,
//! SES, Stripe, a carrier API, Step Functions).
//!
//! Every method documents the errors it returns; adapters map their own failures onto these.

use std::error::Error as StdError;

use async_trait::async_trait;

use crate::cart::Quantity;
use crate::catalog::Sku;
use crate::customer::CustomerId;
use crate::idempotency::{IdempotencyKey, RequestFingerprint};
use crate::order::{Order, OrderId, OrderStatus};

/// A failure of the backing service itself (I/O, a network error, a corrupt row), with its cause.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// How a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The order to update was changed by someone else since it was read.
    #[error("the order was changed concurrently (expected version {expected})")]
    VersionConflict { expected: u64 },
    /// The order to update does not exist.
    #[error("no such order")]
    NotFound,
    /// The idempotency key was already used, for a different request.
    #[error("the idempotency key was already used for a different request (order {existing})")]
    IdempotencyKeyReused { existing: OrderId },
    /// The store could not be reached or failed; retrying may help.
    #[error("the order store failed")]
    Unavailable(#[source] BoxError),
}

/// A new order to record, with the idempotency key it was submitted under, if any.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order: Order,
    pub idempotency: Option<(IdempotencyKey, RequestFingerprint)>,
}

/// What an idempotency key was first used for: the fingerprint of the request that placed an
/// order under it, and that order as it is now.
#[derive(Debug, Clone)]
pub struct IdempotentPlacement {
    pub fingerprint: RequestFingerprint,
    pub order: Order,
}

/// What recording a new order did.
#[derive(Debug, Clone)]
pub enum Placement {
    /// The order was recorded, with its outbox entry to start its workflow.
    Created(Order),
    /// The idempotency key had been used for the same request: this is the order it made.
    Replayed(Order),
}

/// A page of orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Pass as `OrderQuery::before` to get the next page; `None` on the last page.
    pub next: Option<OrderId>,
}

impl OrderPage {
    /// The page of `limit` orders out of `orders`, newest first, read with up to one more than
    /// the limit: that extra order, if there, says another page follows.
    pub fn from_one_past(mut orders: Vec<Order>, limit: usize) -> Self {
        let next = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(|order| order.id.clone())
        } else {
            None
        };
        Self { orders, next }
    }
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub customer: Option<CustomerId>,
    pub status: Option<OrderStatus>,
    /// Only orders older than this one (the cursor).
    pub before: Option<OrderId>,
    /// 1 to 100.
    pub limit: usize,
}

/// Where orders live.
#[async_trait]
pub trait OrderStore: Send + Sync + std::fmt::Debug {
    /// Records a new order, its idempotency record and an outbox entry "start this order's
    /// workflow", atomically, and returns only once that is durable.
    ///
    /// Errors: `IdempotencyKeyReused` when the key (scoped to the customer) was used for a
    /// different request; `Unavailable`.
    async fn place(&self, new: NewOrder) -> Result<Placement, StoreError>;

    /// The order `customer` placed under `key`, with the fingerprint of the request that placed
    /// it; `None` when the key is new. Read before pricing, so that a retry is answered with the
    /// order it made whatever changed since (prices, promotions, the catalog); `place` still
    /// checks the key atomically for two first requests racing.
    ///
    /// Errors: `Unavailable`.
    async fn placed_under(
        &self,
        customer: &CustomerId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentPlacement>, StoreError>;

    /// Errors: `Unavailable`.
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;

    /// Orders, newest first. Errors: `Unavailable`.
    async fn list(&self, query: &OrderQuery) -> Result<OrderPage, StoreError>;

    /// Writes `order` if the stored version is still `order.version`, and returns it with its new
    /// version.
    ///
    /// Errors: `VersionConflict` when someone else wrote first (read again and retry);
    /// `NotFound`; `Unavailable`.
    async fn save(&self, order: &Order) -> Result<Order, StoreError>;
}

impl dyn OrderStore {
    /// How many times [`update`](Self::update) reads again after losing a race.
    pub const UPDATE_ATTEMPTS: usize = 8;

    /// Reads the order, applies `change`, and saves it; when someone else saved in between (the
    /// customer patching or cancelling, a step of the saga), reads again and reapplies. `change`
    /// returns whether it changed anything, so an idempotent repeat writes nothing; it also
    /// checks, on every fresh copy, whatever must hold for the change (an `If-Match`, who may
    /// change the order). Returns the order as saved, or as read when nothing changed.
    ///
    /// Errors: `change`'s own; the store's, `NotFound` included; `Unavailable` when the order
    /// kept changing for [`UPDATE_ATTEMPTS`](Self::UPDATE_ATTEMPTS) reads.
    pub async fn update<E: From<StoreError>>(
        &self,
        id: &OrderId,
        mut change: impl FnMut(&mut Order) -> Result<bool, E> + Send,
    ) -> Result<Order, E> {
        for _ in 0..Self::UPDATE_ATTEMPTS {
            let mut order = self.get(id).await?.ok_or(StoreError::NotFound)?;
            if !change(&mut order)? {
                return Ok(order);
            }
            match self.save(&order).await {
                Ok(saved) => return Ok(saved),
                Err(StoreError::VersionConflict { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let attempts = Self::UPDATE_ATTEMPTS;
        Err(StoreError::Unavailable(format!("order {id} kept changing under {attempts} attempts").into()).into())
    }
}

/// Stock of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel {
    /// Units in the warehouse.
    pub on_hand: u32,
    /// Units promised to orders that have not shipped yet.
    pub reserved: u32,
}

impl StockLevel {
    pub fn available(self) -> u32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// How an inventory call failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Not enough available stock for these SKUs; nothing was reserved.
    #[error("out of stock: {}", .0.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(", "))]
    OutOfStock(Vec<Sku>),
    #[error("unknown SKU {0}")]
    UnknownSku(Sku),
    #[error("the inventory failed")]
    Unavailable(#[source] BoxError),
}

/// Stock levels and reservations. Every mutation is keyed by the order, so repeating it is safe.
#[async_trait]
pub trait Inventory: Send + Sync + std::fmt::Debug {
    /// Stock of every SKU the store keeps. Errors: `Unavailable`.
    async fn levels(&self) -> Result<Vec<(Sku, StockLevel)>, InventoryError>;

    /// Errors: `Unavailable`. `None` for a SKU the store does not keep.
    async fn level(&self, sku: &Sku) -> Result<Option<StockLevel>, InventoryError>;

    /// Reserves every line for `order`, all or nothing. Reserving again for the same order is a
    /// no-op that succeeds.
    ///
    /// Errors: `OutOfStock` listing every short SKU; `UnknownSku`; `Unavailable`.
    async fn reserve(&self, order: &OrderId, lines: &[(Sku, Quantity)]) -> Result<(), InventoryError>;

    /// Gives back what `order` reserved. A no-op when nothing is reserved (never reserved, or
    /// already released or shipped). Errors: `Unavailable`.
    async fn release(&self, order: &OrderId) -> Result<(), InventoryError>;

    /// The reserved units of `order` left the warehouse: on-hand and reserved both drop. A no-op
    /// when already done. Errors: `Unavailable`.
    async fn commit(&self, order: &OrderId) -> Result<(), InventoryError>;
}

/// The time, injectable so tests can fix it (`VirtualClock::manual`): the one clock the engine
/// uses too.
pub use orderflow_clock::{Clock, SystemClock, VirtualClock};

// ---------------------------------------------------------------------------------------------
// The partners of the saga.
// ---------------------------------------------------------------------------------------------

/// A charge made by the payment partner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// The partner's reference (a Stripe PaymentIntent id).
    pub reference: String,
    pub amount: crate::Money,
}

/// A refund made by the payment partner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub reference: String,
    pub amount: crate::Money,
}

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order: OrderId,
    pub customer: CustomerId,
    pub amount: crate::Money,
    pub payment_method: crate::cart::PaymentMethodId,
    /// Repeating a request with the same key never charges twice.
    pub idempotency_key: String,
}

/// How a payment call failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The card or bank said no; `code` is the partner's decline code (`insufficient_funds`).
    #[error("the payment was declined ({code})")]
    Declined { code: String },
    /// The customer must authenticate (3-D Secure); an off-session charge cannot go on.
    #[error("the payment requires the customer's authentication")]
    RequiresAction,
    /// A failure worth retrying: a network error, a 5xx, rate limiting.
    #[error("the payment partner failed transiently")]
    Transient(#[source] BoxError),
    /// The partner refused the request itself (a bug on our side, or bad configuration).
    #[error("the payment partner refused the request")]
    Rejected(#[source] BoxError),
}

/// The payment partner: charges a customer's saved payment method off-session, and refunds.
///
/// A charge takes two calls, so that the payment's reference is known, and recorded on the order,
/// before any money can move: [`open`](Self::open) names the payment without charging it (a
/// Stripe PaymentIntent created unconfirmed), [`charge`](Self::charge) charges it (confirms it).
/// Whatever became of a charge whose answer was lost is then read back by that reference, which
/// is exact at once; a search of the partner's charges by order is not (Stripe's Search is
/// eventually consistent), and would let a compensation miss a charge made a moment before.
#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Opens the payment of `request`, charging nothing; its reference. Opening again with the
    /// same key and request returns the same reference. Errors: `Transient`, `Rejected`.
    async fn open(&self, request: &ChargeRequest) -> Result<String, PaymentError>;

    /// Charges the payment `reference` that `request` opened. Charging it again never charges
    /// twice: it answers as the first charge did. Errors: `Declined`, `RequiresAction`,
    /// `Transient`, `Rejected`.
    async fn charge(&self, reference: &str, request: &ChargeRequest) -> Result<Charge, PaymentError>;

    /// The successful charge of the payment `reference`, if it was charged: what a refund must
    /// undo even when the answer to the charge was lost. Errors: `Transient`, `Rejected`.
    async fn find_charge(&self, reference: &str) -> Result<Option<Charge>, PaymentError>;

    /// Refunds `charge` in full. Refunding again returns the same refund. Errors: `Transient`,
    /// `Rejected`.
    async fn refund(&self, order: &OrderId, charge: &Charge) -> Result<Refund, PaymentError>;
}

/// A parcel to ship, as the shipment is opened with the aggregator.
#[derive(Debug, Clone)]
pub struct ShipmentRequest {
    pub order: OrderId,
    pub destination: crate::address::PostalAddress,
    pub weight: crate::catalog::Grams,
    /// Opening again under the same key names the same shipment where the partner can tell
    /// (the simulator); where it cannot, the other shipment it opens is never bought.
    pub idempotency_key: String,
}

/// A parcel handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    /// The label, a PDF.
    pub label: Vec<u8>,
    /// The label was voided: the carrier will not carry the parcel and refunded the label.
    pub voided: bool,
}

/// How a carrier call failed.
#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// No carrier can deliver to this address.
    #[error("the address is undeliverable: {0}")]
    Undeliverable(String),
    /// This carrier cannot take the parcel now (an outage, no service to the destination, no
    /// rate for it).
    #[error("the carrier {0} cannot take the parcel")]
    Unavailable(String),
    #[error("the carrier failed transiently")]
    Transient(#[source] BoxError),
    /// The partner refused the request itself (a bad key, a malformed request, a shipment it
    /// does not know): retrying will not help, and it is a defect to look at.
    #[error("the shipping partner refused the request")]
    Rejected(#[source] BoxError),
}

/// Shipping through carriers (an aggregator such as EasyPost, or a simulator).
///
/// A shipment is opened first and its reference recorded on the order; only then is a label
/// bought on it. Whatever becomes of the answers, the compensations ask about the shipment by
/// that reference, and one shipment never carries two labels.
#[async_trait]
pub trait Carrier: Send + Sync + std::fmt::Debug {
    /// The carriers that can be asked, in order of preference: a carrier's name, or its name and
    /// a service (`FedEx:FEDEX_GROUND`). A [`Shipment`]'s `carrier` is the name alone.
    fn carriers(&self) -> Vec<String>;

    /// Opens a shipment for the parcel and returns its reference. Buys nothing.
    /// Errors: `Undeliverable` (the partner checks the address), `Transient`, `Rejected`.
    async fn open(&self, request: &ShipmentRequest) -> Result<String, CarrierError>;

    /// Buys `carrier`'s label for the shipment `reference`. A shipment that has a label already,
    /// voided or not, gets it back whichever carrier is named: a retry never buys a second one.
    /// Errors: `Undeliverable`, `Unavailable` (this carrier cannot take it: ask the next),
    /// `Transient`, `Rejected`.
    async fn ship(&self, reference: &str, carrier: &str) -> Result<Shipment, CarrierError>;

    /// The label bought on the shipment `reference`, voided or not: what the carrier holds, even
    /// when the answer to `ship` was lost. Errors: `Transient`, `Rejected`.
    async fn find(&self, reference: &str) -> Result<Option<Shipment>, CarrierError>;

    /// Voids the unused label of the shipment `reference`, so the parcel is never carried and the
    /// label is refunded. Voiding again, or a shipment without a label, is a no-op.
    /// Errors: `Transient`, `Rejected`.
    async fn void(&self, reference: &str) -> Result<(), CarrierError>;
}

/// An email ready to send: the complete RFC 5322 message.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// Sending the same key twice sends one email (`ord_…/shipped`).
    pub key: String,
    pub to: crate::customer::EmailAddress,
    /// The whole message, headers and MIME body.
    pub message: Vec<u8>,
}

/// How sending failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail service failed transiently")]
    Transient(#[source] BoxError),
    #[error("the mail service refused the message")]
    Rejected(#[source] BoxError),
}

/// Sends email.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends `email` once per key. Errors: `Transient`, `Rejected`.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}

/// How a blob store call failed.
#[derive(Debug, thiserror::Error)]
#[error("the blob store failed")]
pub struct BlobError(#[source] pub BoxError);

/// Documents: invoices, credit notes, labels.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` at `key`, replacing what was there. Errors: `BlobError`.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;

    /// The bytes at `key`, if any. Errors: `BlobError`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError>;

    /// A link to `key` that works for `ttl` (an S3 presigned URL, or its local twin). Signing
    /// may need credentials, so it can fail. Errors: `BlobError`.
    async fn link(&self, key: &str, ttl: std::time::Duration) -> Result<String, BlobError>;
}

/// Invoice numbers: sequential, assigned once per order.
#[async_trait]
pub trait InvoiceNumbers: Send + Sync + std::fmt::Debug {
    /// The number of `order`'s invoice, assigning the next one in sequence the first time.
    /// Errors: `Unavailable`.
    async fn assign(&self, order: &OrderId, year: i32) -> Result<String, StoreError>;

    /// The number assigned to `order`, if one was: every assigned number must end as an invoice
    /// or a credit note, even when the order never recorded it. Errors: `Unavailable`.
    async fn assigned(&self, order: &OrderId) -> Result<Option<String>, StoreError>;
}

/// The "start this order's workflow" entries the order store writes with each new order, keyed
/// by the order: the safety net for a start that failed, or never happened because the process
/// died between storing the order and starting its workflow.
#[async_trait]
pub trait WorkflowOutbox: Send + Sync + std::fmt::Debug {
    /// Up to `limit` orders whose workflow is not marked started, oldest first. Errors:
    /// `Unavailable`.
    async fn pending_starts(&self, limit: usize) -> Result<Vec<OrderId>, StoreError>;

    /// Marks these orders' workflows started; an order not pending is left as it is. Errors:
    /// `Unavailable`.
    async fn mark_started(&self, orders: &[OrderId]) -> Result<(), StoreError>;
}

/// Starts an order's workflow (a Step Functions execution, or one in the local engine).
#[async_trait]
pub trait WorkflowStarter: Send + Sync + std::fmt::Debug {
    /// Starts the workflow of `order`, named after it, so starting it twice starts one.
    /// Errors: `BoxError` for any failure; the outbox retries.
    async fn start(&self, order: &OrderId) -> Result<(), BoxError>;
}
