//! A store whose commits fail on demand, for tests (feature `testing`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Commit, Created, ExecutionRecord, ExecutionStore, MemoryStore, StoreError, StoreFuture};
use crate::history::HistoryEvent;

/// The in-memory store, with commits that fail on demand as a full or failing disk would:
/// nothing of a failed commit is kept, and the error is the one SQLite gives for an I/O
/// failure (transient, so the engine retries it). Creating, loading and listing never fail.
///
/// For tests of what the engine, and what runs it, does while its store fails.
#[derive(Debug, Default)]
pub struct FlakyStore {
    inner: MemoryStore,
    /// Commits to fail from now on, one each.
    fail_next: AtomicUsize,
    /// While set, every commit fails.
    down: AtomicBool,
    /// Commits refused so far.
    refused: AtomicUsize,
}

impl FlakyStore {
    /// A store that works until told otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails the next `commits` commits, then works again.
    pub fn fail_next(&self, commits: usize) {
        self.fail_next.store(commits, Ordering::Release);
    }

    /// Fails every commit while `down` is set.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Release);
    }

    /// How many commits it has failed so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Acquire)
    }

    fn refuse(&self) -> bool {
        let once = self.fail_next.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
        let refuse = once || self.down.load(Ordering::Acquire);
        if refuse {
            self.refused.fetch_add(1, Ordering::AcqRel);
        }
        refuse
    }
}

fn disk_failure() -> StoreError {
    let io_error = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR);
    StoreError::CommitFailed(Arc::new(rusqlite::Error::SqliteFailure(io_error, Some("disk I/O error".to_owned()))))
}

#[async_trait]
impl ExecutionStore for FlakyStore {
    async fn create(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) -> Result<Created, StoreError> {
        self.inner.create(record, events).await
    }

    fn commit(&self, name: &str, commit: Commit) -> StoreFuture<()> {
        if self.refuse() {
            return StoreFuture::ready(Err(disk_failure()));
        }
        self.inner.commit(name, commit)
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner.load(name).await
    }

    async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.inner.history(name).await
    }

    async fn running(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.running().await
    }
}
