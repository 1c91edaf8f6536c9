//! Durable executions: what the engine persists, and the [`ExecutionStore`] trait that keeps it.
//!
//! Every step of an execution ends with one [`ExecutionStore::commit`]: the history events of the
//! step and the new [`Cursor`] (or the final result) go in together, atomically, before the next
//! step starts. On restart, [`ExecutionStore::running`] lists what to resume, and each execution
//! carries on from its cursor.
//!
//! Two stores ship: [`MemoryStore`] (tests, benchmarks, throwaway runs) and [`SqliteStore`] (WAL,
//! group commit, `synchronous=FULL` by default). With the `testing` feature, `FlakyStore` fails
//! commits on demand, for tests of what happens while the store fails.

#[cfg(feature = "testing")]
mod flaky;
mod memory;
mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlite_group_commit::Answer;
use time::OffsetDateTime;

use crate::history::HistoryEvent;

#[cfg(feature = "testing")]
pub use flaky::FlakyStore;
pub use memory::MemoryStore;
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// The status of an execution, as Step Functions names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still going (or interrupted, waiting to be resumed).
    Running,
    /// Ended in a `Succeed` state or an `End` transition.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ran longer than the machine's `TimeoutSeconds`.
    TimedOut,
    /// Stopped by [`Engine::stop_execution`](crate::Engine::stop_execution).
    Aborted,
}

impl ExecutionStatus {
    /// The status as Step Functions spells it (`"RUNNING"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
        }
    }

    /// Parses [`ExecutionStatus::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Succeeded, Self::Failed, Self::TimedOut, Self::Aborted]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Where a running execution stands: enough to resume it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// The current state (its `...StateEntered` event is already recorded).
    pub state: Arc<str>,
    /// The state's raw input (shared with the history event that recorded it).
    pub input: Arc<Value>,
    /// When the state was entered (`$$.State.EnteredTime`).
    #[serde(with = "time::serde::rfc3339")]
    pub entered_at: OffsetDateTime,
    /// How many states this body entered before this one: with the state name, it tells
    /// apart two visits of the same state, and stays the same across retries and restarts.
    #[serde(default)]
    pub step: u64,
    /// Retries done so far, per retrier of the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<u32>,
    /// What the state is doing.
    pub phase: Phase,
}

/// What the current state is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// About to run (or run again, after a restart: tasks are at-least-once).
    Ready,
    /// Waiting to retry after an error, until the given time.
    Retrying {
        /// When the next attempt starts.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// A `Wait` state waiting until the given time.
    Waiting {
        /// When the wait ends.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
}

/// Everything persisted about one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    /// The execution's name, unique within a store.
    pub name: String,
    /// The name the state machine was registered under.
    pub machine: String,
    /// The execution input.
    pub input: Arc<Value>,
    /// The status.
    pub status: ExecutionStatus,
    /// The output, once succeeded.
    pub output: Option<Arc<Value>>,
    /// The error name, once failed, timed out or aborted.
    pub error: Option<String>,
    /// The error cause.
    pub cause: Option<String>,
    /// When the execution started.
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    /// When it stopped.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stop_date: Option<OffsetDateTime>,
    /// Where it stands, while running.
    pub cursor: Option<Cursor>,
    /// The id of the last recorded history event.
    pub last_event_id: u64,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The final status (not `Running`).
    pub status: ExecutionStatus,
    /// The output, when succeeded.
    pub output: Option<Arc<Value>>,
    /// The error name, otherwise.
    pub error: Option<String>,
    /// The error cause.
    pub cause: Option<String>,
    /// When it ended.
    pub stop_date: OffsetDateTime,
}

/// What a commit changes besides appending history events.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing (events of a `Map` or `Parallel` branch).
    None,
    /// The execution moved on.
    Cursor(Cursor),
    /// The execution ended.
    Finish(Finish),
}

/// One atomic write: history events and a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// Events to append, with their ids already assigned.
    pub events: Vec<HistoryEvent>,
    /// The change to the execution record.
    pub change: Change,
}

/// The outcome of [`ExecutionStore::create`].
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The execution was created.
    New,
    /// An execution with that name already existed; here it is, unchanged.
    Existing(Box<ExecutionRecord>),
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite database failed.
    #[error("the SQLite store failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document could not be (de)serialized.
    #[error("a stored document is not valid")]
    Json(#[from] serde_json::Error),
    /// A stored value is not what the engine wrote.
    #[error("the stored execution '{name}' is corrupt: {why}")]
    Corrupt {
        /// The execution.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The database was written by a newer version of the engine.
    #[error("{path} has schema version {found}; this engine knows version {known}")]
    UnsupportedSchema {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The version this engine writes.
        known: i64,
    },
    /// The execution does not exist.
    #[error("no execution is named '{0}'")]
    NotFound(String),
    /// The store's writer has stopped.
    #[error("the store is closed")]
    Closed,
    /// The store cannot take the write now (overloaded, offline); nothing of it happened and
    /// retrying later is safe.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Another write of the same transaction failed, so this one was rolled back with it;
    /// nothing of it happened and retrying is safe.
    #[error("rolled back with a failed write of the same transaction")]
    Aborted,
    /// The transaction holding a batch of writes did not commit; none of them happened.
    #[error("the transaction did not commit")]
    CommitFailed(#[source] Arc<rusqlite::Error>),
    /// A timestamp cannot be written as RFC 3339 (a year beyond 9999).
    #[error("a timestamp cannot be stored")]
    Timestamp(#[from] time::error::Format),
    /// The store's writer thread could not start.
    #[error("cannot start the store's writer thread")]
    Thread(#[source] std::io::Error),
    /// Opening the store failed.
    #[error("could not open the store at {path}")]
    Open {
        /// The database path.
        path: String,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Whether the same write may succeed if tried again: the write did not happen, and the
    /// cause is a condition that passes (a busy or full disk, an I/O error, an overloaded
    /// writer), not a refusal of the write itself (a constraint, a corrupt document).
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode;
        match self {
            Self::Unavailable(_) | Self::Aborted | Self::CommitFailed(_) => true,
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::DiskFull
                    | ErrorCode::CannotOpen
                    | ErrorCode::OutOfMemory
            ),
            _ => false,
        }
    }
}

/// The future of [`ExecutionStore::commit`], without a heap allocation for the usual cases.
#[must_use = "a commit happens only when its future is awaited"]
pub struct StoreFuture<T> {
    state: FutureState<T>,
}

enum FutureState<T> {
    Ready(Option<Result<T, StoreError>>),
    Written(Answer<Result<T, StoreError>, StoreError>),
    Boxed(Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>),
}

impl<T> std::fmt::Debug for StoreFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.state {
            FutureState::Ready(_) => "ready",
            FutureState::Written(_) => "written",
            FutureState::Boxed(_) => "boxed",
        };
        f.debug_struct("StoreFuture").field("kind", &kind).finish()
    }
}

impl<T> StoreFuture<T> {
    /// An outcome known already.
    pub fn ready(result: Result<T, StoreError>) -> Self {
        Self { state: FutureState::Ready(Some(result)) }
    }

    /// The answer of a write to a [`sqlite_group_commit::Database`]. The job answers with the
    /// operation's own outcome, so that a refusal that wrote nothing (`Ok(Err(..))`) does not
    /// roll back the job's batch-mates as a failed job (`Err(..)`) does.
    pub fn written(answer: Answer<Result<T, StoreError>, StoreError>) -> Self {
        Self { state: FutureState::Written(answer) }
    }

    /// Any other future.
    pub fn boxed(future: impl Future<Output = Result<T, StoreError>> + Send + 'static) -> Self {
        Self { state: FutureState::Boxed(Box::pin(future)) }
    }
}

impl<T> Future for StoreFuture<T> {
    type Output = Result<T, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            FutureState::Ready(result) => Poll::Ready(result.take().unwrap_or(Err(StoreError::Closed))),
            FutureState::Written(answer) => Pin::new(answer).poll(cx).map(|answer| answer.and_then(|outcome| outcome)),
            FutureState::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

// Every variant is `Unpin` (the boxed future is pinned on the heap).
impl<T> Unpin for StoreFuture<T> {}

/// Persists executions and their history.
#[async_trait]
pub trait ExecutionStore: Send + Sync + std::fmt::Debug {
    /// Creates an execution with its first events, unless one with that name exists: then
    /// returns it and changes nothing.
    async fn create(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) -> Result<Created, StoreError>;

    /// Appends events and applies a change atomically.
    ///
    /// This is the engine's hot path (one call per step), so it returns a [`StoreFuture`]
    /// rather than a boxed future: a store that writes synchronously answers
    /// [`StoreFuture::ready`], one with a writer thread answers [`StoreFuture::written`].
    fn commit(&self, name: &str, commit: Commit) -> StoreFuture<()>;

    /// The execution named `name`.
    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError>;

    /// The history of `name`, ordered by event id.
    async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, StoreError>;

    /// Every execution still running.
    async fn running(&self) -> Result<Vec<ExecutionRecord>, StoreError>;
}

/// Applies a change to a record (shared by the stores).
pub(crate) fn apply_change(record: &mut ExecutionRecord, change: Change) {
    match change {
        Change::None => {}
        Change::Cursor(cursor) => record.cursor = Some(cursor),
        Change::Finish(finish) => {
            record.status = finish.status;
            record.output = finish.output;
            record.error = finish.error;
            record.cause = finish.cause;
            record.stop_date = Some(finish.stop_date);
            record.cursor = None;
        }
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! Tests every store must pass.

    use serde_json::json;

    use super::*;
    use crate::clock::VIRTUAL_EPOCH;
    use crate::history::EventType;

    pub fn record(name: &str) -> ExecutionRecord {
        ExecutionRecord {
            name: name.into(),
            machine: "m".into(),
            input: Arc::new(json!({"order": 1})),
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            start_date: VIRTUAL_EPOCH,
            stop_date: None,
            cursor: Some(Cursor {
                state: Arc::from("A"),
                input: Arc::new(json!({"order": 1})),
                entered_at: VIRTUAL_EPOCH,
                step: 0,
                attempts: vec![],
                phase: Phase::Ready,
            }),
            last_event_id: 2,
        }
    }

    pub fn event(id: u64, event_type: EventType) -> HistoryEvent {
        let mut event = HistoryEvent::new(event_type, VIRTUAL_EPOCH);
        event.id = id;
        event
    }

    pub async fn creating_twice_returns_the_existing_execution(store: &dyn ExecutionStore) {
        let first = store.create(record("e1"), vec![event(1, EventType::ExecutionStarted)]).await.unwrap();
        assert_eq!(first, Created::New);
        let mut other = record("e1");
        other.input = Arc::new(json!("different"));
        match store.create(other, vec![]).await.unwrap() {
            Created::Existing(existing) => assert_eq!(*existing.input, json!({"order": 1})),
            Created::New => panic!("created twice"),
        }
        assert_eq!(store.history("e1").await.unwrap().len(), 1);
    }

    pub async fn commits_move_the_cursor_and_finish_the_execution(store: &dyn ExecutionStore) {
        store.create(record("e2"), vec![event(1, EventType::ExecutionStarted)]).await.unwrap();
        let mut cursor = record("e2").cursor.unwrap();
        cursor.state = Arc::from("B");
        cursor.attempts = vec![2];
        cursor.phase = Phase::Retrying { until: VIRTUAL_EPOCH + time::Duration::seconds(30) };
        let events = vec![event(3, EventType::TaskFailed), event(2, EventType::TaskStateEntered)];
        store.commit("e2", Commit { events, change: Change::Cursor(cursor.clone()) }).await.unwrap();
        let loaded = store.load("e2").await.unwrap().unwrap();
        assert_eq!(loaded.cursor, Some(cursor));
        assert_eq!(loaded.last_event_id, 3);
        assert_eq!(store.running().await.unwrap().len(), 1);

        let finish = Finish {
            status: ExecutionStatus::Succeeded,
            output: Some(Arc::new(json!({"done": true}))),
            error: None,
            cause: None,
            stop_date: VIRTUAL_EPOCH + time::Duration::seconds(31),
        };
        store
            .commit(
                "e2",
                Commit { events: vec![event(4, EventType::ExecutionSucceeded)], change: Change::Finish(finish) },
            )
            .await
            .unwrap();
        let loaded = store.load("e2").await.unwrap().unwrap();
        assert_eq!(loaded.status, ExecutionStatus::Succeeded);
        assert_eq!(loaded.output.as_deref(), Some(&json!({"done": true})));
        assert_eq!(loaded.cursor, None);
        assert!(store.running().await.unwrap().is_empty());
        let ids: Vec<u64> = store.history("e2").await.unwrap().iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    pub async fn committing_to_an_unknown_execution_fails(store: &dyn ExecutionStore) {
        let result = store.commit("ghost", Commit { events: vec![], change: Change::None }).await;
        assert!(matches!(result, Err(StoreError::NotFound(_))));
        assert!(store.load("ghost").await.unwrap().is_none());
    }
}
