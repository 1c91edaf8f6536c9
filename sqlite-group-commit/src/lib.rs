//! A SQLite database with group commit: one writer thread, a pool of readers.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync (a few thousand a
//! second at best). So every write goes through one writer thread that owns the only write
//! connection: it takes all the jobs waiting in its queue (up to [`Options::max_batch`]), runs
//! them in one transaction, commits once, and only then answers every job of the batch. Under
//! load the queue fills while the previous batch is syncing, so the cost of an fsync is shared by
//! all the jobs that arrived meanwhile, and none is answered before its data is on disk.
//!
//! Jobs do their checks (reads) before their first write, so a job fails part-way only on an
//! I/O error or a bug. Then the whole transaction is rolled back: the failing job gets its
//! error, the jobs that ran before it in that transaction get [`Error::Aborted`] (nothing of
//! theirs was kept; retrying is safe), and the rest of the batch carries on in a new transaction.
//! Per-job savepoints would isolate failures without that, but they journal every page a job
//! touches and cost a third of the throughput for a case that should never happen. So a job
//! that finds nothing to do (the row it would update is not there) says so in its `Ok` answer,
//! and its batch-mates are kept.
//!
//! If the commit itself fails (an fsync, a full disk, a deferred constraint), every job of the
//! batch gets [`Error::Commit`]: nothing of the batch was kept.
//!
//! The queue holds [`QUEUED_BATCHES`] batches. That keeps the writer busy through any burst it
//! can absorb; beyond it, waiting only grows memory and latency, so a write is refused at once
//! with [`Error::Overloaded`] and the caller can answer "try later".
//!
//! Reads run on a small pool of read-only connections (WAL lets them proceed while the writer
//! commits), on tokio's blocking threads. The writer copies the write-ahead log into the
//! database file between batches, after answering them (`checkpoints` says why there).
//!
//! The writer stops once the last [`Database`] handle is dropped and it has committed and
//! answered every write still queued. A job that panics stops it early: that job, the
//! batch-mates not yet answered and every write queued or sent after are answered
//! [`Error::Closed`].
//!
//! # Layout
//!
//! - this file: [`Database`] (opening, [`Database::write`], [`Database::read`]), its
//!   [`Options`] and [`Error`];
//! - `writer`: the writer thread: batches, their transaction, and what each job is told;
//! - `checkpoints`: when the writer copies the log into the database file.

mod checkpoints;
mod writer;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use checkpoints::Checkpoints;
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

/// How many batches of writes may wait for the writer (see the crate documentation).
pub const QUEUED_BATCHES: usize = 8;

/// How many read-only connections are kept open between reads.
const READERS: usize = 8;

/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit is on disk (fsync'd) before it is acknowledged. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives a crash of the process but may be lost with the
    /// machine's power. For throwaway data only.
    Normal,
}

/// How to open a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How hard a commit tries to reach the disk.
    pub durability: Durability,
    /// The most jobs committed in one transaction: large enough to amortise an fsync over many
    /// writes, small enough that one batch never keeps its first caller waiting long.
    pub max_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { durability: Durability::Full, max_batch: 512 }
    }
}

/// Why the database did not open, take, keep or read something. The SQL of a job fails with
/// the job's own error type; this is what the machinery around it adds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database file could not be opened or configured (or a reader could not open it).
    #[error("could not open the database {}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The writer thread could not start.
    #[error("could not start the database writer")]
    Spawn(#[source] std::io::Error),
    /// The writer's queue is full: more writes arrive than the disk can commit. Nothing was
    /// written; retrying later is safe.
    #[error("the database has more writes waiting than it can take; nothing was written")]
    Overloaded,
    /// Another write of the same transaction failed, so this one was rolled back with it.
    /// Nothing of it was kept: retrying is safe.
    #[error("rolled back with a failed write of the same transaction; nothing was kept")]
    Aborted,
    /// The transaction holding the write did not begin or did not commit. Nothing of it was
    /// kept: retrying is safe.
    #[error("the transaction could not be committed; nothing of it was kept")]
    Commit(#[source] Arc<rusqlite::Error>),
    /// The writer has stopped (a job panicked). Nothing of the write was kept: if it ran, its
    /// transaction was rolled back when the writer's connection closed.
    #[error("the database writer has stopped")]
    Closed,
    /// The blocking task running a read panicked or was cancelled.
    #[error("a blocking read task failed")]
    Read(#[source] tokio::task::JoinError),
}

/// A SQLite database file with one group-committing writer and a pool of readers. Clones share
/// them; the writer stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The database file, for opening readers.
    path: PathBuf,
    /// The writer's queue. Dropped with the last handle, which stops the writer once the queue
    /// is empty.
    jobs: mpsc::SyncSender<writer::Job>,
    /// Idle read-only connections.
    readers: Mutex<Vec<Connection>>,
}

impl Database {
    /// Opens (creating if needed) the database at `path`, lets `setup` bring its schema up to
    /// date on the write connection, and starts the writer thread.
    ///
    /// The write connection uses WAL, enforces foreign keys, keeps temporary tables in memory and
    /// waits up to five seconds for a lock.
    pub fn open<E>(
        path: impl AsRef<Path>,
        options: &Options,
        setup: impl FnOnce(&mut Connection) -> Result<(), E>,
    ) -> Result<Self, E>
    where
        E: From<Error>,
    {
        let path = path.as_ref().to_path_buf();
        let opening = |source| Error::Open { path: path.clone(), source };
        let mut writer = Connection::open(&path).map_err(opening)?;
        configure_writer(&writer, options.durability).map_err(opening)?;
        setup(&mut writer)?;
        let checkpoints = Checkpoints::follow(&mut writer).map_err(opening)?;

        let file = path.file_name().and_then(|name| name.to_str()).unwrap_or("db").to_owned();
        let max_batch = options.max_batch.max(1);
        let (jobs, queue) = mpsc::sync_channel(max_batch.saturating_mul(QUEUED_BATCHES));
        thread::Builder::new()
            .name(format!("sqlite-writer:{file}"))
            .spawn(move || writer::run(&writer, &queue, max_batch, checkpoints))
            .map_err(Error::Spawn)?;
        Ok(Self { shared: Arc::new(Shared { path, jobs, readers: Mutex::new(Vec::new()) }) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Queues `work` for the next batch, at once, and returns its answer, which resolves once
    /// the batch's transaction has committed (or not). `work` must read and check everything
    /// before its first write: if it fails, its transaction is rolled back with its batch-mates
    /// (see the crate documentation).
    pub fn write<T, E, F>(&self, work: F) -> Answer<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        match self.shared.jobs.try_send(writer::job(work, reply)) {
            Ok(()) => Answer { state: AnswerState::Waiting(answer) },
            Err(mpsc::TrySendError::Full(_)) => Answer::refused(Error::Overloaded),
            Err(mpsc::TrySendError::Disconnected(_)) => Answer::refused(Error::Closed),
        }
    }

    /// Runs `work` on a read-only connection, on one of tokio's blocking threads.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let read = tokio::task::spawn_blocking(move || {
            let idle = shared.readers.lock().pop();
            let conn = match idle {
                Some(conn) => conn,
                None => {
                    open_reader(&shared.path).map_err(|source| Error::Open { path: shared.path.clone(), source })?
                }
            };
            let result = work(&conn);
            let mut readers = shared.readers.lock();
            if readers.len() < READERS {
                readers.push(conn);
            }
            result
        });
        read.await.map_err(Error::Read)?
    }
}

fn configure_writer(conn: &Connection, durability: Durability) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals and temporary b-trees in memory, not in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The answer to a [`Database::write`]: the job's result once its transaction has committed, or
/// why it was not kept. The write is queued (or refused) when `write` returns, whether or not
/// its answer is awaited.
#[must_use = "whether a write was kept is known only by awaiting its answer"]
pub struct Answer<T, E> {
    state: AnswerState<T, E>,
}

enum AnswerState<T, E> {
    /// Refused before it was queued; taken when polled.
    Refused(Option<E>),
    /// Queued; the writer answers once the batch's fate is known.
    Waiting(oneshot::Receiver<Result<T, E>>),
}

impl<T, E: From<Error>> Answer<T, E> {
    fn refused(error: Error) -> Self {
        Self { state: AnswerState::Refused(Some(error.into())) }
    }
}

impl<T, E> std::fmt::Debug for Answer<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            AnswerState::Refused(_) => "refused",
            AnswerState::Waiting(_) => "waiting",
        };
        f.debug_struct("Answer").field("state", &state).finish()
    }
}

impl<T, E: From<Error>> Future for Answer<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AnswerState::Refused(error) => Poll::Ready(Err(error.take().unwrap_or_else(|| Error::Closed.into()))),
            // A reply dropped unanswered means the writer died with the job.
            AnswerState::Waiting(answer) => {
                Pin::new(answer).poll(cx).map(|reply| reply.unwrap_or_else(|_| Err(Error::Closed.into())))
            }
        }
    }
}

// Nothing in an answer is pinned in place: the receiver is a handle to a shared slot.
impl<T, E> Unpin for Answer<T, E> {}
