//! One round of the outbox sweeper: starts the workflow of every order the store still records as
//! waiting for one. The API starts each order's workflow as it places it; the sweeper catches the
//! orders whose start failed, or never happened because the process died between the two.
//!
//! The local server runs rounds in a loop (`orderflow::outbox::sweep_outbox`); on AWS a scheduled
//! Lambda runs rounds until none is full, keeping the backoffs while it stays warm.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{WorkflowOutbox, WorkflowStarter};
use tokio::time::Instant;

/// How many orders are started per round.
const SWEEP_BATCH: usize = 256;

/// The first wait before an order whose start failed is tried again; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two tries of one order, or two reads of a failing outbox.
const RETRY_CAP: Duration = Duration::from_secs(60);
/// The most failing entries remembered (and read past) at once: rows beyond are seen again
/// when the earlier ones are started or their backoff ends. Bounds the sweeper's memory and
/// the size of each read.
const MAX_BACKING_OFF: usize = 4096;

/// An order whose start failed, and when to try it again.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    due: Instant,
}

/// The sweeper's state between rounds.
#[derive(Debug)]
pub struct Sweeper {
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    /// Orders whose start failed: skipped until due.
    backing_off: HashMap<OrderId, Backoff>,
    /// Reads or marks of the outbox that failed in a row.
    outbox_failures: u32,
}

/// What a round found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// A full batch was ready: go on at once.
    MoreReady,
    /// Everything ready was tried; the earliest order backing off is due then.
    Idle { next_due: Option<Instant> },
    /// The outbox could not be read or marked: try again after that long.
    OutboxFailed { retry_in: Duration },
}

/// A wait drawn uniformly from `[ceiling / 2, ceiling]`, `ceiling` doubling per failure from
/// `RETRY_FIRST` up to `RETRY_CAP`: jitter keeps many failing entries from retrying in step,
/// the floor keeps one from retrying at once.
fn backoff(failures: u32) -> Duration {
    let ceiling = RETRY_FIRST.saturating_mul(1_u32 << failures.saturating_sub(1).min(16)).min(RETRY_CAP);
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

impl Sweeper {
    /// A sweeper that has tried nothing yet.
    pub fn new(outbox: Arc<dyn WorkflowOutbox>, starter: Arc<dyn WorkflowStarter>) -> Self {
        Self { outbox, starter, backing_off: HashMap::new(), outbox_failures: 0 }
    }

    /// One round: starts up to a batch of the pending workflows that are not backing off,
    /// concurrently, and marks those started.
    pub async fn sweep_once(&mut self) -> Round {
        let skipped = self.backing_off.len().min(MAX_BACKING_OFF);
        let limit = SWEEP_BATCH + skipped;
        let pending = match self.outbox.pending_starts(limit).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot read the workflow outbox; will retry");
                return self.outbox_failed();
            }
        };
        if pending.len() < limit {
            // Everything pending was read: forget orders that are no longer pending.
            let still_pending: std::collections::HashSet<&OrderId> = pending.iter().collect();
            self.backing_off.retain(|order, _| still_pending.contains(order));
        }
        let now = Instant::now();
        let ready: Vec<&OrderId> = pending
            .iter()
            .filter(|order| self.backing_off.get(*order).is_none_or(|b| b.due <= now))
            .take(SWEEP_BATCH)
            .collect();
        let starter = self.starter.as_ref();
        let starts = ready.iter().map(|order| async move { (*order, starter.start(order).await) });
        let mut started = Vec::with_capacity(ready.len());
        for (order, result) in futures::future::join_all(starts).await {
            match result {
                Ok(()) => {
                    self.backing_off.remove(order);
                    started.push(order.clone());
                }
                Err(error) => {
                    let failures = self.backing_off.get(order).map_or(0, |b| b.failures) + 1;
                    let wait = backoff(failures);
                    tracing::warn!(order_id = %order, failures, retry_in_ms = wait.as_millis(), error = %error, "cannot start the order's workflow; will retry");
                    self.backing_off.insert(order.clone(), Backoff { failures, due: Instant::now() + wait });
                }
            }
        }
        if let Err(error) = self.outbox.mark_started(&started).await {
            tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot mark workflows started; will start them again");
            return self.outbox_failed();
        }
        self.outbox_failures = 0;
        if ready.len() == SWEEP_BATCH {
            return Round::MoreReady;
        }
        Round::Idle { next_due: self.backing_off.values().map(|b| b.due).min() }
    }

    fn outbox_failed(&mut self) -> Round {
        self.outbox_failures = self.outbox_failures.saturating_add(1);
        Round::OutboxFailed { retry_in: backoff(self.outbox_failures) }
    }
}
