//! SQLite with group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync (a few thousand a
//! second at best). So every write goes through one writer thread that owns the only write
//! connection: it takes all the jobs waiting in its queue, runs them in one transaction, commits
//! once, and only then answers every job of the batch. Under load the queue fills while the
//! previous batch is syncing, so the cost of an fsync is shared by all the requests that arrived
//! meanwhile, and none is answered before its data is on disk.
//!
//! Jobs do their checks (reads) before their first write, so a job fails part-way only on an
//! I/O error or a bug. Then the whole transaction is rolled back: the failing job gets its
//! error, the jobs that ran before it in that transaction get [`DbError::Aborted`] (nothing of
//! theirs was kept; retrying is safe), and the rest of the batch carries on in a new transaction.
//! Per-job savepoints would isolate failures without that, but they journal every page a job
//! touches and cost a third of the throughput for a case that should never happen.
//!
//! Reads run on a small pool of read-only connections (WAL lets them proceed while the writer
//! commits), on tokio's blocking threads.

mod inventory;
mod invoices;
mod migrations;
mod orders;
mod outbox;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

pub use inventory::SqliteInventory;
pub use invoices::SqliteInvoiceNumbers;
pub use migrations::{MigrationError, Schema};
pub use orders::SqliteOrderStore;

/// The most jobs committed in one transaction. Large enough to amortise an fsync over many
/// requests, small enough that one batch never keeps its first caller waiting long.
const MAX_BATCH: usize = 512;

/// The most writes waiting for the writer. Eight batches: enough to keep the writer busy
/// through any burst it can absorb; beyond that, waiting only grows memory and latency, so a
/// write is refused at once ([`DbError::Overloaded`]) and the API answers `503` with
/// `Retry-After`.
const MAX_QUEUED_WRITES: usize = 8 * MAX_BATCH;

/// How many read-only connections are kept open.
const READERS: usize = 8;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the transaction could not be committed")]
    Commit(#[source] Arc<rusqlite::Error>),
    /// Another write of the same transaction failed, so this one was rolled back with it.
    /// Nothing of it was kept: retrying is safe.
    #[error("rolled back with a failed write of the same transaction; nothing was kept")]
    Aborted,
    #[error("a stored document is corrupt")]
    Corrupt(#[from] serde_json::Error),
    #[error("the database writer has stopped")]
    Closed,
    /// The writer's queue is full: more writes arrive than the disk can commit. Nothing was
    /// written; retrying later is safe.
    #[error("the database has more writes waiting than it can take; nothing was written")]
    Overloaded,
    #[error("a blocking read task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("could not start the database writer")]
    Spawn(#[source] std::io::Error),
    #[error("the schema could not be brought up to date")]
    Migration(#[from] MigrationError),
}

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

/// A job run by the writer inside the batch transaction. It returns how to answer its caller
/// once the fate of its transaction is known, and whether it failed.
type Job = Box<dyn FnOnce(&Connection) -> Box<dyn Completion> + Send>;

trait Completion: Send {
    fn failed(&self) -> bool;
    fn complete(self: Box<Self>, fate: Fate);
}

/// What became of the transaction a job ran in.
#[derive(Debug, Clone)]
enum Fate {
    Committed,
    CommitFailed(Arc<rusqlite::Error>),
    /// Rolled back because another job of the transaction failed.
    Aborted,
}

struct Reply<T> {
    result: Result<T, DbError>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T: Send> Completion for Reply<T> {
    fn failed(&self) -> bool {
        self.result.is_err()
    }

    fn complete(self: Box<Self>, fate: Fate) {
        let result = match fate {
            Fate::Committed => self.result,
            Fate::CommitFailed(error) => Err(DbError::Commit(error)),
            Fate::Aborted => Err(DbError::Aborted),
        };
        // The caller may have gone away (a cancelled request); the work is committed regardless.
        let _ = self.reply.send(result);
    }
}

/// A SQLite database file with one group-committing writer and a pool of readers.
#[derive(Debug, Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    jobs: Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    /// Dropped with the last handle, which stops the checkpointer.
    _checkpointer: Sender<()>,
}

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl Database {
    /// Opens (creating if needed) the orders database at `path`, brings its schema up to date
    /// and starts its writer thread.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, DbError> {
        Self::open_with_schema(path, durability, &migrations::ORDERS)
    }

    /// Opens (creating if needed) a database of another kind at `path`, such as a simulated
    /// partner's ledger, with its own schema. A file made with another schema is refused.
    pub fn open_with_schema(path: impl AsRef<Path>, durability: Durability, schema: &Schema) -> Result<Self, DbError> {
        let path = path.as_ref().to_path_buf();
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        writer.pragma_update(
            None,
            "synchronous",
            match durability {
                Durability::Full => "FULL",
                Durability::Normal => "NORMAL",
            },
        )?;
        migrations::run(&mut writer, schema)?;
        // Checkpoints run on their own thread (below), not inside a commit of the writer, where
        // they would hold up every request of the batch.
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoints = Connection::open(&path)?;
        checkpoints.busy_timeout(std::time::Duration::from_secs(5))?;

        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("db").to_owned();
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(MAX_QUEUED_WRITES);
        thread::Builder::new()
            .name(format!("sqlite-writer:{file}"))
            .spawn(move || write_loop(&writer, &queue))
            .map_err(DbError::Spawn)?;
        let (checkpointer, stop) = crossbeam_channel::bounded::<()>(0);
        thread::Builder::new()
            .name(format!("sqlite-checkpoint:{file}"))
            .spawn(move || checkpoint_loop(&checkpoints, &stop))
            .map_err(DbError::Spawn)?;
        Ok(Self { inner: Arc::new(Inner { path, jobs, readers: Mutex::new(Vec::new()), _checkpointer: checkpointer }) })
    }

    /// Runs `work` in the next write batch and returns its result once the batch is committed.
    /// `work` must read and check everything before its first write: if it fails, its
    /// transaction is rolled back (see the module documentation).
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| Box::new(Reply { result: work(conn), reply }));
        self.inner.jobs.try_send(job).map_err(|error| match error {
            crossbeam_channel::TrySendError::Full(_) => DbError::Overloaded,
            crossbeam_channel::TrySendError::Disconnected(_) => DbError::Closed,
        })?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// Runs `work` on a read-only connection.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().pop() {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = work(&conn);
            let mut readers = inner.readers.lock();
            if readers.len() < READERS {
                readers.push(conn);
            }
            result
        })
        .await?
    }
}

fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Statement journals and temporary b-trees in memory, not in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Copies the write-ahead log into the database file every [`CHECKPOINT_EVERY`], without
/// blocking the writer (`PASSIVE`), until the database is closed; then once more.
fn checkpoint_loop(conn: &Connection, stop: &Receiver<()>) {
    loop {
        let closed =
            matches!(stop.recv_timeout(CHECKPOINT_EVERY), Err(crossbeam_channel::RecvTimeoutError::Disconnected));
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %error, "WAL checkpoint failed; the log keeps growing until one succeeds");
        }
        if closed {
            return;
        }
    }
}

fn write_loop(conn: &Connection, queue: &Receiver<Job>) {
    // Ends when every `Database` handle is dropped.
    while let Ok(first) = queue.recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(conn, batch);
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    let begin = || conn.execute_batch("BEGIN IMMEDIATE");
    if let Err(error) = begin() {
        // Nothing ran. Dropping the jobs drops their reply channels: each caller gets `Closed`.
        tracing::error!(error = %error, jobs = batch.len(), "could not begin a write transaction");
        return;
    }
    // The jobs run in the current transaction, to be answered once it commits.
    let mut pending: Vec<Box<dyn Completion>> = Vec::with_capacity(batch.len());
    for job in batch {
        let completion = job(conn);
        if !completion.failed() {
            pending.push(completion);
            continue;
        }
        // It may have written part of its work: undo the whole transaction, tell the jobs that
        // ran before it to retry, and go on with the rest in a new one.
        if let Err(error) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %error, "could not roll back a failed write");
        }
        tracing::warn!(aborted = pending.len(), "a write failed; its transaction was rolled back");
        completion.complete(Fate::Committed);
        for aborted in pending.drain(..) {
            aborted.complete(Fate::Aborted);
        }
        if let Err(error) = begin() {
            tracing::error!(error = %error, "could not begin a write transaction");
            return;
        }
    }
    let fate = match conn.execute_batch("COMMIT") {
        Ok(()) => Fate::Committed,
        Err(error) => {
            tracing::error!(error = %error, "group commit failed; rolling back the batch");
            let _ = conn.execute_batch("ROLLBACK");
            Fate::CommitFailed(Arc::new(error))
        }
    };
    for completion in pending {
        completion.complete(fate.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("test.db"), Durability::Full).unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_failed_job_keeps_nothing_and_only_its_transaction_mates_are_asked_to_retry() {
        let (_dir, db) = temp_db();
        db.write(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")?)).await.unwrap();
        let before = db.write(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?));
        let failing = db.write(|c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            c.execute("INSERT INTO t VALUES (NULL)", [])?; // violates NOT NULL
            Ok(())
        });
        let after = db.write(|c| Ok(c.execute("INSERT INTO t VALUES (3)", [])?));
        let (before, failing, after) = tokio::join!(before, failing, after);

        assert!(matches!(failing, Err(DbError::Sqlite(_))), "{failing:?}");
        assert!(after.is_ok(), "a job after the failure runs in a fresh transaction: {after:?}");
        // Whether `before` shared the failing job's transaction depends on timing: either it
        // committed, or it was told it was aborted, and the table agrees.
        assert!(matches!(before, Ok(_) | Err(DbError::Aborted)), "{before:?}");
        let values: Vec<i64> = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .await
            .unwrap();
        let expected: &[i64] = if before.is_ok() { &[1, 3] } else { &[3] };
        assert_eq!(values, expected, "no partial write of the failing job may remain");
    }

    #[tokio::test]
    async fn the_log_is_copied_into_the_database_file_in_the_background() {
        let (dir, db) = temp_db();
        let file = dir.path().join("test.db");
        let before = std::fs::metadata(&file).unwrap().len();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (v BLOB)")?;
            for _ in 0..100 {
                c.execute("INSERT INTO t VALUES (zeroblob(4096))", [])?;
            }
            Ok(())
        })
        .await
        .unwrap();

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::metadata(&file).unwrap().len() < before + 100 * 4096 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint copied the log into the database file");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_beyond_a_full_queue_is_refused_at_once_and_the_queued_ones_still_commit() {
        let (_dir, db) = temp_db();
        db.write(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")?)).await.unwrap();
        // Hold the writer inside a job while the queue fills behind it.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (entered, writer_busy) = oneshot::channel::<()>();
        let holding = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |_| {
                    let _ = entered.send(());
                    let _ = held.recv();
                    Ok(())
                })
                .await
            }
        });
        writer_busy.await.unwrap();
        let queued: Vec<_> = (0..MAX_QUEUED_WRITES)
            .map(|i| {
                let db = db.clone();
                let i = i64::try_from(i).unwrap();
                tokio::spawn(async move { db.write(move |c| Ok(c.execute("INSERT INTO t VALUES (?1)", [i])?)).await })
            })
            .collect();
        while db.inner.jobs.len() < MAX_QUEUED_WRITES {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }

        let refused = db.write(|c| Ok(c.execute("INSERT INTO t VALUES (-1)", [])?)).await;
        assert!(matches!(refused, Err(DbError::Overloaded)), "{refused:?}");

        release.send(()).unwrap();
        holding.await.unwrap().unwrap();
        for write in queued {
            write.await.unwrap().unwrap();
        }
        let count: i64 = db.read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(count, i64::try_from(MAX_QUEUED_WRITES).unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_writes_are_all_committed() {
        let (_dir, db) = temp_db();
        db.write(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")?)).await.unwrap();
        let writes = (0..500).map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.write(move |c| Ok(c.execute("INSERT INTO t VALUES (?1)", [i])?)).await })
        });
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let count: i64 = db.read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(count, 500);
    }
}
