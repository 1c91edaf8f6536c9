//! `InvoiceNumbers` on SQLite: `INV-<year>-<sequence>`, gapless per year, one per order.
//!
//! Invoices must be numbered without gaps (tax authorities ask about missing numbers), so the
//! number is not a sequence that a failed transaction could burn: the year's counter and the
//! order's number are written in the same savepoint of the writer's transaction, and either both
//! commit or neither does. One writer thread serialises every assignment, so two concurrent calls
//! for the same order see each other and the second returns the first's number.

use std::sync::Arc;

use async_trait::async_trait;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{Clock, InvoiceNumbers, StoreError, SystemClock};
use rusqlite::{OptionalExtension, params};
use time::format_description::well_known::Rfc3339;

use super::{Database, DbError};

/// Invoice numbers kept in the orders database (migration 2).
#[derive(Debug, Clone)]
pub struct SqliteInvoiceNumbers {
    db: Database,
    /// Stamps when each number was assigned, for audits.
    clock: Arc<dyn Clock>,
}

/// A year an invoice number cannot carry (the format has four digits).
#[derive(Debug, thiserror::Error)]
#[error("invoice numbers are for years 1000 to 9999, not {0}")]
struct YearOutOfRange(i32);

impl SqliteInvoiceNumbers {
    pub fn new(db: Database) -> Self {
        Self { db, clock: Arc::new(SystemClock::new()) }
    }

    /// Uses `clock` to stamp assignments.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// `INV-2026-000042`: the year, then the sequence, zero-padded to six digits.
fn format_number(year: i32, seq: i64) -> String {
    format!("INV-{year}-{seq:06}")
}

#[async_trait]
impl InvoiceNumbers for SqliteInvoiceNumbers {
    #[tracing::instrument(skip_all, fields(order_id = %order, year))]
    async fn assign(&self, order: &OrderId, year: i32) -> Result<String, StoreError> {
        if !(1000..=9999).contains(&year) {
            return Err(StoreError::Unavailable(Box::new(YearOutOfRange(year))));
        }
        let order = order.to_string();
        let assigned_at = self.clock.now().format(&Rfc3339).unwrap_or_default();
        self.db
            .write(move |conn| {
                let existing: Option<String> = conn
                    .prepare_cached("SELECT number FROM invoice_numbers WHERE order_id = ?1")?
                    .query_row([&order], |r| r.get(0))
                    .optional()?;
                if let Some(number) = existing {
                    return Ok(number);
                }
                let seq: i64 = conn
                    .prepare_cached(
                        "INSERT INTO invoice_counters (year, last) VALUES (?1, 1)
                         ON CONFLICT (year) DO UPDATE SET last = last + 1
                         RETURNING last",
                    )?
                    .query_row([year], |r| r.get(0))?;
                let number = format_number(year, seq);
                conn.prepare_cached(
                    "INSERT INTO invoice_numbers (order_id, number, year, seq, assigned_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![order, number, year, seq, assigned_at])?;
                Ok(number)
            })
            .await
            .map_err(|e: DbError| StoreError::Unavailable(Box::new(e)))
    }

    async fn assigned(&self, order: &OrderId) -> Result<Option<String>, StoreError> {
        let order = order.to_string();
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT number FROM invoice_numbers WHERE order_id = ?1")?
                    .query_row([&order], |r| r.get(0))
                    .optional()?)
            })
            .await
            .map_err(|e: DbError| StoreError::Unavailable(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use orderflow_port_contracts::fixtures::order_id;

    use super::*;
    use crate::sqlite::Durability;

    fn numbers() -> (tempfile::TempDir, SqliteInvoiceNumbers) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("orders.db"), Durability::Normal).unwrap();
        (dir, SqliteInvoiceNumbers::new(db))
    }

    #[tokio::test]
    async fn numbers_are_sequential_per_year_and_start_again_each_year() {
        let (_dir, numbers) = numbers();
        let mut assigned = Vec::new();
        for year in [2026, 2026, 2027, 2026] {
            assigned.push(numbers.assign(&order_id(), year).await.unwrap());
        }
        assert_eq!(assigned, ["INV-2026-000001", "INV-2026-000002", "INV-2027-000001", "INV-2026-000003"]);
    }

    #[tokio::test]
    async fn an_order_keeps_its_number_even_when_asked_again_in_another_year() {
        let (_dir, numbers) = numbers();
        let order = order_id();
        let first = numbers.assign(&order, 2026).await.unwrap();
        assert_eq!(numbers.assign(&order, 2026).await.unwrap(), first);
        assert_eq!(numbers.assign(&order, 2027).await.unwrap(), first);
        assert_eq!(numbers.assign(&order_id(), 2026).await.unwrap(), "INV-2026-000002");
    }

    #[tokio::test]
    async fn numbers_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.db");
        let order = order_id();
        {
            let numbers = SqliteInvoiceNumbers::new(Database::open(&path, Durability::Full).unwrap());
            assert_eq!(numbers.assign(&order, 2026).await.unwrap(), "INV-2026-000001");
        }
        let numbers = SqliteInvoiceNumbers::new(Database::open(&path, Durability::Full).unwrap());
        assert_eq!(numbers.assign(&order, 2026).await.unwrap(), "INV-2026-000001");
        assert_eq!(numbers.assign(&order_id(), 2026).await.unwrap(), "INV-2026-000002");
    }

    #[tokio::test]
    async fn a_year_outside_four_digits_is_refused() {
        let (_dir, numbers) = numbers();
        assert!(matches!(numbers.assign(&order_id(), 12_026).await, Err(StoreError::Unavailable(_))));
    }
}
