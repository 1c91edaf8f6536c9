//! The writer thread: takes the queued jobs in batches, runs each batch in one transaction,
//! commits it once, and tells every job what became of it.

use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::Error;
use crate::checkpoints::{self, Checkpoints};

/// A write waiting for the writer: its work, and where to send its answer.
pub(crate) type Job = Box<dyn Queued>;

/// A job of any result type, as the writer handles it.
pub(crate) trait Queued: Send {
    /// Runs the job's work inside the batch's open transaction.
    fn run(&mut self, conn: &Connection) -> Ran;
    /// Answers the caller, now that the fate of the job's transaction is known.
    fn answer(self: Box<Self>, fate: Fate);
}

/// How a job's work went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ran {
    Done,
    /// It returned an error, perhaps after writing part of its work.
    Failed,
}

/// What became of the transaction a job ran in.
#[derive(Debug, Clone)]
pub(crate) enum Fate {
    /// Committed: the job's own result stands.
    Committed,
    /// Rolled back because this job failed: its own error stands.
    Failed,
    /// Rolled back because a later job of the same transaction failed.
    Aborted,
    /// The transaction did not begin, or did not commit.
    NotCommitted(Arc<rusqlite::Error>),
}

pub(crate) fn job<T, E, F>(work: F, reply: oneshot::Sender<Result<T, E>>) -> Job
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
{
    Box::new(Pending { work: Some(work), result: None, reply })
}

struct Pending<F, T, E> {
    /// Taken when the job runs.
    work: Option<F>,
    /// What the work returned, kept until the transaction's fate is known.
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Queued for Pending<F, T, E>
where
    T: Send,
    E: From<Error> + Send,
    F: FnOnce(&Connection) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &Connection) -> Ran {
        let Some(work) = self.work.take() else { return Ran::Done };
        let result = work(conn);
        let ran = if result.is_ok() { Ran::Done } else { Ran::Failed };
        self.result = Some(result);
        ran
    }

    fn answer(self: Box<Self>, fate: Fate) {
        let Self { result, reply, .. } = *self;
        let answer = match fate {
            // A job is told its transaction committed only after it ran, so `result` is there.
            Fate::Committed | Fate::Failed => result.unwrap_or_else(|| Err(Error::Closed.into())),
            Fate::Aborted => Err(Error::Aborted.into()),
            Fate::NotCommitted(error) => Err(Error::Commit(error).into()),
        };
        // The caller may have gone away (a cancelled request); the work is committed regardless.
        let _ = reply.send(answer);
    }
}

/// Runs batches until every handle of the database is dropped and the queue is empty.
pub(crate) fn run(conn: &Connection, queue: &mpsc::Receiver<Job>, max_batch: usize, mut checkpoints: Checkpoints) {
    loop {
        let first = if checkpoints.pending() {
            match queue.recv_timeout(checkpoints::IDLE) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    checkpoints.run(conn);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match queue.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            }
        };
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(conn, batch);
        checkpoints.after_batch(conn);
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    let count = batch.len();
    let mut jobs = batch.into_iter();
    // The jobs that ran in the current transaction, to be answered once it commits.
    let mut ran: Vec<Job> = Vec::with_capacity(count);
    if let Err(error) = begin(conn) {
        return not_committed(jobs, error);
    }
    while let Some(mut job) = jobs.next() {
        if job.run(conn) == Ran::Done {
            ran.push(job);
            continue;
        }
        // It may have written part of its work: undo the whole transaction, tell the jobs that
        // ran before it to retry, and go on with the rest in a new one.
        roll_back(conn);
        tracing::warn!(aborted = ran.len(), "a write failed; its transaction was rolled back");
        job.answer(Fate::Failed);
        for aborted in ran.drain(..) {
            aborted.answer(Fate::Aborted);
        }
        if let Err(error) = begin(conn) {
            return not_committed(jobs, error);
        }
    }
    let fate = match conn.execute_batch("COMMIT") {
        Ok(()) => Fate::Committed,
        Err(error) => {
            tracing::error!(error = %error, jobs = ran.len(), "group commit failed; nothing of the batch was kept");
            roll_back(conn);
            Fate::NotCommitted(Arc::new(error))
        }
    };
    for job in ran {
        job.answer(fate.clone());
    }
}

fn begin(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch("BEGIN IMMEDIATE")
}

/// Ends the open transaction, if SQLite has not already: it rolls back by itself after some
/// failures (an I/O error), and not after others (a deferred constraint failing at `COMMIT`).
fn roll_back(conn: &Connection) {
    if conn.is_autocommit() {
        return;
    }
    if let Err(error) = conn.execute_batch("ROLLBACK") {
        tracing::error!(error = %error, "could not roll back a write transaction");
    }
}

/// Tells jobs that never ran that their transaction could not begin.
fn not_committed(jobs: impl Iterator<Item = Job>, error: rusqlite::Error) {
    tracing::error!(error = %error, "could not begin a write transaction");
    let error = Arc::new(error);
    for job in jobs {
        job.answer(Fate::NotCommitted(Arc::clone(&error)));
    }
}
