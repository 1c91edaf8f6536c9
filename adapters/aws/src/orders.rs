//! `OrderStore` and the workflow outbox on DynamoDB.
//!
//! Placing an order is one `TransactWriteItems`: the order item, its outbox entry and, under an
//! idempotency key, the key's record, each conditional on its absence. A key already taken
//! cancels the whole transaction; the record then says which order it made. Saving is a put
//! conditional on the version read, so a stale writer is refused.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use orderflow_domain::customer::CustomerId;
use orderflow_domain::idempotency::{IdempotencyKey, RequestFingerprint};
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{
    BoxError, IdempotentPlacement, NewOrder, OrderPage, OrderQuery, OrderStore, Placement, StoreError, WorkflowOutbox,
};

use crate::table::{
    self, ALL_ORDERS, CUSTOMER_ORDERS, Item, PENDING_STARTS, TRANSACTION_ATTEMPTS, Table, back_off, n, s,
};

/// Orders, their idempotency records and their outbox entries, in the one table.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    table: Table,
}

fn unavailable(error: impl Into<BoxError>) -> StoreError {
    StoreError::Unavailable(error.into())
}

/// How long an idempotency key is remembered at least: its record carries `expires` (epoch
/// seconds), the table's TTL attribute, and DynamoDB deletes it some time after.
pub const IDEMPOTENCY_KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// The table's TTL attribute (`cdk/lib/stateful-stack.ts`).
pub const EXPIRES: &str = "expires";

const ORDER: &str = "ORDER";
const START: &str = "START";
/// The value of `pending` on an outbox entry not yet started, and of `listing` on every order.
const PENDING: &str = "start";
const LISTED: &str = "orders";

fn idempotency_key(customer: &CustomerId, key: &IdempotencyKey) -> (String, String) {
    (format!("CUSTOMER#{customer}"), format!("IDEMPOTENCY#{key}"))
}

/// The order item: the order as JSON, and beside it what the conditions and indexes read.
fn order_item(order: &Order) -> Result<Item, StoreError> {
    let body = serde_json::to_string(order).map_err(unavailable)?;
    let mut item = Table::key(table::order_pk(&order.id), ORDER);
    item.extend([
        ("body".to_owned(), s(body)),
        ("version".to_owned(), n(order.version)),
        ("status".to_owned(), s(order.status().as_str())),
        ("customer".to_owned(), s(order.customer.id.to_string())),
        ("listing".to_owned(), s(LISTED)),
        ("placed".to_owned(), s(order.id.to_string())),
    ]);
    Ok(item)
}

fn parse_order(item: &Item) -> Result<Order, StoreError> {
    serde_json::from_str(table::string(item, "body").map_err(unavailable)?).map_err(unavailable)
}

impl DynamoOrderStore {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// A write of `item` in a transaction, refused if an item with its key exists.
    fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// What a key already taken by `customer` placed: the replay, or a refusal.
    async fn resolve_taken_key(
        &self,
        customer: &CustomerId,
        key: &IdempotencyKey,
        fingerprint: &RequestFingerprint,
    ) -> Result<Option<Placement>, StoreError> {
        let Some(placed) = self.placed_under(customer, key).await? else { return Ok(None) };
        if placed.fingerprint == *fingerprint {
            Ok(Some(Placement::Replayed(placed.order)))
        } else {
            Err(StoreError::IdempotencyKeyReused { existing: placed.order.id })
        }
    }
}

#[async_trait]
impl WorkflowOutbox for DynamoOrderStore {
    /// Eventually consistent (an index): an order placed a moment ago may show on the next sweep.
    async fn pending_starts(&self, limit: usize) -> Result<Vec<OrderId>, StoreError> {
        let mut pending = Vec::new();
        let mut start_key = None;
        while pending.len() < limit {
            let page = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(PENDING_STARTS)
                .key_condition_expression("pending = :pending")
                .expression_attribute_values(":pending", s(PENDING))
                .limit(i32::try_from(limit - pending.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                pending.push(OrderId::parse(table::string(item, "placed").map_err(unavailable)?).map_err(unavailable)?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        Ok(pending)
    }

    /// Sets `started_at` and removes `pending`, which takes the entry out of the index; an order
    /// without a pending entry is left as it is (no entry is made for it).
    async fn mark_started(&self, orders: &[OrderId]) -> Result<(), StoreError> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(unavailable)?;
        let marks = orders.iter().map(|order| {
            self.table
                .client
                .update_item()
                .table_name(&self.table.name)
                .set_key(Some(Table::key(table::order_pk(order), START)))
                .update_expression("SET started_at = :now REMOVE pending")
                .condition_expression("attribute_exists(pending)")
                .expression_attribute_values(":now", s(now.clone()))
                .send()
        });
        for marked in futures::future::join_all(marks).await {
            match marked {
                Ok(_) => {}
                Err(error) if table::condition_failed(&error) => {}
                Err(error) => return Err(unavailable(error)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    #[tracing::instrument(skip_all, fields(order_id = %new.order.id))]
    async fn place(&self, new: NewOrder) -> Result<Placement, StoreError> {
        let order = &new.order;
        let mut outbox = Table::key(table::order_pk(&order.id), START);
        outbox.extend([("pending".to_owned(), s(PENDING)), ("placed".to_owned(), s(order.id.to_string()))]);
        let mut writes = vec![self.put_if_absent(order_item(order)?)?, self.put_if_absent(outbox)?];
        if let Some((key, fingerprint)) = &new.idempotency {
            let (pk, sk) = idempotency_key(&order.customer.id, key);
            let mut record = Table::key(pk, sk);
            let expires = (order.created_at + IDEMPOTENCY_KEY_RETENTION).unix_timestamp();
            record.extend([
                ("fingerprint".to_owned(), s(fingerprint.as_str())),
                ("order_id".to_owned(), s(order.id.to_string())),
                (EXPIRES.to_owned(), n(expires)),
            ]);
            writes.push(self.put_if_absent(record)?);
        }

        for attempt in 0..TRANSACTION_ATTEMPTS {
            let written =
                self.table.client.transact_write_items().set_transact_items(Some(writes.clone())).send().await;
            match written {
                Ok(_) => return Ok(Placement::Created(new.order)),
                Err(error) if table::cancelled(&error) => {
                    // Either the key is taken (by a request that may have won a race with this
                    // one), or this transaction raced another on the same items: the key's record
                    // tells which.
                    if let Some((key, fingerprint)) = &new.idempotency
                        && let Some(placement) = self.resolve_taken_key(&order.customer.id, key, fingerprint).await?
                    {
                        return Ok(placement);
                    }
                    if self.get(&order.id).await?.is_some() {
                        return Err(unavailable(format!("the order id {} is already taken", order.id)));
                    }
                    back_off(attempt).await;
                }
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(unavailable(format!("placing order {} kept racing other writes", order.id)))
    }

    async fn placed_under(
        &self,
        customer: &CustomerId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentPlacement>, StoreError> {
        let (pk, sk) = idempotency_key(customer, key);
        let Some(record) = self.table.get(pk, sk).await.map_err(StoreError::Unavailable)? else { return Ok(None) };
        let fingerprint =
            RequestFingerprint::from_stored(table::string(&record, "fingerprint").map_err(unavailable)?.to_owned());
        let id = OrderId::parse(table::string(&record, "order_id").map_err(unavailable)?).map_err(unavailable)?;
        // Written in the same transaction as the record: missing only if the table was tampered with.
        let order = self.get(&id).await?.ok_or_else(|| unavailable(format!("the key's order {id} is missing")))?;
        Ok(Some(IdempotentPlacement { fingerprint, order }))
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let item = self.table.get(table::order_pk(id), ORDER).await.map_err(StoreError::Unavailable)?;
        item.as_ref().map(parse_order).transpose()
    }

    /// Newest first, from an index: eventually consistent on AWS, so an order saved a moment
    /// ago may show its previous status for a moment (`get` is always current).
    async fn list(&self, query: &OrderQuery) -> Result<OrderPage, StoreError> {
        let limit = query.limit.clamp(1, 100);
        let (index, partition, value) = match &query.customer {
            Some(customer) => (CUSTOMER_ORDERS, "customer", customer.to_string()),
            None => (ALL_ORDERS, "listing", LISTED.to_owned()),
        };
        let mut condition = format!("{partition} = :partition");
        let mut values = vec![(":partition", s(value))];
        if let Some(before) = &query.before {
            condition.push_str(" AND placed < :before");
            values.push((":before", s(before.to_string())));
        }
        let filter = query.status.map(|status| {
            values.push((":status", s(status.as_str())));
            "#status = :status"
        });

        // One more than asked tells whether there is a next page; a status filter applies after
        // a page is read, so a page may hold fewer, and the next one is read.
        let mut orders = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let mut request = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .index_name(index)
                .key_condition_expression(&condition)
                .scan_index_forward(false)
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take());
            for (name, value) in &values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            if let Some(filter) = filter {
                request = request.filter_expression(filter).expression_attribute_names("#status", "status");
            }
            let page = request.send().await.map_err(unavailable)?;
            for item in page.items() {
                orders.push(parse_order(item)?);
            }
            start_key = page.last_evaluated_key;
            if orders.len() > limit || start_key.is_none() {
                break;
            }
        }
        Ok(OrderPage::from_one_past(orders, limit))
    }

    #[tracing::instrument(skip_all, fields(order_id = %order.id, version = order.version))]
    async fn save(&self, order: &Order) -> Result<Order, StoreError> {
        let expected = order.version;
        let mut saved = order.clone();
        saved.version = expected + 1;
        let written = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(order_item(&saved)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(expected))
            .send()
            .await;
        match written {
            Ok(_) => Ok(saved),
            Err(error) if table::condition_failed(&error) => match self.get(&order.id).await? {
                Some(_) => Err(StoreError::VersionConflict { expected }),
                None => Err(StoreError::NotFound),
            },
            Err(error) => Err(unavailable(error)),
        }
    }
}
