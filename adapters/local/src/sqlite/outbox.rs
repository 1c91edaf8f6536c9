//! `WorkflowOutbox` on SQLite: the `outbox` rows that `SqliteOrderStore::place` writes in the
//! same transaction as each new order.
//!
//! A row is pending until it is marked started (`dispatched_at` set). Whoever dies between
//! starting a workflow and marking its row leaves it to be started again, which is safe because
//! workflows are named after their order (`WorkflowStarter::start` is idempotent).

use async_trait::async_trait;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{StoreError, WorkflowOutbox};
use rusqlite::params;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{DbError, SqliteOrderStore};

/// The only kind of outbox row so far.
const START_WORKFLOW: &str = "start_workflow";

fn unavailable(error: DbError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

#[async_trait]
impl WorkflowOutbox for SqliteOrderStore {
    async fn pending_starts(&self, limit: usize) -> Result<Vec<OrderId>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<String> = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT order_id FROM outbox WHERE dispatched_at IS NULL AND kind = ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![START_WORKFLOW, limit], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .map_err(unavailable)?;
        rows.iter().map(|order| OrderId::parse(order).map_err(|e| StoreError::Unavailable(Box::new(e)))).collect()
    }

    async fn mark_started(&self, orders: &[OrderId]) -> Result<(), StoreError> {
        if orders.is_empty() {
            return Ok(());
        }
        let orders = orders.to_vec();
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        self.db
            .write(move |conn| {
                let mut mark = conn.prepare_cached(
                    "UPDATE outbox SET dispatched_at = ?1 WHERE order_id = ?2 AND kind = ?3 AND dispatched_at IS NULL",
                )?;
                for order in &orders {
                    mark.execute(params![now, order.as_str(), START_WORKFLOW])?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)
    }
}
