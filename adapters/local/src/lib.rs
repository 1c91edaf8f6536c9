//! Local adapters: everything the product needs to run on one machine with no cloud account,
//! behind the same ports as the cloud adapters.
//!
//! # Layout
//!
//! - [`sqlite`]: a group-committing SQLite [`sqlite::Database`] and the `OrderStore` and
//!   `Inventory` built on it.

pub mod sqlite;
