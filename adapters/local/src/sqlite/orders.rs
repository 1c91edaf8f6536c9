//! `OrderStore` on SQLite.

use std::fmt::Write as _;

use async_trait::async_trait;
use orderflow_domain::customer::CustomerId;
use orderflow_domain::idempotency::{IdempotencyKey, RequestFingerprint};
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{
    IdempotentPlacement, NewOrder, OrderPage, OrderQuery, OrderStore, Placement, StoreError,
};
use rusqlite::{Connection, OptionalExtension, params};
use time::format_description::well_known::Rfc3339;

use super::{Database, DbError};

/// Orders, idempotency keys and the workflow outbox in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    pub(super) db: Database,
}

/// What the writer found when placing an order.
enum Placed {
    Created,
    Replayed(String),
    KeyReused(String),
}

impl SqliteOrderStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn unavailable(error: DbError) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

fn parse_order(body: &str) -> Result<Order, DbError> {
    Ok(serde_json::from_str(body)?)
}

fn order_body(conn: &Connection, id: &str) -> Result<Option<String>, DbError> {
    Ok(conn.prepare_cached("SELECT body FROM orders WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?)
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    #[tracing::instrument(skip_all, fields(order_id = %new.order.id))]
    async fn place(&self, new: NewOrder) -> Result<Placement, StoreError> {
        let body = serde_json::to_string(&new.order).map_err(|e| unavailable(e.into()))?;
        let id = new.order.id.to_string();
        let customer_id = new.order.customer.id.to_string();
        let status = new.order.status().as_str();
        let created_at = new.order.created_at.format(&Rfc3339).unwrap_or_default();
        let idempotency = new.idempotency.map(|(key, fingerprint)| (key.to_string(), fingerprint));

        let placed = self
            .db
            .write(move |conn| {
                if let Some((key, fingerprint)) = &idempotency {
                    let existing: Option<(String, String)> = conn
                        .prepare_cached(
                            "SELECT fingerprint, order_id FROM idempotency_keys WHERE customer_id = ?1 AND key = ?2",
                        )?
                        .query_row([&customer_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    if let Some((stored, order_id)) = existing {
                        if RequestFingerprint::from_stored(stored) != *fingerprint {
                            return Ok(Placed::KeyReused(order_id));
                        }
                        let body = order_body(conn, &order_id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
                        return Ok(Placed::Replayed(body));
                    }
                }
                conn.prepare_cached(
                    "INSERT INTO orders (id, customer_id, status, version, created_at, body) VALUES (?1, ?2, ?3, 1, ?4, ?5)",
                )?
                .execute(params![id, customer_id, status, created_at, body])?;
                if let Some((key, fingerprint)) = &idempotency {
                    conn.prepare_cached(
                        "INSERT INTO idempotency_keys (customer_id, key, fingerprint, order_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![customer_id, key, fingerprint.as_str(), id, created_at])?;
                }
                conn.prepare_cached("INSERT INTO outbox (order_id, kind, created_at) VALUES (?1, 'start_workflow', ?2)")?
                    .execute(params![id, created_at])?;
                Ok(Placed::Created)
            })
            .await
            .map_err(unavailable)?;

        match placed {
            Placed::Created => Ok(Placement::Created(new.order)),
            Placed::Replayed(body) => Ok(Placement::Replayed(parse_order(&body).map_err(unavailable)?)),
            Placed::KeyReused(existing) => Err(StoreError::IdempotencyKeyReused {
                existing: OrderId::parse(&existing).map_err(|e| StoreError::Unavailable(Box::new(e)))?,
            }),
        }
    }

    async fn placed_under(
        &self,
        customer: &CustomerId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentPlacement>, StoreError> {
        let (customer, key) = (customer.to_string(), key.to_string());
        let found: Option<(String, String)> = self
            .db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT k.fingerprint, o.body FROM idempotency_keys k JOIN orders o ON o.id = k.order_id \
                         WHERE k.customer_id = ?1 AND k.key = ?2",
                    )?
                    .query_row([&customer, &key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?)
            })
            .await
            .map_err(unavailable)?;
        found
            .map(|(fingerprint, body)| {
                Ok(IdempotentPlacement {
                    fingerprint: RequestFingerprint::from_stored(fingerprint),
                    order: parse_order(&body).map_err(unavailable)?,
                })
            })
            .transpose()
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let id = id.to_string();
        self.db
            .read(move |conn| order_body(conn, &id)?.map(|body| parse_order(&body)).transpose())
            .await
            .map_err(unavailable)
    }

    async fn list(&self, query: &OrderQuery) -> Result<OrderPage, StoreError> {
        let mut sql = String::from("SELECT body FROM orders WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(customer) = &query.customer {
            args.push(customer.to_string());
            let _ = write!(sql, " AND customer_id = ?{}", args.len());
        }
        if let Some(status) = query.status {
            args.push(status.as_str().to_owned());
            let _ = write!(sql, " AND status = ?{}", args.len());
        }
        if let Some(before) = &query.before {
            args.push(before.to_string());
            let _ = write!(sql, " AND id < ?{}", args.len());
        }
        let limit = query.limit.clamp(1, 100);
        // One more than asked tells whether there is a next page.
        let _ = write!(sql, " ORDER BY id DESC LIMIT {}", limit + 1);

        let orders = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let bodies = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                bodies.iter().map(|b| parse_order(b)).collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(unavailable)?;
        Ok(OrderPage::from_one_past(orders, limit))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id, version = order.version))]
    async fn save(&self, order: &Order) -> Result<Order, StoreError> {
        let expected = order.version;
        let mut saved = order.clone();
        saved.version = expected + 1;
        let body = serde_json::to_string(&saved).map_err(|e| unavailable(e.into()))?;
        let id = saved.id.to_string();
        let status = saved.status().as_str();
        let version = i64::try_from(saved.version).unwrap_or(i64::MAX);
        let outcome = self
            .db
            .write(move |conn| {
                let updated = conn
                    .prepare_cached(
                        "UPDATE orders SET body = ?1, status = ?2, version = ?3 WHERE id = ?4 AND version = ?5",
                    )?
                    .execute(params![body, status, version, id, version - 1])?;
                if updated == 1 {
                    return Ok(Ok(()));
                }
                let exists = order_body(conn, &id)?.is_some();
                Ok(Err(if exists { StoreError::VersionConflict { expected } } else { StoreError::NotFound }))
            })
            .await
            .map_err(unavailable)?;
        outcome.map(|()| saved)
    }
}
