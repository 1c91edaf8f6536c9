//! What every `OrderStore` guarantees.

use futures::future::join_all;
use orderflow_domain::order::{Order, OrderStatus};
use orderflow_domain::ports::{NewOrder, OrderPage, OrderQuery, OrderStore, Placement, StoreError};
use time::OffsetDateTime;

use crate::fixtures::{
    customer, idempotency_key, new_order, order_id, order_request, pending_order, pending_order_of, placed_under,
};

/// Places `order` without a key, which must make it.
pub(crate) async fn place(store: &dyn OrderStore, order: Order) -> Order {
    match store.place(new_order(order)).await.expect("placing an order") {
        Placement::Created(order) => order,
        Placement::Replayed(order) => panic!("a new order without a key was replayed as {}", order.id),
    }
}

/// Places `new` under a key never used, which must make it.
pub(crate) async fn place_new(store: &dyn OrderStore, new: NewOrder) -> Order {
    match store.place(new).await.expect("placing an order") {
        Placement::Created(order) => order,
        Placement::Replayed(order) => panic!("a new key was replayed as {}", order.id),
    }
}

async fn get(store: &dyn OrderStore, order: &Order) -> Order {
    store.get(&order.id).await.expect("reading an order").expect("the placed order is stored")
}

pub async fn a_placed_order_is_stored_as_it_was_given(store: &dyn OrderStore) {
    let order = pending_order();
    let placed = place(store, order.clone()).await;
    assert_eq!(placed, order, "place returns the order it recorded");
    assert_eq!(get(store, &order).await, order);
}

pub async fn getting_an_order_never_placed_is_none(store: &dyn OrderStore) {
    assert_eq!(store.get(&order_id()).await.expect("reading an order"), None);
}

pub async fn placing_twice_with_the_same_key_returns_the_first_order(store: &dyn OrderStore) {
    let (key, request) = (idempotency_key(), order_request(customer(), "pm_card_visa"));
    let first = placed_under(&key, &request);
    let retry = placed_under(&key, &request);
    assert_ne!(first.order.id, retry.order.id, "a retry arrives as a new order with a new id");
    let first_order = first.order.clone();
    let retry_id = retry.order.id.clone();

    assert!(matches!(store.place(first).await, Ok(Placement::Created(_))));
    match store.place(retry).await.expect("placing a retry") {
        Placement::Replayed(order) => assert_eq!(order, first_order, "the retry gets the first order"),
        Placement::Created(order) => panic!("the retry made a second order {}", order.id),
    }
    assert_eq!(store.get(&retry_id).await.expect("reading an order"), None, "the retry's order was not stored");
}

pub async fn reusing_a_key_for_another_request_is_refused(store: &dyn OrderStore) {
    let (key, someone) = (idempotency_key(), customer());
    let first = placed_under(&key, &order_request(someone.clone(), "pm_card_visa"));
    let first_id = first.order.id.clone();
    let other = placed_under(&key, &order_request(someone, "pm_card_mastercard"));
    let other_id = other.order.id.clone();
    store.place(first).await.expect("placing the first order");

    match store.place(other).await {
        Err(StoreError::IdempotencyKeyReused { existing }) => assert_eq!(existing, first_id),
        other => panic!("a key reused for another request was not refused: {other:?}"),
    }
    assert_eq!(store.get(&other_id).await.expect("reading an order"), None);
}

pub async fn idempotency_keys_are_scoped_to_the_customer(store: &dyn OrderStore) {
    let key = idempotency_key();
    let ada = placed_under(&key, &order_request(customer(), "pm_card_visa"));
    let grace = placed_under(&key, &order_request(customer(), "pm_card_visa"));
    assert!(matches!(store.place(ada).await, Ok(Placement::Created(_))));
    assert!(
        matches!(store.place(grace).await, Ok(Placement::Created(_))),
        "another customer's key is not this customer's"
    );
}

pub async fn the_order_placed_under_a_key_is_found_as_it_is_now(store: &dyn OrderStore) {
    let (key, request) = (idempotency_key(), order_request(customer(), "pm_card_visa"));
    assert!(store.placed_under(&request.customer.id, &key).await.expect("looking a key up").is_none());
    let new = placed_under(&key, &request);
    let fingerprint = new.idempotency.clone().expect("placed under a key").1;
    let placed = place_new(store, new).await;
    let mut changed = placed.clone();
    changed.confirm(OffsetDateTime::now_utc()).expect("a pending order can be confirmed");
    let saved = store.save(&changed).await.expect("saving the order");

    let found = store.placed_under(&request.customer.id, &key).await.expect("looking a key up").expect("the key");
    assert_eq!(found.fingerprint, fingerprint);
    assert_eq!(found.order, saved, "the order as it is now, not as it was placed");
    let stranger = customer();
    assert!(store.placed_under(&stranger.id, &key).await.expect("looking a key up").is_none());
}

pub async fn concurrent_first_placements_under_one_key_make_one_order(store: &dyn OrderStore) {
    let (key, request) = (idempotency_key(), order_request(customer(), "pm_card_visa"));
    let placements = join_all((0..10).map(|_| store.place(placed_under(&key, &request)))).await;

    let mut created = Vec::new();
    let mut replayed = Vec::new();
    for placement in placements {
        match placement.expect("every racing placement is answered") {
            Placement::Created(order) => created.push(order),
            Placement::Replayed(order) => replayed.push(order),
        }
    }
    assert_eq!(created.len(), 1, "one of the racing requests made the order");
    assert!(replayed.iter().all(|order| order.id == created[0].id), "the others got that order");
    let query = OrderQuery { customer: Some(request.customer.id.clone()), limit: 100, ..OrderQuery::default() };
    assert_eq!(store.list(&query).await.expect("listing orders").orders.len(), 1);
}

pub async fn saving_returns_the_order_with_its_next_version(store: &dyn OrderStore) {
    let placed = place(store, pending_order()).await;
    let mut confirmed = placed.clone();
    confirmed.confirm(OffsetDateTime::now_utc()).expect("a pending order can be confirmed");

    let saved = store.save(&confirmed).await.expect("saving the order");
    assert_eq!(saved.version, placed.version + 1);
    assert_eq!(saved.status(), OrderStatus::Confirmed);
    assert_eq!(get(store, &placed).await, saved);
    let again = store.save(&saved).await.expect("saving the saved order");
    assert_eq!(again.version, placed.version + 2);
}

pub async fn saving_a_stale_version_conflicts(store: &dyn OrderStore) {
    let placed = place(store, pending_order()).await;
    let mut first = placed.clone();
    first.confirm(OffsetDateTime::now_utc()).expect("a pending order can be confirmed");
    let saved = store.save(&first).await.expect("saving the first change");
    let mut stale = placed.clone();
    stale.note(OffsetDateTime::now_utc(), "a change made on an old read");

    match store.save(&stale).await {
        Err(StoreError::VersionConflict { expected }) => assert_eq!(expected, placed.version),
        other => panic!("a stale write was not refused: {other:?}"),
    }
    assert_eq!(get(store, &placed).await, saved, "the refused write changed nothing");
}

pub async fn concurrent_saves_of_one_version_let_one_win(store: &dyn OrderStore) {
    let placed = place(store, pending_order()).await;
    let writes: Vec<Order> = (0..5)
        .map(|i| {
            let mut order = placed.clone();
            order.note(OffsetDateTime::now_utc(), format!("writer {i}"));
            order
        })
        .collect();
    let saves = join_all(writes.iter().map(|order| store.save(order))).await;

    let won: Vec<&Order> = saves.iter().filter_map(|save| save.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "one writer wins: {saves:?}");
    assert!(
        saves.iter().filter_map(|save| save.as_ref().err()).all(|e| matches!(e, StoreError::VersionConflict { .. })),
        "the others conflict: {saves:?}"
    );
    assert_eq!(get(store, &placed).await, *won[0]);
}

pub async fn saving_an_order_never_placed_is_not_found(store: &dyn OrderStore) {
    assert!(matches!(store.save(&pending_order()).await, Err(StoreError::NotFound)));
}

pub async fn list_pages_newest_first(store: &dyn OrderStore) {
    let someone = customer();
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(place(store, pending_order_of(&someone)).await.id);
    }
    place(store, pending_order()).await; // Someone else's.
    placed.reverse();

    let mut query = OrderQuery { customer: Some(someone.id.clone()), limit: 2, ..OrderQuery::default() };
    let mut pages = Vec::new();
    loop {
        let page = store.list(&query).await.expect("listing orders");
        assert!(page.orders.len() <= 2, "a page holds at most the limit");
        pages.push(page.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>());
        match page.next {
            Some(next) => query.before = Some(next),
            None => break,
        }
        assert!(pages.len() <= 5, "the pages never end: {pages:?}");
    }
    assert_eq!(pages.concat(), placed, "every order of the customer, newest first, once");
    assert_eq!(pages.len(), 3, "two full pages and the last: {pages:?}");
}

pub async fn list_filters_by_customer_and_status(store: &dyn OrderStore) {
    let someone = customer();
    let pending = place(store, pending_order_of(&someone)).await;
    let mut confirmed = place(store, pending_order_of(&someone)).await;
    confirmed.confirm(OffsetDateTime::now_utc()).expect("a pending order can be confirmed");
    let confirmed = store.save(&confirmed).await.expect("saving the order");
    place(store, pending_order()).await; // Someone else's.

    let ids = |status| OrderQuery { customer: Some(someone.id.clone()), status, limit: 100, ..OrderQuery::default() };
    let listed = |page: OrderPage| page.orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(listed(store.list(&ids(None)).await.expect("listing")), [confirmed.id.clone(), pending.id.clone()]);
    assert_eq!(listed(store.list(&ids(Some(OrderStatus::Confirmed))).await.expect("listing")), [confirmed.id]);
    assert_eq!(listed(store.list(&ids(Some(OrderStatus::Pending))).await.expect("listing")), [pending.id]);
    assert!(listed(store.list(&ids(Some(OrderStatus::Shipped))).await.expect("listing")).is_empty());
}

pub async fn list_without_a_customer_shows_every_customers_orders_newest_first(store: &dyn OrderStore) {
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(place(store, pending_order()).await.id);
    }
    placed.reverse();

    let everyone = OrderQuery { limit: 100, ..OrderQuery::default() };
    let listed = store.list(&everyone).await.expect("listing orders").orders;
    // A store shared with other tests lists theirs too; only these three are this test's business.
    let ours: Vec<_> = listed.into_iter().map(|o| o.id).filter(|id| placed.contains(id)).collect();
    assert_eq!(ours, placed, "every customer's orders, newest first");
}
