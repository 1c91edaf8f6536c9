//! The outbox sweeper as a scheduled function: each invocation runs rounds of the API crate's
//! [`Sweeper`] until none finds a full batch. The sweeper (and the backoff of each order whose
//! start failed) lives as long as the warm function instance; a cold start tries everything
//! again, which is harmless since starting is idempotent.

use std::sync::Arc;

use orderflow_api::outbox::{Round, Sweeper};
use orderflow_domain::ports::{WorkflowOutbox, WorkflowStarter};
use serde::Serialize;
use tokio::sync::Mutex;

/// What one scheduled sweep did, returned as the invocation's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    /// Rounds run.
    pub rounds: u32,
    /// Whether the outbox itself failed (read or marked); the next schedule tries again.
    pub outbox_failed: bool,
}

/// The sweeper of one function instance.
#[derive(Debug, Clone)]
pub struct SweepFunction {
    sweeper: Arc<Mutex<Sweeper>>,
}

impl SweepFunction {
    pub fn new(outbox: Arc<dyn WorkflowOutbox>, starter: Arc<dyn WorkflowStarter>) -> Self {
        Self { sweeper: Arc::new(Mutex::new(Sweeper::new(outbox, starter))) }
    }

    /// One scheduled sweep.
    pub async fn sweep(&self) -> Swept {
        let mut sweeper = self.sweeper.lock().await;
        let mut rounds = 0;
        loop {
            rounds += 1;
            match sweeper.sweep_once().await {
                Round::MoreReady => {}
                Round::Idle { .. } => return Swept { rounds, outbox_failed: false },
                Round::OutboxFailed { .. } => return Swept { rounds, outbox_failed: true },
            }
        }
    }
}
