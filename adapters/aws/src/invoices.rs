//! `InvoiceNumbers` on DynamoDB: `INV-<year>-<sequence>`, gap-free per year, one per order.
//!
//! A counter item per year holds the last sequence assigned. Assigning is one transaction that
//! moves the counter from the value read to the next one (conditional on it still being the
//! value read) and records the number on the order (conditional on the order having none): the
//! counter never moves without a number being kept, so there are no gaps, and an order racing
//! itself keeps the first number.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, InvoiceNumbers, StoreError};

use crate::table::{self, TRANSACTION_ATTEMPTS, Table, back_off, n, s};

/// Invoice numbers in the one table.
#[derive(Debug, Clone)]
pub struct DynamoInvoiceNumbers {
    table: Table,
}

fn unavailable(error: impl Into<BoxError>) -> StoreError {
    StoreError::Unavailable(error.into())
}

const COUNTER: &str = "INVOICE_COUNTER";
const INVOICE: &str = "INVOICE";

/// `INV-2026-000042`: the year, then the sequence, zero-padded to six digits (as the local
/// adapter numbers).
fn invoice_number(year: i32, sequence: u64) -> String {
    format!("INV-{year}-{sequence:06}")
}

impl DynamoInvoiceNumbers {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// The last sequence assigned in `year`, 0 before the first.
    async fn last_assigned(&self, year: i32) -> Result<u64, StoreError> {
        let counter = self.table.get(COUNTER, year.to_string()).await.map_err(StoreError::Unavailable)?;
        counter.map_or(Ok(0), |item| table::number(&item, "last").map_err(unavailable))
    }
}

#[async_trait]
impl InvoiceNumbers for DynamoInvoiceNumbers {
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn assign(&self, order: &OrderId, year: i32) -> Result<String, StoreError> {
        for attempt in 0..TRANSACTION_ATTEMPTS * 4 {
            if let Some(number) = self.assigned(order).await? {
                return Ok(number);
            }
            let last = self.last_assigned(year).await?;
            let number = invoice_number(year, last + 1);
            let (condition, mut values) = if last == 0 {
                ("attribute_not_exists(#last)", std::collections::HashMap::new())
            } else {
                ("#last = :last", std::collections::HashMap::from([(":last".to_owned(), n(last))]))
            };
            values.insert(":next".to_owned(), n(last + 1));
            let counter = Update::builder()
                .table_name(&self.table.name)
                .set_key(Some(Table::key(COUNTER, year.to_string())))
                .update_expression("SET #last = :next")
                .condition_expression(condition)
                .expression_attribute_names("#last", "last")
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(unavailable)?;
            let mut assignment = Table::key(table::order_pk(order), INVOICE);
            assignment.extend([("number".to_owned(), s(&number)), ("year".to_owned(), n(year))]);
            let assignment = Put::builder()
                .table_name(&self.table.name)
                .set_item(Some(assignment))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            let written = self
                .table
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(counter).build())
                .transact_items(TransactWriteItem::builder().put(assignment).build())
                .send()
                .await;
            match written {
                Ok(_) => return Ok(number),
                // Another order took this number, or this order got one meanwhile: read again.
                Err(error) if table::cancelled(&error) => back_off(attempt).await,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(unavailable(format!("assigning an invoice number to {order} kept racing other orders")))
    }

    async fn assigned(&self, order: &OrderId) -> Result<Option<String>, StoreError> {
        let item = self.table.get(table::order_pk(order), INVOICE).await.map_err(StoreError::Unavailable)?;
        item.map(|item| table::string(&item, "number").map(str::to_owned).map_err(unavailable)).transpose()
    }
}
