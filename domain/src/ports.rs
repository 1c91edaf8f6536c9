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

/// The time, injectable so tests can fix it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> time::OffsetDateTime;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}
