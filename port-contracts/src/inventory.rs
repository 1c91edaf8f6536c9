//! What every `Inventory` guarantees. Each function takes an inventory that stocks exactly
//! [`fixtures::catalog`](crate::fixtures::catalog) at its initial stock
//! ([`initial_stock`](crate::fixtures::initial_stock)), untouched by other tests.

use futures::future::join_all;
use orderflow_domain::ports::{Inventory, InventoryError, StockLevel};

use crate::fixtures::{GRINDER, KETTLE, MUG, UNKNOWN, initial_stock, lines, order_id, sku};

async fn level(inventory: &dyn Inventory, raw: &str) -> StockLevel {
    inventory.level(&sku(raw)).await.expect("reading a stock level").expect("a SKU the inventory keeps")
}

async fn levels(inventory: &dyn Inventory) -> Vec<(orderflow_domain::catalog::Sku, StockLevel)> {
    let mut levels = inventory.levels().await.expect("reading the stock levels");
    levels.sort_by(|a, b| a.0.cmp(&b.0));
    levels
}

pub async fn levels_show_every_sku_kept_and_none_other(inventory: &dyn Inventory) {
    assert_eq!(levels(inventory).await, initial_stock());
    for (kept, stock) in initial_stock() {
        assert_eq!(inventory.level(&kept).await.expect("reading a stock level"), Some(stock));
    }
    assert_eq!(inventory.level(&sku(UNKNOWN)).await.expect("reading a stock level"), None);
}

pub async fn reserving_holds_units_in_the_warehouse(inventory: &dyn Inventory) {
    let before = level(inventory, MUG).await;
    inventory.reserve(&order_id(), &lines(&[(MUG, 2)])).await.expect("reserving stock");
    let after = level(inventory, MUG).await;
    assert_eq!(after, StockLevel { on_hand: before.on_hand, reserved: before.reserved + 2 });
    assert_eq!(after.available(), before.available() - 2);
}

pub async fn reserving_is_all_or_nothing(inventory: &dyn Inventory) {
    let before = levels(inventory).await;
    let result = inventory.reserve(&order_id(), &lines(&[(MUG, 1), (KETTLE, 11), (GRINDER, 4)])).await;

    match result {
        Err(InventoryError::OutOfStock(mut short)) => {
            short.sort();
            assert_eq!(short, [sku(GRINDER), sku(KETTLE)], "every short SKU is listed, and only those");
        }
        other => panic!("an order beyond the stock was not refused: {other:?}"),
    }
    assert_eq!(levels(inventory).await, before, "nothing was reserved, not even the mug");
}

pub async fn reserving_a_sku_the_inventory_does_not_keep_is_refused(inventory: &dyn Inventory) {
    let before = levels(inventory).await;
    match inventory.reserve(&order_id(), &lines(&[(MUG, 1), (UNKNOWN, 1)])).await {
        Err(InventoryError::UnknownSku(unknown)) => assert_eq!(unknown, sku(UNKNOWN)),
        other => panic!("an unknown SKU was not refused: {other:?}"),
    }
    assert_eq!(levels(inventory).await, before, "nothing was reserved");
}

pub async fn reserving_again_for_the_same_order_is_a_no_op(inventory: &dyn Inventory) {
    let order = order_id();
    let on_hand = level(inventory, GRINDER).await.on_hand;
    let every_grinder = lines(&[(GRINDER, i64::from(on_hand))]);
    inventory.reserve(&order, &every_grinder).await.expect("reserving the whole stock");
    inventory.reserve(&order, &every_grinder).await.expect("reserving again succeeds, though none is left");
    assert_eq!(level(inventory, GRINDER).await, StockLevel { on_hand, reserved: on_hand }, "reserved once");
}

pub async fn release_gives_the_reserved_units_back(inventory: &dyn Inventory) {
    let order = order_id();
    let before = levels(inventory).await;
    inventory.reserve(&order, &lines(&[(MUG, 2), (KETTLE, 1)])).await.expect("reserving stock");
    inventory.release(&order).await.expect("releasing stock");
    assert_eq!(levels(inventory).await, before);
}

pub async fn release_after_release_is_a_no_op(inventory: &dyn Inventory) {
    let (order, other) = (order_id(), order_id());
    inventory.reserve(&order, &lines(&[(KETTLE, 2)])).await.expect("reserving stock");
    inventory.reserve(&other, &lines(&[(KETTLE, 3)])).await.expect("reserving stock");
    inventory.release(&order).await.expect("releasing stock");
    let released = levels(inventory).await;
    inventory.release(&order).await.expect("releasing again succeeds");
    assert_eq!(levels(inventory).await, released, "the other order's reservation is untouched");
}

pub async fn releasing_an_order_that_reserved_nothing_is_a_no_op(inventory: &dyn Inventory) {
    inventory.release(&order_id()).await.expect("releasing nothing succeeds");
    assert_eq!(levels(inventory).await, initial_stock());
}

pub async fn commit_takes_the_reserved_units_out_of_the_warehouse_once(inventory: &dyn Inventory) {
    let order = order_id();
    let before = level(inventory, KETTLE).await;
    inventory.reserve(&order, &lines(&[(KETTLE, 2)])).await.expect("reserving stock");
    inventory.commit(&order).await.expect("committing stock");
    let shipped = StockLevel { on_hand: before.on_hand - 2, reserved: before.reserved };
    assert_eq!(level(inventory, KETTLE).await, shipped);

    inventory.commit(&order).await.expect("committing again succeeds");
    assert_eq!(level(inventory, KETTLE).await, shipped, "committing again changes nothing");
}

pub async fn release_after_commit_is_a_no_op(inventory: &dyn Inventory) {
    let order = order_id();
    inventory.reserve(&order, &lines(&[(KETTLE, 2)])).await.expect("reserving stock");
    inventory.commit(&order).await.expect("committing stock");
    let shipped = levels(inventory).await;
    inventory.release(&order).await.expect("releasing a shipped order succeeds");
    assert_eq!(levels(inventory).await, shipped, "shipped units do not come back");
}

pub async fn stock_is_never_negative_under_concurrent_reservations(inventory: &dyn Inventory) {
    let on_hand = level(inventory, GRINDER).await.on_hand;
    let orders: Vec<_> = (0..10).map(|_| order_id()).collect();
    let grinder = lines(&[(GRINDER, 1)]);
    let results = join_all(orders.iter().map(|order| inventory.reserve(order, &grinder))).await;

    let reserved = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(reserved, usize::try_from(on_hand).expect("a small stock"), "exactly the stock was sold: {results:?}");
    assert!(
        results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, InventoryError::OutOfStock(_))),
        "the others were told it is out of stock: {results:?}"
    );
    assert_eq!(level(inventory, GRINDER).await, StockLevel { on_hand, reserved: on_hand });
}
