//! When the writer copies the write-ahead log into the database file.
//!
//! SQLite's own automatic checkpoint runs inside the commit that crosses its threshold, so the
//! jobs of that batch would wait for it. A checkpointer on a thread of its own, racing a writer
//! that never pauses, never reaches the end of the log, and SQLite starts the log over only once
//! all of it is copied: under sustained load the log grows without bound (a gigabyte in four
//! seconds of the engine's benchmark). So the writer checkpoints itself, between batches and
//! after answering them: once the log has grown by [`PAGES`] since its last checkpoint, and when
//! it has had nothing to do for [`IDLE`]. Being the only writer, it copies the whole log, and its
//! next commit starts the log over.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How many pages the log grows by between checkpoints (SQLite's own default threshold).
const PAGES: i32 = 1000;

/// How long the writer waits for work before copying what is left of the log.
pub(crate) const IDLE: Duration = Duration::from_millis(250);

/// How much of the log the writer has copied.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    /// The pages in the log after the last commit, as SQLite reports them.
    log: Arc<AtomicI32>,
    /// The pages of the log already copied (or given up on, if a reader held them).
    copied: i32,
}

impl Checkpoints {
    /// Follows the log of `writer`. This replaces SQLite's automatic checkpoints.
    pub(crate) fn follow(writer: &mut Connection) -> rusqlite::Result<Self> {
        let log = Arc::new(AtomicI32::new(0));
        let after_commit = Arc::clone(&log);
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            after_commit.store(pages, Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(Self { log, copied: 0 })
    }

    /// Whether some of the log is not copied yet.
    pub(crate) fn pending(&mut self) -> bool {
        self.uncopied() > 0
    }

    /// Checkpoints if the log has grown enough since the last time.
    pub(crate) fn after_batch(&mut self, writer: &Connection) {
        if self.uncopied() >= PAGES {
            self.run(writer);
        }
    }

    /// Copies the log into the database file, without waiting for readers (`PASSIVE`): the pages
    /// a reader still needs are left for the next time.
    pub(crate) fn run(&mut self, writer: &Connection) {
        match writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i32>(1)) {
            Ok(log) => self.copied = log,
            Err(error) => {
                tracing::warn!(error = %error, "WAL checkpoint failed; the log keeps growing until one succeeds");
            }
        }
    }

    fn uncopied(&mut self) -> i32 {
        let log = self.log.load(Ordering::Relaxed);
        if log < self.copied {
            // The log was started over.
            self.copied = 0;
        }
        log - self.copied
    }
}
