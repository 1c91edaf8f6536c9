//! The outbox dispatcher: starts the workflow of every order the store recorded as waiting for one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use orderflow_domain::ports::{PendingStart, WorkflowOutbox, WorkflowStarter};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How many outbox entries are started per round.
const DISPATCH_BATCH: usize = 256;

/// The first wait before an entry whose start failed is tried again; it doubles per failure.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two tries of one entry, or two reads of a failing outbox.
const RETRY_CAP: Duration = Duration::from_secs(60);
/// The most failing entries remembered (and read past) at once: rows beyond are seen again
/// when the earlier ones are started or their backoff ends. Bounds the dispatcher's memory and
/// the size of each read.
const MAX_BACKING_OFF: usize = 4096;
/// The longest the dispatcher sleeps without a wake-up: a wake-up can be missed across a
/// failure, never an order.
const SAFETY_NET: Duration = Duration::from_secs(1);

/// Starts the workflow of every order in the outbox, as orders are placed and after a restart,
/// until `stop` is cancelled. Starting is idempotent (executions are named after their order),
/// so an entry started but not yet marked is harmlessly started again.
///
/// An entry whose start fails is tried again after a capped, jittered exponential backoff of
/// its own, and the entries behind it go ahead meanwhile; a failing outbox is read again after
/// the same kind of backoff. So a start that keeps failing costs a try now and then, not a
/// spinning loop, and never holds up the orders placed after it.
pub async fn dispatch_outbox(
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut dispatcher = Dispatcher { outbox, starter, backing_off: HashMap::new(), outbox_failures: 0 };
    loop {
        let round = dispatcher.dispatch_once().await;
        let pause = match round {
            Round::MoreReady => continue,
            Round::Idle { next_due } => {
                next_due.map_or(SAFETY_NET, |due| due.saturating_duration_since(Instant::now()).min(SAFETY_NET))
            }
            Round::OutboxFailed { retry_in } => {
                // Wake-ups do not cut this short: every one would read the failing outbox again.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(retry_in) => {}
                }
                continue;
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// An outbox entry whose start failed, and when to try it again.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    due: Instant,
}

/// The dispatcher's state between rounds.
struct Dispatcher {
    outbox: Arc<dyn WorkflowOutbox>,
    starter: Arc<dyn WorkflowStarter>,
    /// Entries whose start failed, by outbox entry: skipped until due.
    backing_off: HashMap<i64, Backoff>,
    /// Reads or marks of the outbox that failed in a row.
    outbox_failures: u32,
}

/// What a round found.
enum Round {
    /// A full batch was ready: go on at once.
    MoreReady,
    /// Everything ready was tried; the earliest entry backing off is due then.
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

impl Dispatcher {
    /// One round: starts up to a batch of the pending workflows that are not backing off,
    /// concurrently, and marks those started.
    async fn dispatch_once(&mut self) -> Round {
        let skipped = self.backing_off.len().min(MAX_BACKING_OFF);
        let limit = DISPATCH_BATCH + skipped;
        let pending = match self.outbox.pending_starts(limit).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot read the workflow outbox; will retry");
                return self.outbox_failed();
            }
        };
        if pending.len() < limit {
            // Everything pending was read: forget entries that are no longer pending.
            let pending_entries: std::collections::HashSet<i64> = pending.iter().map(|p| p.entry).collect();
            self.backing_off.retain(|entry, _| pending_entries.contains(entry));
        }
        let now = Instant::now();
        let ready: Vec<&PendingStart> = pending
            .iter()
            .filter(|p| self.backing_off.get(&p.entry).is_none_or(|b| b.due <= now))
            .take(DISPATCH_BATCH)
            .collect();
        let starter = self.starter.as_ref();
        let starts = ready.iter().map(|entry| async move { (entry, starter.start(&entry.order).await) });
        let mut started = Vec::with_capacity(ready.len());
        for (entry, result) in futures::future::join_all(starts).await {
            match result {
                Ok(()) => {
                    self.backing_off.remove(&entry.entry);
                    started.push(entry.entry);
                }
                Err(error) => {
                    let failures = self.backing_off.get(&entry.entry).map_or(0, |b| b.failures) + 1;
                    let wait = backoff(failures);
                    tracing::warn!(order_id = %entry.order, failures, retry_in_ms = wait.as_millis(), error = %error, "cannot start the order's workflow; will retry");
                    self.backing_off.insert(entry.entry, Backoff { failures, due: Instant::now() + wait });
                }
            }
        }
        if let Err(error) = self.outbox.mark_started(&started).await {
            tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot mark workflows started; will start them again");
            return self.outbox_failed();
        }
        self.outbox_failures = 0;
        if ready.len() == DISPATCH_BATCH {
            return Round::MoreReady;
        }
        Round::Idle { next_due: self.backing_off.values().map(|b| b.due).min() }
    }

    fn outbox_failed(&mut self) -> Round {
        self.outbox_failures = self.outbox_failures.saturating_add(1);
        Round::OutboxFailed { retry_in: backoff(self.outbox_failures) }
    }
}
