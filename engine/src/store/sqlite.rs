//! A SQLite [`ExecutionStore`] with WAL and group commit.
//!
//! Writes go through one writer thread that runs every write queued (up to a batch limit) in
//! one transaction and commits once, before answering their callers ([`sqlite_group_commit`],
//! whose documentation says why and what a failure does to a batch). With `synchronous=FULL`
//! (the default) a write is on disk when its caller hears back, and thousands of concurrent
//! executions share each fsync. Reads use read-only connections, which WAL lets run beside the
//! writer.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sqlite_group_commit::Database;
pub use sqlite_group_commit::Durability as Synchronous;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    Change, Commit, Created, Cursor, ExecutionRecord, ExecutionStatus, ExecutionStore, StoreError, StoreFuture,
};
use crate::history::HistoryEvent;

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// The most writes grouped into one transaction.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { synchronous: Synchronous::Full, max_batch: 1024 }
    }
}

/// Executions and history in a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Database,
}

impl From<sqlite_group_commit::Error> for StoreError {
    fn from(error: sqlite_group_commit::Error) -> Self {
        use sqlite_group_commit::Error;
        match error {
            Error::Open { path, source } => Self::Open { path: path.display().to_string(), source },
            Error::Spawn(source) => Self::Thread(source),
            // Past a few batches waiting, more only grows memory and latency; the engine retries
            // with backoff.
            Error::Overloaded => Self::Unavailable("the writer's queue is full".to_owned()),
            Error::Aborted => Self::Aborted,
            Error::Commit(source) => Self::CommitFailed(source),
            Error::Closed | Error::Read(_) => Self::Closed,
        }
    }
}

/// An execution row, serialized by the caller, so that the one writer thread only runs SQL.
struct Row {
    name: String,
    machine: String,
    input: String,
    status: &'static str,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    start_date: String,
    stop_date: Option<String>,
    cursor: Option<String>,
    last_event_id: i64,
}

/// A [`Commit`], serialized.
struct Prepared {
    events: Option<Batch>,
    last_event_id: i64,
    change: PreparedChange,
}

enum PreparedChange {
    None,
    Cursor(String),
    Finish {
        status: &'static str,
        output: Option<String>,
        error: Option<String>,
        cause: Option<String>,
        stop_date: String,
    },
}

fn to_db_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// The events of one commit, stored as one row: the smallest id and a JSON array.
struct Batch {
    first_id: i64,
    events: String,
}

fn serialize_events(events: &[HistoryEvent]) -> Result<Option<Batch>, StoreError> {
    let Some(first_id) = events.iter().map(|e| e.id).min() else { return Ok(None) };
    Ok(Some(Batch { first_id: to_db_id(first_id), events: serde_json::to_string(events)? }))
}

fn serialize_record(record: &ExecutionRecord) -> Result<Row, StoreError> {
    Ok(Row {
        name: record.name.clone(),
        machine: record.machine.clone(),
        input: serde_json::to_string(&record.input)?,
        status: record.status.as_str(),
        output: record.output.as_ref().map(serde_json::to_string).transpose()?,
        error: record.error.clone(),
        cause: record.cause.clone(),
        start_date: format_time(record.start_date)?,
        stop_date: record.stop_date.map(format_time).transpose()?,
        cursor: record.cursor.as_ref().map(serde_json::to_string).transpose()?,
        last_event_id: to_db_id(record.last_event_id),
    })
}

fn serialize_commit(commit: &Commit) -> Result<Prepared, StoreError> {
    let change = match &commit.change {
        Change::None => PreparedChange::None,
        Change::Cursor(cursor) => PreparedChange::Cursor(serde_json::to_string(cursor)?),
        Change::Finish(finish) => PreparedChange::Finish {
            status: finish.status.as_str(),
            output: finish.output.as_ref().map(serde_json::to_string).transpose()?,
            error: finish.error.clone(),
            cause: finish.cause.clone(),
            stop_date: format_time(finish.stop_date)?,
        },
    };
    Ok(Prepared {
        events: serialize_events(&commit.events)?,
        last_event_id: to_db_id(commit.events.iter().map(|e| e.id).max().unwrap_or(0)),
        change,
    })
}

/// The version of [`SCHEMA`], kept in SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS executions (
    name          TEXT PRIMARY KEY,
    machine       TEXT NOT NULL,
    input         TEXT NOT NULL,
    status        TEXT NOT NULL,
    output        TEXT,
    error         TEXT,
    cause         TEXT,
    start_date    TEXT NOT NULL,
    stop_date     TEXT,
    cursor        TEXT,
    last_event_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
-- One row per commit: the events it recorded, as a JSON array.
CREATE TABLE IF NOT EXISTS history (
    execution TEXT NOT NULL,
    first_id  INTEGER NOT NULL,
    events    TEXT NOT NULL,
    PRIMARY KEY (execution, first_id)
) WITHOUT ROWID;
";

impl SqliteStore {
    /// Opens (or creates) the database at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteOptions::default())
    }

    /// Opens (or creates) the database at `path`.
    pub fn open_with(path: impl AsRef<Path>, options: &SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let options = sqlite_group_commit::Options { durability: options.synchronous, max_batch: options.max_batch };
        let db = Database::open(path, &options, |writer| create_schema(writer, path))?;
        Ok(Self { db })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }
}

/// Creates the schema, unless the file was written by a newer engine.
fn create_schema(writer: &Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |source| StoreError::Open { path: path.display().to_string(), source };
    let version: i64 = writer.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(open_error)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema {
            path: path.display().to_string(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    writer.execute_batch(SCHEMA).map_err(open_error)?;
    writer.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(open_error)
}

fn create(connection: &Connection, record: &Row, events: Option<&Batch>) -> Result<Created, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO executions (name, machine, input, status, output, error, cause, start_date, stop_date, cursor, last_event_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![
            record.name,
            record.machine,
            record.input,
            record.status,
            record.output,
            record.error,
            record.cause,
            record.start_date,
            record.stop_date,
            record.cursor,
            record.last_event_id,
        ])?;
    if inserted == 0 {
        let existing = load(connection, &record.name)?.ok_or_else(|| StoreError::NotFound(record.name.clone()))?;
        return Ok(Created::Existing(Box::new(existing)));
    }
    insert_events(connection, &record.name, events)?;
    Ok(Created::New)
}

/// Applies a commit. The outer error fails the write (and rolls back its batch); the inner one
/// is the answer for an execution that is not there: the update changed nothing, so there is
/// nothing to roll back, and the batch-mates are kept.
fn apply(connection: &Connection, name: &str, commit: &Prepared) -> Result<Result<(), StoreError>, StoreError> {
    let changed = match &commit.change {
        PreparedChange::None => connection
            .prepare_cached("UPDATE executions SET last_event_id = max(last_event_id, ?2) WHERE name = ?1")?
            .execute(params![name, commit.last_event_id])?,
        PreparedChange::Cursor(cursor) => connection
            .prepare_cached(
                "UPDATE executions SET cursor = ?2, last_event_id = max(last_event_id, ?3) WHERE name = ?1",
            )?
            .execute(params![name, cursor, commit.last_event_id])?,
        PreparedChange::Finish { status, output, error, cause, stop_date } => connection
            .prepare_cached(
                "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop_date = ?6, cursor = NULL,
                 last_event_id = max(last_event_id, ?7) WHERE name = ?1",
            )?
            .execute(params![name, status, output, error, cause, stop_date, commit.last_event_id])?,
    };
    if changed == 0 {
        return Ok(Err(StoreError::NotFound(name.to_owned())));
    }
    insert_events(connection, name, commit.events.as_ref()).map(Ok)
}

fn insert_events(connection: &Connection, name: &str, events: Option<&Batch>) -> Result<(), StoreError> {
    if let Some(batch) = events {
        connection
            .prepare_cached("INSERT OR REPLACE INTO history (execution, first_id, events) VALUES (?1, ?2, ?3)")?
            .execute(params![name, batch.first_id, batch.events])?;
    }
    Ok(())
}

fn format_time(time: OffsetDateTime) -> Result<String, StoreError> {
    Ok(time.format(&Rfc3339)?)
}

const SELECT_RECORD: &str =
    "SELECT name, machine, input, status, output, error, cause, start_date, stop_date, cursor, last_event_id
                             FROM executions";

fn load(connection: &Connection, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
    let row = connection
        .prepare_cached(&format!("{SELECT_RECORD} WHERE name = ?1"))?
        .query_row(params![name], read_columns)
        .optional()?;
    row.map(parse_record).transpose()
}

/// The raw columns of an execution row.
type Columns = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
);

fn read_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

fn parse_record(columns: Columns) -> Result<ExecutionRecord, StoreError> {
    let (name, machine, input, status, output, error, cause, start_date, stop_date, cursor, last_event_id) = columns;
    let corrupt = |why: String| StoreError::Corrupt { name: name.clone(), why };
    let parse_time =
        |text: &str| OffsetDateTime::parse(text, &Rfc3339).map_err(|e| corrupt(format!("bad timestamp '{text}': {e}")));
    Ok(ExecutionRecord {
        status: ExecutionStatus::parse(&status).ok_or_else(|| corrupt(format!("unknown status '{status}'")))?,
        start_date: parse_time(&start_date)?,
        stop_date: stop_date.as_deref().map(parse_time).transpose()?,
        input: Arc::new(serde_json::from_str(&input)?),
        output: output.as_deref().map(serde_json::from_str).transpose()?.map(Arc::new),
        cursor: cursor.as_deref().map(serde_json::from_str::<Cursor>).transpose()?,
        last_event_id: u64::try_from(last_event_id).unwrap_or(0),
        error,
        cause,
        machine,
        name,
    })
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn create(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) -> Result<Created, StoreError> {
        let (record, events) = (serialize_record(&record)?, serialize_events(&events)?);
        self.db.write(move |connection| create(connection, &record, events.as_ref())).await
    }

    fn commit(&self, name: &str, commit: Commit) -> StoreFuture<()> {
        let commit = match serialize_commit(&commit) {
            Ok(commit) => commit,
            Err(error) => return StoreFuture::ready(Err(error)),
        };
        let name = name.to_owned();
        StoreFuture::written(self.db.write(move |connection| apply(connection, &name, &commit)))
    }

    async fn load(&self, name: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let name = name.to_owned();
        self.db.read(move |connection| load(connection, &name)).await
    }

    async fn history(&self, name: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let name = name.to_owned();
        self.db
            .read(move |connection| {
                let mut select = connection.prepare_cached("SELECT events FROM history WHERE execution = ?1")?;
                let rows = select.query_map(params![name], |row| row.get::<_, String>(0))?;
                let mut events = Vec::new();
                for text in rows {
                    events.extend(serde_json::from_str::<Vec<HistoryEvent>>(&text?)?);
                }
                events.sort_by_key(|e| e.id);
                Ok(events)
            })
            .await
    }

    async fn running(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.db
            .read(|connection| {
                let mut select = connection.prepare_cached(&format!("{SELECT_RECORD} WHERE status = 'RUNNING'"))?;
                let rows = select.query_map([], read_columns)?;
                rows.map(|columns| parse_record(columns?)).collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(
            dir.path().join("engine.db"),
            &SqliteOptions { synchronous: Synchronous::Normal, ..SqliteOptions::default() },
        )
        .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn creating_twice_returns_the_existing_execution() {
        let (_dir, store) = store();
        contract::creating_twice_returns_the_existing_execution(&store).await;
    }

    #[tokio::test]
    async fn commits_move_the_cursor_and_finish_the_execution() {
        let (_dir, store) = store();
        contract::commits_move_the_cursor_and_finish_the_execution(&store).await;
    }

    #[tokio::test]
    async fn committing_to_an_unknown_execution_fails() {
        let (_dir, store) = store();
        contract::committing_to_an_unknown_execution_fails(&store).await;
    }

    #[tokio::test]
    async fn a_reopened_database_still_has_its_executions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.create(contract::record("kept"), vec![]).await.unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.running().await.unwrap().len(), 1);
        assert_eq!(store.load("kept").await.unwrap().unwrap().machine, "m");
    }

    #[test]
    fn a_database_from_a_newer_engine_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        assert!(matches!(SqliteStore::open(&path), Err(StoreError::UnsupportedSchema { .. })));
    }
}
