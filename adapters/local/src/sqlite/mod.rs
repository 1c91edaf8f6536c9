//! The SQLite databases of the local adapters: the orders database (orders, idempotency keys,
//! the workflow outbox, stock, invoice numbers) and the simulated partners' ledgers.
//!
//! Every write goes through one group-committing writer and every read through a pool of
//! read-only connections ([`sqlite_group_commit`], whose documentation says why). This module
//! adds the schemas and [`DbError`]; the stores beside it hold their own SQL.

mod inventory;
mod invoices;
mod migrations;
mod orders;
mod outbox;

use std::path::Path;

use rusqlite::Connection;

pub use inventory::SqliteInventory;
pub use invoices::SqliteInvoiceNumbers;
pub use migrations::{MigrationError, Schema};
pub use orders::SqliteOrderStore;
pub use sqlite_group_commit::Durability;

/// The most jobs committed in one transaction. Large enough to amortise an fsync over many
/// requests, small enough that one batch never keeps its first caller waiting long. Beyond
/// [`sqlite_group_commit::QUEUED_BATCHES`] of them waiting, a write is refused at once and the
/// API answers `503` with `Retry-After`.
const MAX_BATCH: usize = 512;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored document is corrupt")]
    Corrupt(#[from] serde_json::Error),
    #[error("the schema could not be brought up to date")]
    Migration(#[from] MigrationError),
    /// The writer refused or did not keep the write (overloaded, aborted with a failed
    /// batch-mate, commit failed, stopped), or the database or a reader could not open.
    #[error(transparent)]
    Database(#[from] sqlite_group_commit::Error),
}

/// A SQLite database file with one group-committing writer and a pool of readers.
#[derive(Debug, Clone)]
pub struct Database {
    inner: sqlite_group_commit::Database,
}

impl Database {
    /// Opens (creating if needed) the orders database at `path`, brings its schema up to date
    /// and starts its writer thread.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, DbError> {
        Self::open_with_schema(path, durability, &migrations::ORDERS)
    }

    /// Opens (creating if needed) a database of another kind at `path`, such as a simulated
    /// partner's ledger, with its own schema. A file made with another schema is refused.
    pub fn open_with_schema(path: impl AsRef<Path>, durability: Durability, schema: &Schema) -> Result<Self, DbError> {
        let options = sqlite_group_commit::Options { durability, max_batch: MAX_BATCH };
        let inner = sqlite_group_commit::Database::open(path, &options, |conn| {
            Ok::<_, DbError>(migrations::run(conn, schema)?)
        })?;
        Ok(Self { inner })
    }

    /// Runs `work` in the next write batch and returns its result once the batch is committed.
    /// `work` must read and check everything before its first write: if it fails, its
    /// transaction is rolled back (see [`sqlite_group_commit`]).
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        self.inner.write(work).await
    }

    /// Runs `work` on a read-only connection.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        self.inner.read(work).await
    }
}
