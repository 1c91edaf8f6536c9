//! `WorkflowOutbox` on SQLite: the `outbox` rows that `SqliteOrderStore::place` writes in the
//! same transaction as each new order.
//!
//! A row is pending until it is marked started (`dispatched_at` set). A dispatcher that dies
//! between starting a workflow and marking its row starts it again on the next pass, which is
//! safe because workflows are named after their order (`WorkflowStarter::start` is idempotent).

use async_trait::async_trait;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{PendingStart, StoreError, WorkflowOutbox};
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
    async fn pending_starts(&self, limit: usize) -> Result<Vec<PendingStart>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, order_id FROM outbox WHERE dispatched_at IS NULL AND kind = ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![START_WORKFLOW, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .map_err(unavailable)?;
        rows.into_iter()
            .map(|(entry, order)| {
                let order = OrderId::parse(&order).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
                Ok(PendingStart { entry, order })
            })
            .collect()
    }

    async fn mark_started(&self, entries: &[i64]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        self.db
            .write(move |conn| {
                let mut mark = conn
                    .prepare_cached("UPDATE outbox SET dispatched_at = ?1 WHERE seq = ?2 AND dispatched_at IS NULL")?;
                for entry in &entries {
                    mark.execute(params![now, entry])?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use orderflow_domain::ports::{NewOrder, OrderStore};

    use super::*;
    use crate::sqlite::{Database, Durability};
    use crate::testing::pending_order;

    fn store() -> (tempfile::TempDir, SqliteOrderStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("orders.db"), Durability::Normal).unwrap();
        (dir, SqliteOrderStore::new(db))
    }

    async fn place(store: &SqliteOrderStore) -> OrderId {
        let order = pending_order();
        let id = order.id.clone();
        store.place(NewOrder { order, idempotency: None }).await.unwrap();
        id
    }

    #[tokio::test]
    async fn every_placed_order_is_pending_oldest_first_until_marked_started() {
        let (_dir, store) = store();
        let mut placed = Vec::new();
        for _ in 0..3 {
            placed.push(place(&store).await);
        }

        let pending = store.pending_starts(10).await.unwrap();
        assert_eq!(pending.iter().map(|p| p.order.clone()).collect::<Vec<_>>(), placed);

        store.mark_started(&[pending[0].entry]).await.unwrap();
        let left = store.pending_starts(10).await.unwrap();
        assert_eq!(left, pending[1..]);
    }

    #[tokio::test]
    async fn pending_starts_returns_at_most_the_limit() {
        let (_dir, store) = store();
        for _ in 0..3 {
            place(&store).await;
        }
        assert_eq!(store.pending_starts(2).await.unwrap().len(), 2);
        assert!(store.pending_starts(0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn marking_an_entry_twice_or_none_at_all_is_harmless() {
        let (_dir, store) = store();
        place(&store).await;
        let entry = store.pending_starts(1).await.unwrap()[0].entry;
        store.mark_started(&[entry]).await.unwrap();
        store.mark_started(&[entry]).await.unwrap();
        store.mark_started(&[]).await.unwrap();
        assert!(store.pending_starts(10).await.unwrap().is_empty());
    }
}
