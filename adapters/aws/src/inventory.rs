//! `Inventory` on DynamoDB: one item per SKU, one reservation item per order.
//!
//! Conditions cannot do arithmetic, so each stock item keeps `available` (on hand less reserved)
//! beside `on_hand` and `reserved`, and every change moves the three together. A reservation is
//! one transaction: the order's reservation item (conditional on its absence, which makes
//! reserving again a no-op) and, per SKU, `available >= units`. Releasing and shipping move the
//! reservation out of `reserved` under the condition that it still is, so neither happens twice.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use orderflow_domain::cart::Quantity;
use orderflow_domain::catalog::{Catalog, Sku};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, Inventory, InventoryError, StockLevel};

use crate::table::{self, Item, TRANSACTION_ATTEMPTS, Table, back_off, n, s};

/// Stock and reservations in the one table.
#[derive(Debug, Clone)]
pub struct DynamoInventory {
    table: Table,
}

fn unavailable(error: impl Into<BoxError>) -> InventoryError {
    InventoryError::Unavailable(error.into())
}

const STOCK: &str = "STOCK";
const RESERVATION: &str = "RESERVATION";

fn stock_level(item: &Item) -> Result<StockLevel, InventoryError> {
    Ok(StockLevel {
        on_hand: table::number(item, "on_hand").map_err(unavailable)?,
        reserved: table::number(item, "reserved").map_err(unavailable)?,
    })
}

/// What settling a reservation does to each SKU's stock.
#[derive(Debug, Clone, Copy)]
enum Settlement {
    /// The units go back on the shelf.
    Released,
    /// The units left the warehouse.
    Committed,
}

impl Settlement {
    const fn state(self) -> &'static str {
        match self {
            Self::Released => "released",
            Self::Committed => "committed",
        }
    }

    const fn stock_update(self) -> &'static str {
        match self {
            Self::Released => "SET reserved = reserved - :units, available = available + :units",
            Self::Committed => "SET reserved = reserved - :units, on_hand = on_hand - :units",
        }
    }
}

impl DynamoInventory {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Adds every catalog product the table does not stock yet, with its initial stock. Stock
    /// already there is left as it is, so a redeploy never resets levels.
    pub async fn seed(&self, catalog: &Catalog) -> Result<(), InventoryError> {
        for product in catalog.products() {
            let mut item = Table::key(STOCK, product.sku.to_string());
            item.extend([
                ("on_hand".to_owned(), n(product.initial_stock)),
                ("reserved".to_owned(), n(0)),
                ("available".to_owned(), n(product.initial_stock)),
            ]);
            // A SKU already stocked keeps its levels.
            self.table.put_if_absent(item).await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// Why a reservation of `lines` was cancelled, when the stock explains it.
    async fn shortage(&self, lines: &BTreeMap<Sku, u32>) -> Result<Option<InventoryError>, InventoryError> {
        let mut short = Vec::new();
        for (sku, units) in lines {
            match self.level(sku).await? {
                None => return Ok(Some(InventoryError::UnknownSku(sku.clone()))),
                Some(level) if level.available() < *units => short.push(sku.clone()),
                Some(_) => {}
            }
        }
        Ok((!short.is_empty()).then_some(InventoryError::OutOfStock(short)))
    }

    /// The reserved lines of `order`, if it holds a reservation still `reserved`.
    async fn held(&self, order: &OrderId) -> Result<Option<Vec<(String, u32)>>, InventoryError> {
        let Some(item) = self.table.get(table::order_pk(order), RESERVATION).await.map_err(unavailable)? else {
            return Ok(None);
        };
        if table::string(&item, "state").map_err(unavailable)? != "reserved" {
            return Ok(None);
        }
        let lines =
            item.get("lines").and_then(|l| l.as_m().ok()).ok_or_else(|| unavailable("a reservation without lines"))?;
        lines
            .iter()
            .map(|(sku, units)| {
                let units = units.as_n().ok().and_then(|u| u.parse().ok());
                units
                    .map(|units| (sku.clone(), units))
                    .ok_or_else(|| unavailable(format!("a reservation of {sku} without units")))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Moves `order`'s reservation out of `reserved`, adjusting the stock of each line, once.
    async fn settle(&self, order: &OrderId, settlement: Settlement) -> Result<(), InventoryError> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let Some(lines) = self.held(order).await? else { return Ok(()) };
            let mut writes = vec![self.update(
                Table::key(table::order_pk(order), RESERVATION),
                "SET #state = :settled",
                "#state = :reserved",
                &[(":settled", s(settlement.state())), (":reserved", s("reserved"))],
                true,
            )?];
            for (sku, units) in lines {
                writes.push(self.update(
                    Table::key(STOCK, sku),
                    settlement.stock_update(),
                    "attribute_exists(pk)",
                    &[(":units", n(units))],
                    false,
                )?);
            }
            match self.table.client.transact_write_items().set_transact_items(Some(writes)).send().await {
                Ok(_) => return Ok(()),
                // Settled by another call in between, or a race: the next read tells.
                Err(error) if table::cancelled(&error) => back_off(attempt).await,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(unavailable(format!("settling the reservation of {order} kept racing other writes")))
    }

    fn update(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
        names_state: bool,
    ) -> Result<TransactWriteItem, InventoryError> {
        let mut builder = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            builder = builder.expression_attribute_values(*name, value.clone());
        }
        if names_state {
            builder = builder.expression_attribute_names("#state", "state");
        }
        Ok(TransactWriteItem::builder().update(builder.build().map_err(unavailable)?).build())
    }
}

#[async_trait]
impl Inventory for DynamoInventory {
    async fn levels(&self) -> Result<Vec<(Sku, StockLevel)>, InventoryError> {
        let mut levels = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("pk = :stock")
                .expression_attribute_values(":stock", s(STOCK))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                let sku = Sku::parse(table::string(item, "sk").map_err(unavailable)?).map_err(unavailable)?;
                levels.push((sku, stock_level(item)?));
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(levels);
            }
        }
    }

    async fn level(&self, sku: &Sku) -> Result<Option<StockLevel>, InventoryError> {
        let item = self.table.get(STOCK, sku.to_string()).await.map_err(unavailable)?;
        item.as_ref().map(stock_level).transpose()
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn reserve(&self, order: &OrderId, lines: &[(Sku, Quantity)]) -> Result<(), InventoryError> {
        // A transaction touches an item once: two lines of one SKU are one reservation.
        let mut by_sku: BTreeMap<Sku, u32> = BTreeMap::new();
        for (sku, quantity) in lines {
            *by_sku.entry(sku.clone()).or_default() += quantity.get();
        }
        let mut reservation = Table::key(table::order_pk(order), RESERVATION);
        reservation.extend([
            ("state".to_owned(), s("reserved")),
            (
                "lines".to_owned(),
                AttributeValue::M(by_sku.iter().map(|(sku, units)| (sku.to_string(), n(units))).collect()),
            ),
        ]);
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(reservation))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        let mut writes = vec![TransactWriteItem::builder().put(put).build()];
        for (sku, units) in &by_sku {
            writes.push(self.update(
                Table::key(STOCK, sku.to_string()),
                "SET reserved = reserved + :units, available = available - :units",
                "available >= :units",
                &[(":units", n(units))],
                false,
            )?);
        }

        for attempt in 0..TRANSACTION_ATTEMPTS {
            match self.table.client.transact_write_items().set_transact_items(Some(writes.clone())).send().await {
                Ok(_) => return Ok(()),
                Err(error) if table::cancelled(&error) => {
                    // Already reserved for this order (by this call's earlier answer, lost, or a
                    // racing one); or short; or a race with another order: read which.
                    if self.table.get(table::order_pk(order), RESERVATION).await.map_err(unavailable)?.is_some() {
                        return Ok(());
                    }
                    if let Some(refusal) = self.shortage(&by_sku).await? {
                        return Err(refusal);
                    }
                    back_off(attempt).await;
                }
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(unavailable(format!("reserving stock for {order} kept racing other writes")))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn release(&self, order: &OrderId) -> Result<(), InventoryError> {
        self.settle(order, Settlement::Released).await
    }

    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn commit(&self, order: &OrderId) -> Result<(), InventoryError> {
        self.settle(order, Settlement::Committed).await
    }
}
