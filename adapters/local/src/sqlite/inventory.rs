//! `Inventory` on SQLite: stock levels and per-order reservations, changed atomically.

use async_trait::async_trait;
use orderflow_domain::cart::Quantity;
use orderflow_domain::catalog::{Catalog, Sku};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{Inventory, InventoryError, StockLevel};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Database, DbError};

/// Stock kept in the same SQLite database as the orders.
#[derive(Debug, Clone)]
pub struct SqliteInventory {
    db: Database,
}

fn unavailable(error: DbError) -> InventoryError {
    InventoryError::Unavailable(Box::new(error))
}

fn parse_sku(raw: &str) -> Result<Sku, DbError> {
    Sku::parse(raw)
        .map_err(|e| DbError::Sqlite(rusqlite::Error::InvalidColumnType(0, e.to_string(), rusqlite::types::Type::Text)))
}

fn level(conn: &Connection, sku: &str) -> Result<Option<StockLevel>, DbError> {
    Ok(conn
        .prepare_cached("SELECT on_hand, reserved FROM stock WHERE sku = ?1")?
        .query_row([sku], |r| Ok(StockLevel { on_hand: r.get(0)?, reserved: r.get(1)? }))
        .optional()?)
}

/// Moves every `held` reservation of `order` to `state`, adjusting stock with `adjust`.
fn settle(conn: &Connection, order: &str, state: &str, adjust: &str) -> Result<(), DbError> {
    let held: Vec<(String, u32)> = conn
        .prepare_cached("SELECT sku, quantity FROM reservations WHERE order_id = ?1 AND state = 'held'")?
        .query_map([order], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (sku, quantity) in held {
        conn.prepare_cached(adjust)?.execute(params![quantity, sku])?;
    }
    conn.prepare_cached("UPDATE reservations SET state = ?2 WHERE order_id = ?1 AND state = 'held'")?
        .execute(params![order, state])?;
    Ok(())
}

impl SqliteInventory {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Adds every catalog product the store does not stock yet, with its initial stock. Stock
    /// already there is left as it is, so a restart never resets levels.
    pub async fn seed(&self, catalog: &Catalog) -> Result<(), InventoryError> {
        let products: Vec<(String, u32)> = catalog.products().map(|p| (p.sku.to_string(), p.initial_stock)).collect();
        self.db
            .write(move |conn| {
                let mut insert =
                    conn.prepare_cached("INSERT OR IGNORE INTO stock (sku, on_hand, reserved) VALUES (?1, ?2, 0)")?;
                for (sku, on_hand) in &products {
                    insert.execute(params![sku, on_hand])?;
                }
                Ok(())
            })
            .await
            .map_err(unavailable)
    }
}

enum Reserved {
    Done,
    Short(Vec<String>),
    Unknown(String),
}

#[async_trait]
impl Inventory for SqliteInventory {
    async fn levels(&self) -> Result<Vec<(Sku, StockLevel)>, InventoryError> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached("SELECT sku, on_hand, reserved FROM stock ORDER BY sku")?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, StockLevel { on_hand: r.get(1)?, reserved: r.get(2)? }))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter().map(|(sku, level)| Ok((parse_sku(&sku)?, level))).collect()
            })
            .await
            .map_err(unavailable)
    }

    async fn level(&self, sku: &Sku) -> Result<Option<StockLevel>, InventoryError> {
        let sku = sku.to_string();
        self.db.read(move |conn| level(conn, &sku)).await.map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn reserve(&self, order: &OrderId, lines: &[(Sku, Quantity)]) -> Result<(), InventoryError> {
        let order = order.to_string();
        let lines: Vec<(String, u32)> = lines.iter().map(|(sku, q)| (sku.to_string(), q.get())).collect();
        let reserved = self
            .db
            .write(move |conn| {
                let already: i64 = conn
                    .prepare_cached("SELECT count(*) FROM reservations WHERE order_id = ?1")?
                    .query_row([&order], |r| r.get(0))?;
                if already > 0 {
                    return Ok(Reserved::Done);
                }
                let mut short = Vec::new();
                for (sku, quantity) in &lines {
                    match level(conn, sku)? {
                        None => return Ok(Reserved::Unknown(sku.clone())),
                        Some(level) if level.available() < *quantity => short.push(sku.clone()),
                        Some(_) => {}
                    }
                }
                if !short.is_empty() {
                    return Ok(Reserved::Short(short));
                }
                for (sku, quantity) in &lines {
                    conn.prepare_cached("UPDATE stock SET reserved = reserved + ?1 WHERE sku = ?2")?
                        .execute(params![quantity, sku])?;
                    conn.prepare_cached(
                        "INSERT INTO reservations (order_id, sku, quantity, state) VALUES (?1, ?2, ?3, 'held')",
                    )?
                    .execute(params![order, sku, quantity])?;
                }
                Ok(Reserved::Done)
            })
            .await
            .map_err(unavailable)?;
        match reserved {
            Reserved::Done => Ok(()),
            Reserved::Short(skus) => Err(InventoryError::OutOfStock(
                skus.iter().map(|s| parse_sku(s)).collect::<Result<_, _>>().map_err(unavailable)?,
            )),
            Reserved::Unknown(sku) => Err(InventoryError::UnknownSku(parse_sku(&sku).map_err(unavailable)?)),
        }
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn release(&self, order: &OrderId) -> Result<(), InventoryError> {
        let order = order.to_string();
        self.db
            .write(move |conn| {
                settle(conn, &order, "released", "UPDATE stock SET reserved = reserved - ?1 WHERE sku = ?2")
            })
            .await
            .map_err(unavailable)
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn commit(&self, order: &OrderId) -> Result<(), InventoryError> {
        let order = order.to_string();
        self.db
            .write(move |conn| {
                settle(
                    conn,
                    &order,
                    "committed",
                    "UPDATE stock SET reserved = reserved - ?1, on_hand = on_hand - ?1 WHERE sku = ?2",
                )
            })
            .await
            .map_err(unavailable)
    }
}
