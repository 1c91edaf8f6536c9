//! Local adapters: everything the product needs to run on one machine with no cloud account,
//! behind the same ports as the cloud adapters. Each keeps its state under the data directory
//! (`DATA_DIR`, default `./var`), durably, so a restarted process carries on where it stopped.
//!
//! # Layout
//!
//! - [`sqlite`]: a group-committing SQLite [`sqlite::Database`] and, on the orders database,
//!   the `OrderStore`, `WorkflowOutbox`, `Inventory` and `InvoiceNumbers`.
//! - [`payments`]: [`PaymentSimulator`], Stripe's test mode as a `PaymentGateway`, with its
//!   ledger in `payments.db`.
//! - [`carrier`]: [`CarrierSimulator`], two parcel carriers as a `Carrier`, with PDF labels and
//!   its shipments in `carrier.db`.
//! - [`blobs`]: [`FsBlobStore`], a folder as a `BlobStore` (invoices, credit notes, labels),
//!   with signed, expiring links.
//! - [`mailer`]: [`EmlOutbox`], a folder of `.eml` files as a `Mailer`.
//!
//! | file under `DATA_DIR` | written by |
//! |---|---|
//! | `orders.db` | `sqlite` |
//! | `payments.db` | `PaymentSimulator` |
//! | `carrier.db` | `CarrierSimulator` |
//! | `invoices/`, `credit-notes/`, `labels/` | `FsBlobStore` |
//! | `outbox/*.eml` | `EmlOutbox` |
//!
//! # Wiring
//!
//! ```text
//! let orders = Database::open(data_dir.join("orders.db"), durability)?;
//! SqliteOrderStore::new(orders.clone())           // OrderStore + WorkflowOutbox
//! SqliteInventory::new(orders.clone())            // Inventory
//! SqliteInvoiceNumbers::new(orders)               // InvoiceNumbers
//! PaymentSimulator::open(data_dir.join("payments.db"), durability)?
//! CarrierSimulator::open(data_dir.join("carrier.db"), durability)?   // .with_outage(&CARRIER_OUTAGE)?
//! FsBlobStore::open(data_dir, "http://127.0.0.1:3000", secret)?
//! EmlOutbox::open(data_dir.join("outbox"))?
//! ```
//!
//! The local API shows the simulators' records with [`PaymentSimulator::ledger`] and
//! [`CarrierSimulator::shipments`], serves blobs after [`FsBlobStore::verify`], and tests read
//! mail back with [`EmlOutbox::sent`].

mod atomic_file;
pub mod blobs;
pub mod carrier;
pub mod mailer;
pub mod payments;
pub mod sqlite;

pub use blobs::FsBlobStore;
pub use carrier::CarrierSimulator;
pub use mailer::EmlOutbox;
pub use payments::PaymentSimulator;
