//! The outbox sweeper's loop on the local server: rounds of [`Sweeper::sweep_once`] (the API
//! crate's, shared with the Lambda sweeper), paced, until the server stops.

use std::sync::Arc;
use std::time::Duration;

use orderflow_api::outbox::{Round, Sweeper};
use orderflow_domain::ports::{WorkflowOutbox, WorkflowStarter};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the outbox is read when nothing is backing off. Only orders whose start failed (or
/// whose process died before starting them) wait this long: the API starts the others at once.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Starts the workflow of every order in the outbox, until `stop` is cancelled. Starting is
/// idempotent (executions are named after their order), so an order started but not yet marked,
/// or being started by the API at the same moment, is harmlessly started again.
///
/// An order whose start fails is tried again after a capped, jittered exponential backoff of
/// its own, and the orders behind it go ahead meanwhile; a failing outbox is read again after
/// the same kind of backoff. So a start that keeps failing costs a try now and then, not a
/// spinning loop, and never holds up the orders placed after it.
pub async fn sweep_outbox(outbox: Arc<dyn WorkflowOutbox>, starter: Arc<dyn WorkflowStarter>, stop: CancellationToken) {
    let mut sweeper = Sweeper::new(outbox, starter);
    loop {
        let pause = match sweeper.sweep_once().await {
            Round::MoreReady => continue,
            Round::Idle { next_due } => {
                next_due.map_or(SWEEP_EVERY, |due| due.saturating_duration_since(Instant::now()).min(SWEEP_EVERY))
            }
            Round::OutboxFailed { retry_in } => retry_in,
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
