//! The outbox sweeper with starts that keep failing: it backs off per order, lets the orders
//! behind a failing one through, and does not spin.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use orderflow::outbox::sweep_outbox;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, StoreError, WorkflowOutbox, WorkflowStarter};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

fn order(n: usize) -> OrderId {
    OrderId::parse(&format!("ord_01JD4S5Z8X3Q9V7W2N6M{n:06}")).unwrap()
}

/// An outbox in memory: orders oldest first, and whether each was marked started.
#[derive(Debug, Default)]
struct MemoryOutbox {
    entries: Mutex<Vec<(OrderId, bool)>>,
}

impl MemoryOutbox {
    fn with_orders(orders: impl IntoIterator<Item = OrderId>) -> Self {
        Self { entries: Mutex::new(orders.into_iter().map(|order| (order, false)).collect()) }
    }
}

#[async_trait]
impl WorkflowOutbox for MemoryOutbox {
    async fn pending_starts(&self, limit: usize) -> Result<Vec<OrderId>, StoreError> {
        let entries = self.entries.lock().unwrap();
        Ok(entries.iter().filter(|(_, started)| !started).take(limit).map(|(order, _)| order.clone()).collect())
    }

    async fn mark_started(&self, orders: &[OrderId]) -> Result<(), StoreError> {
        for (order, started) in self.entries.lock().unwrap().iter_mut() {
            *started |= orders.contains(order);
        }
        Ok(())
    }
}

/// Starts every order but the failing ones, and counts every attempt per order.
#[derive(Debug, Default)]
struct Starter {
    failing: HashSet<OrderId>,
    attempts: Mutex<BTreeMap<OrderId, usize>>,
}

impl Starter {
    fn attempts(&self, order: &OrderId) -> usize {
        self.attempts.lock().unwrap().get(order).copied().unwrap_or(0)
    }

    fn started(&self, order: &OrderId) -> bool {
        !self.failing.contains(order) && self.attempts(order) > 0
    }
}

#[async_trait]
impl WorkflowStarter for Starter {
    async fn start(&self, order: &OrderId) -> Result<(), BoxError> {
        *self.attempts.lock().unwrap().entry(order.clone()).or_default() += 1;
        if self.failing.contains(order) {
            return Err("the workflow service refused the start".into());
        }
        Ok(())
    }
}

struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn run(outbox: Arc<MemoryOutbox>, starter: Arc<Starter>) -> Running {
    let stop = CancellationToken::new();
    let task = tokio::spawn(sweep_outbox(outbox, starter, stop.clone()));
    Running { stop, task }
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_start_keeps_failing_backs_off_and_the_others_start_once() {
    let poisoned = order(0);
    let outbox = Arc::new(MemoryOutbox::with_orders((0..10).map(order)));
    let starter = Arc::new(Starter { failing: HashSet::from([poisoned.clone()]), ..Starter::default() });
    let sweeper = run(Arc::clone(&outbox), Arc::clone(&starter));

    until("the other orders start", || (1..10).all(|n| starter.started(&order(n)))).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    sweeper.stop.cancel();
    sweeper.task.await.unwrap();

    // With backoff from 100 ms doubling, a second or so leaves room for a handful of tries; a
    // sweeper that spun on the failing order would make thousands.
    let attempts = starter.attempts(&poisoned);
    assert!((2..=10).contains(&attempts), "the failing order was tried {attempts} times");
    assert!((1..10).all(|n| starter.attempts(&order(n)) == 1), "{:?}", starter.attempts.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_behind_more_failing_starts_than_a_batch_still_start() {
    // More failing entries at the head of the outbox than one round takes.
    let failing: HashSet<OrderId> = (0..600).map(order).collect();
    let outbox = Arc::new(MemoryOutbox::with_orders((0..605).map(order)));
    let starter = Arc::new(Starter { failing, ..Starter::default() });
    let sweeper = run(Arc::clone(&outbox), Arc::clone(&starter));

    until("the orders behind the failing ones start", || (600..605).all(|n| starter.started(&order(n)))).await;
    sweeper.stop.cancel();
    sweeper.task.await.unwrap();

    let most = (0..600).map(|n| starter.attempts(&order(n))).max().unwrap();
    assert!(most <= 10, "a failing order was tried {most} times");
    let pending = outbox.pending_starts(usize::MAX).await.unwrap();
    assert_eq!(pending.len(), 600, "only the failing orders are still pending");
}
