//! The one DynamoDB table: its schema, the keys of its items, and what every adapter on it
//! shares (reading attributes, telling a lost condition from a failure, retrying a transaction
//! that lost a race).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BoxError;

/// An item as the SDK reads and writes it.
pub type Item = HashMap<String, AttributeValue>;

/// The index of a customer's orders, newest first: `customer` and `placed` (the order id, a
/// ULID, so it sorts by time), on order items only.
pub const CUSTOMER_ORDERS: &str = "customer_orders";
/// The index of every order, newest first, for operators: `listing` (always `orders`) and
/// `placed`. One partition: fine for an operator's pages; a busy shop would shard it by day.
pub const ALL_ORDERS: &str = "all_orders";
/// The outbox's sparse index: `pending` exists only on entries whose workflow has not started,
/// so the sweeper reads only those, oldest first by `placed`.
pub const PENDING_STARTS: &str = "pending_starts";

/// The partition of everything about one order: the order, its outbox entry, its reservation
/// and its invoice number.
pub(crate) fn order_pk(order: &OrderId) -> String {
    format!("ORDER#{order}")
}

/// A table and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Table {
    pub(crate) client: Client,
    pub(crate) name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key of the item `pk`/`sk`.
    pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
        HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
    }

    /// Writes `item` unless an item with its key exists: `true` when written, `false` when one
    /// was already there.
    pub(crate) async fn put_if_absent(&self, item: Item) -> Result<bool, SdkError<PutItemError>> {
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The item at `pk`/`sk`, read strongly consistently.
    pub(crate) async fn get(&self, pk: impl Into<String>, sk: impl Into<String>) -> Result<Option<Item>, BoxError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(found.item)
    }
}

/// Creates the table with its indexes (on-demand billing) and waits until it is active. The
/// deployment creates it in production (the CDK stack); tests and emulators create it here, so
/// the schema the adapters rely on is written down once, beside them.
pub async fn create(client: &Client, name: &str) -> Result<(), BoxError> {
    let string = |attribute: &str| {
        AttributeDefinition::builder().attribute_name(attribute).attribute_type(ScalarAttributeType::S).build()
    };
    let key =
        |attribute: &str, key_type| KeySchemaElement::builder().attribute_name(attribute).key_type(key_type).build();
    let index = |index: &str, hash: &str, projection| -> Result<GlobalSecondaryIndex, BoxError> {
        Ok(GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(hash, KeyType::Hash)?)
            .key_schema(key("placed", KeyType::Range)?)
            .projection(Projection::builder().projection_type(projection).build())
            .build()?)
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            ["pk", "sk", "customer", "listing", "pending", "placed"]
                .into_iter()
                .map(string)
                .collect::<Result<_, _>>()?,
        ))
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(CUSTOMER_ORDERS, "customer", ProjectionType::All)?)
        .global_secondary_indexes(index(ALL_ORDERS, "listing", ProjectionType::All)?)
        .global_secondary_indexes(index(PENDING_STARTS, "pending", ProjectionType::KeysOnly)?)
        .send()
        .await?;
    for _ in 0..600 {
        let described = client.describe_table().table_name(name).send().await?;
        if described.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the table {name} did not become active within a minute").into())
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item that does not hold what its adapter wrote.
#[derive(Debug, thiserror::Error)]
#[error("the item {pk}/{sk} has no valid {attribute}")]
pub struct MalformedItem {
    pk: String,
    sk: String,
    attribute: &'static str,
}

fn malformed(item: &Item, attribute: &'static str) -> MalformedItem {
    let key = |name| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    MalformedItem { pk: key("pk"), sk: key("sk"), attribute }
}

/// The string attribute `attribute` of `item`.
pub(crate) fn string<'a>(item: &'a Item, attribute: &'static str) -> Result<&'a str, MalformedItem> {
    item.get(attribute).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| malformed(item, attribute))
}

/// The number attribute `attribute` of `item`.
pub(crate) fn number<T: std::str::FromStr>(item: &Item, attribute: &'static str) -> Result<T, MalformedItem> {
    item.get(attribute)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| malformed(item, attribute))
}

/// Whether a write failed only because its condition did not hold.
pub(crate) fn condition_failed<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(aws_sdk_dynamodb::error::ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// Whether a transaction was cancelled (a condition did not hold, or it raced another one), as
/// opposed to failing.
pub(crate) fn cancelled<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(error.as_service_error(), Some(TransactWriteItemsError::TransactionCanceledException(_)))
}

/// How many times a transaction that lost a race is tried again, after reading what won.
pub(crate) const TRANSACTION_ATTEMPTS: u32 = 30;

/// A short random pause before trying a transaction again, so racing writers spread out.
pub(crate) async fn back_off(attempt: u32) {
    let ceiling = 5 * u64::from(attempt.min(10) + 1);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ceiling))).await;
}
