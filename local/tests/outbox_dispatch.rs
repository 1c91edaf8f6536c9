//! The outbox dispatcher with starts that keep failing: it backs off per entry, lets the
//! entries behind a failing one through, and does not spin.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use orderflow::outbox::dispatch_outbox;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, PendingStart, StoreError, WorkflowOutbox, WorkflowStarter};
use std::sync::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn order(n: usize) -> OrderId {
    OrderId::parse(&format!("ord_01JD4S5Z8X3Q9V7W2N6M{n:06}")).unwrap()
}

/// An outbox in memory: entries by sequence number, and whether each was marked started.
#[derive(Debug, Default)]
struct MemoryOutbox {
    entries: Mutex<BTreeMap<i64, (OrderId, bool)>>,
}

impl MemoryOutbox {
    fn with_orders(orders: impl IntoIterator<Item = OrderId>) -> Self {
        let entries = orders.into_iter().zip(1..).map(|(order, seq)| (seq, (order, false))).collect();
        Self { entries: Mutex::new(entries) }
    }
}

#[async_trait]
impl WorkflowOutbox for MemoryOutbox {
    async fn pending_starts(&self, limit: usize) -> Result<Vec<PendingStart>, StoreError> {
        Ok(self
            .entries
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, started))| !started)
            .take(limit)
            .map(|(seq, (order, _))| PendingStart { entry: *seq, order: order.clone() })
            .collect())
    }

    async fn mark_started(&self, entries: &[i64]) -> Result<(), StoreError> {
        let mut all = self.entries.lock().unwrap();
        for entry in entries {
            if let Some((_, started)) = all.get_mut(entry) {
                *started = true;
            }
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

fn run(outbox: Arc<MemoryOutbox>, starter: Arc<Starter>, wake: Arc<Notify>) -> Running {
    let stop = CancellationToken::new();
    let task = tokio::spawn(dispatch_outbox(outbox, starter, wake, stop.clone()));
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
async fn an_order_whose_start_keeps_failing_is_not_retried_on_every_wake_up() {
    let poisoned = order(0);
    let outbox = Arc::new(MemoryOutbox::with_orders((0..10).map(order)));
    let starter = Arc::new(Starter { failing: HashSet::from([poisoned.clone()]), ..Starter::default() });
    let wake = Arc::new(Notify::new());
    let dispatcher = run(Arc::clone(&outbox), Arc::clone(&starter), Arc::clone(&wake));

    until("the other orders start", || (1..10).all(|n| starter.started(&order(n)))).await;
    // A busy shop: an order placed (and the dispatcher woken) every millisecond for a while.
    for _ in 0..1000 {
        wake.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    dispatcher.stop.cancel();
    dispatcher.task.await.unwrap();

    // With backoff from 100 ms doubling, a second or so leaves room for a handful of tries;
    // retrying on each wake-up makes hundreds.
    let attempts = starter.attempts(&poisoned);
    assert!((1..=10).contains(&attempts), "the failing order was tried {attempts} times");
    assert!((1..10).all(|n| starter.attempts(&order(n)) == 1), "{:?}", starter.attempts.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_behind_more_failing_starts_than_a_batch_still_start() {
    // More failing entries at the head of the outbox than one round takes.
    let failing: HashSet<OrderId> = (0..600).map(order).collect();
    let outbox = Arc::new(MemoryOutbox::with_orders((0..605).map(order)));
    let starter = Arc::new(Starter { failing, ..Starter::default() });
    let dispatcher = run(Arc::clone(&outbox), Arc::clone(&starter), Arc::new(Notify::new()));

    until("the orders behind the failing ones start", || (600..605).all(|n| starter.started(&order(n)))).await;
    dispatcher.stop.cancel();
    dispatcher.task.await.unwrap();

    let most = (0..600).map(|n| starter.attempts(&order(n))).max().unwrap();
    assert!(most <= 10, "a failing order was tried {most} times");
    let pending = outbox.pending_starts(usize::MAX).await.unwrap();
    assert_eq!(pending.len(), 600, "only the failing orders are still pending");
}
