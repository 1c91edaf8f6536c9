//! The checkpointer thread: copies the write-ahead log into the database file, beside the writer.

use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the write-ahead log is copied into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// Checkpoints every [`EVERY`] without blocking the writer (`PASSIVE`), until the last handle of
/// the database is dropped; then once more.
pub(crate) fn run(conn: &Connection, stop: &mpsc::Receiver<()>) {
    loop {
        let closed = matches!(stop.recv_timeout(EVERY), Err(mpsc::RecvTimeoutError::Disconnected));
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %error, "WAL checkpoint failed; the log keeps growing until one succeeds");
        }
        if closed {
            return;
        }
    }
}
