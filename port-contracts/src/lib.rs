//! The guarantees the domain's ports document, as test suites every adapter runs: the local ones
//! today, DynamoDB, S3, SES and Stripe as they come. A port's doc comments say what it promises;
//! here each promise is one public async function, named as the sentence it checks, that takes
//! the adapter through the port and panics when the promise is broken.
//!
//! An adapter's tests call every function of the suites that apply, one test each, with a fresh
//! adapter (a new temporary directory, a new table):
//!
//! ```text
//! #[tokio::test]
//! async fn reserving_is_all_or_nothing() {
//!     let (_dir, inventory) = sqlite_inventory().await;     // seeded from fixtures::catalog()
//!     contracts::inventory::reserving_is_all_or_nothing(&inventory).await;
//! }
//! ```
//!
//! Where a port cannot show what it did (what a `Mailer` sent, where a `BlobStore` link leads),
//! the function also takes a closure that asks the adapter's backend.
//!
//! This is test code in a crate of its own, not a module of the domain behind a feature: it
//! races calls (`futures`) and panics by design, the adapters take it as a dev-dependency, and so
//! neither the domain nor any product build carries it or its dependencies.
//!
//! # Layout
//!
//! - [`fixtures`]: valid orders, customers, addresses and the small catalog the suites assume.
//! - [`order_store`]: `OrderStore`, idempotent and optimistic.
//! - [`workflow_outbox`]: the `WorkflowOutbox` entries an `OrderStore` writes with each order.
//! - [`inventory`]: `Inventory`, seeded from [`fixtures::catalog`].
//! - [`invoice_numbers`]: `InvoiceNumbers`, gap-free.
//! - [`payments`]: `PaymentGateway`, with Stripe's test payment methods.
//! - [`carrier`]: `Carrier`, labels bought once per key.
//! - [`mailer`]: `Mailer`, read back through the adapter's backend.
//! - [`blobs`]: `BlobStore`, and its links.

pub mod blobs;
pub mod carrier;
pub mod fixtures;
pub mod inventory;
pub mod invoice_numbers;
pub mod mailer;
pub mod order_store;
pub mod payments;
pub mod workflow_outbox;
