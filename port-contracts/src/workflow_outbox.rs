//! What every `WorkflowOutbox` guarantees: an entry "start this order's workflow" for each
//! order the `OrderStore` placed, until it is marked started. Each function takes the one adapter
//! through its two ports.

use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{OrderStore, WorkflowOutbox};

use crate::fixtures::{customer, idempotency_key, order_request, pending_order, placed_under};
use crate::order_store::{place, place_new};

/// The outbox entries of `orders`, in the order the outbox gives them. An outbox shared with
/// other tests holds theirs too; only the orders a test placed are its business.
async fn pending_of(outbox: &dyn WorkflowOutbox, orders: &[Order]) -> Vec<OrderId> {
    let pending = outbox.pending_starts(1000).await.expect("reading the outbox");
    pending.into_iter().filter(|pending| orders.iter().any(|o| o.id == *pending)).collect()
}

pub async fn every_placed_order_waits_to_start_oldest_first_until_marked(
    store: &dyn OrderStore,
    outbox: &dyn WorkflowOutbox,
) {
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(place(store, pending_order()).await);
    }
    let pending = pending_of(outbox, &placed).await;
    assert_eq!(pending, placed.iter().map(|o| o.id.clone()).collect::<Vec<_>>());

    outbox.mark_started(&pending[..1]).await.expect("marking an order started");
    assert_eq!(pending_of(outbox, &placed).await, pending[1..]);
}

pub async fn a_replayed_placement_queues_no_second_start(store: &dyn OrderStore, outbox: &dyn WorkflowOutbox) {
    let (key, request) = (idempotency_key(), order_request(customer(), "pm_card_visa"));
    let first = place_new(store, placed_under(&key, &request)).await;
    store.place(placed_under(&key, &request)).await.expect("placing a retry");
    assert_eq!(pending_of(outbox, std::slice::from_ref(&first)).await.len(), 1);
}

pub async fn pending_starts_returns_at_most_the_limit(store: &dyn OrderStore, outbox: &dyn WorkflowOutbox) {
    for _ in 0..3 {
        place(store, pending_order()).await;
    }
    assert_eq!(outbox.pending_starts(2).await.expect("reading the outbox").len(), 2);
    assert!(outbox.pending_starts(0).await.expect("reading the outbox").is_empty());
}

pub async fn marking_an_order_twice_or_none_at_all_is_harmless(store: &dyn OrderStore, outbox: &dyn WorkflowOutbox) {
    let placed = place(store, pending_order()).await;
    let order = placed.id.clone();
    outbox.mark_started(std::slice::from_ref(&order)).await.expect("marking an order started");
    outbox.mark_started(std::slice::from_ref(&order)).await.expect("marking it again");
    outbox.mark_started(&[]).await.expect("marking nothing");
    assert!(pending_of(outbox, &[placed]).await.is_empty());
}
