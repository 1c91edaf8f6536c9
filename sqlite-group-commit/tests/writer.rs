//! What the writer does with the writes it is given: batches them, keeps or rolls back each
//! batch as a whole, refuses what it cannot queue, and answers everything it took.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sqlite_group_commit::{Answer, Database, Durability, Error, Options};
use tokio::sync::oneshot;

/// A job's error: its SQL's, or the writer's.
#[derive(Debug)]
enum Failure {
    Sql(#[allow(dead_code)] rusqlite::Error),
    Writer(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Writer(error)
    }
}

const OPTIONS: Options = Options { durability: Durability::Full, max_batch: 512 };

fn open(path: &Path, options: &Options, schema: &'static str) -> Database {
    Database::open(path, options, |conn| Ok::<_, Failure>(conn.execute_batch(schema)?)).unwrap()
}

fn insert(db: &Database, value: Option<i64>) -> Answer<usize, Failure> {
    db.write(move |conn| Ok(conn.execute("INSERT INTO t VALUES (?1)", [value])?))
}

async fn values(db: &Database) -> Vec<i64> {
    db.read(|conn| {
        let mut select = conn.prepare("SELECT v FROM t ORDER BY v")?;
        let values = select.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
        Ok::<_, Failure>(values)
    })
    .await
    .unwrap()
}

/// The writer, kept busy inside a job until released: whatever is written meanwhile waits in
/// the queue, and makes the next batch.
struct Held {
    release: std::sync::mpsc::Sender<()>,
    answer: Answer<(), Failure>,
}

async fn hold(db: &Database) -> Held {
    let (entered, busy) = oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let answer = db.write(move |_| {
        let _ = entered.send(());
        let _ = released.recv();
        Ok(())
    });
    busy.await.unwrap();
    Held { release, answer }
}

impl Held {
    async fn release(self) -> Result<(), Failure> {
        self.release.send(()).unwrap();
        self.answer.await
    }
}

/// Counts the commits of the write connection; while `refusing` is set, turns them into
/// rollbacks, as a failing disk would.
#[derive(Debug, Default, Clone)]
struct CommitHook {
    commits: Arc<AtomicUsize>,
    refusing: Arc<AtomicBool>,
}

impl CommitHook {
    fn install(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        let hook = self.clone();
        conn.commit_hook(Some(move || {
            hook.commits.fetch_add(1, Ordering::AcqRel);
            hook.refusing.load(Ordering::Acquire)
        }))
    }

    fn commits(&self) -> usize {
        self.commits.load(Ordering::Acquire)
    }
}

fn open_with_hook(path: &Path) -> (Database, CommitHook) {
    let hook = CommitHook::default();
    let db = Database::open(path, &OPTIONS, |conn| {
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")?;
        Ok::<_, Failure>(hook.install(conn)?)
    })
    .unwrap();
    (db, hook)
}

/// Fails the test instead of hanging when an answer never comes.
async fn within_a_second<T>(answer: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(1), answer).await.expect("answered within a second")
}

#[tokio::test]
async fn writes_queued_while_the_writer_is_busy_are_committed_together_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hook) = open_with_hook(&dir.path().join("t.db"));

    let held = hold(&db).await;
    let writes: Vec<_> = (0..100).map(|v| insert(&db, Some(v))).collect();
    held.release().await.unwrap();
    for write in writes {
        write.await.unwrap();
    }

    assert_eq!(hook.commits(), 2, "one commit for the held job, one for the hundred writes queued behind it");
    assert_eq!(values(&db).await, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writes_are_all_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("t.db"), &OPTIONS, "CREATE TABLE t (v INTEGER PRIMARY KEY)");
    let writes: Vec<_> = (0..500)
        .map(|v| {
            let db = db.clone();
            tokio::spawn(async move { insert(&db, Some(v)).await })
        })
        .collect();
    for write in writes {
        write.await.unwrap().unwrap();
    }
    assert_eq!(values(&db).await.len(), 500);
}

#[tokio::test]
async fn a_failing_write_takes_the_writes_before_it_in_its_transaction_down_and_the_rest_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("t.db"), &OPTIONS, "CREATE TABLE t (v INTEGER NOT NULL)");

    let held = hold(&db).await;
    let before = insert(&db, Some(1));
    let failing = db.write(|conn| {
        conn.execute("INSERT INTO t VALUES (2)", [])?;
        conn.execute("INSERT INTO t VALUES (NULL)", [])?;
        Ok::<_, Failure>(())
    });
    let after = insert(&db, Some(3));
    held.release().await.unwrap();

    assert!(matches!(before.await, Err(Failure::Writer(Error::Aborted))));
    assert!(matches!(failing.await, Err(Failure::Sql(_))), "the failing write gets its own error");
    assert_eq!(after.await.unwrap(), 1, "a write after the failure runs in a fresh transaction");
    assert_eq!(values(&db).await, [3], "nothing of the failing write nor of the one before it is kept");
}

#[tokio::test]
async fn when_a_deferred_constraint_fails_the_commit_every_write_of_the_batch_is_told_and_none_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        &dir.path().join("t.db"),
        &OPTIONS,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
    );
    let add_parent =
        |id: i64| db.write(move |conn| Ok::<_, Failure>(conn.execute("INSERT INTO parent VALUES (?1)", [id])?));

    let held = hold(&db).await;
    let first = add_parent(1);
    // Accepted when it runs; refused only when the batch commits.
    let orphan = db.write(|conn| Ok::<_, Failure>(conn.execute("INSERT INTO child VALUES (99)", [])?));
    let last = add_parent(2);
    held.release().await.unwrap();

    for answer in [first.await, orphan.await, last.await] {
        assert!(matches!(answer, Err(Failure::Writer(Error::Commit(_)))), "{answer:?}");
    }
    add_parent(3).await.expect("the writer carries on in a new transaction");
    let parents: Vec<i64> = db
        .read(|conn| {
            let mut select = conn.prepare("SELECT id FROM parent UNION ALL SELECT parent FROM child")?;
            let ids = select.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
            Ok::<_, Failure>(ids)
        })
        .await
        .unwrap();
    assert_eq!(parents, [3]);
}

#[tokio::test]
async fn when_the_disk_refuses_a_commit_every_write_of_the_batch_is_told_and_none_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (db, hook) = open_with_hook(&dir.path().join("t.db"));

    let held = hold(&db).await;
    let writes: Vec<_> = (1..=3).map(|v| insert(&db, Some(v))).collect();
    hook.refusing.store(true, Ordering::Release);
    assert!(matches!(held.release().await, Err(Failure::Writer(Error::Commit(_)))));
    for write in writes {
        assert!(matches!(write.await, Err(Failure::Writer(Error::Commit(_)))));
    }

    hook.refusing.store(false, Ordering::Release);
    insert(&db, Some(4)).await.expect("the writer carries on once the disk takes commits again");
    assert_eq!(values(&db).await, [4]);
}

#[tokio::test]
async fn a_write_beyond_a_full_queue_is_refused_at_once_and_the_queued_ones_still_commit() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { max_batch: 1, ..OPTIONS };
    let db = open(&dir.path().join("t.db"), &options, "CREATE TABLE t (v INTEGER NOT NULL)");
    let room = sqlite_group_commit::QUEUED_BATCHES;

    let held = hold(&db).await;
    let queued: Vec<_> = (0..room).map(|v| insert(&db, Some(i64::try_from(v).unwrap()))).collect();
    let refused = within_a_second(insert(&db, Some(-1))).await;
    assert!(matches!(refused, Err(Failure::Writer(Error::Overloaded))), "{refused:?}");

    held.release().await.unwrap();
    for write in queued {
        write.await.unwrap();
    }
    assert_eq!(values(&db).await.len(), room, "the refused write left nothing");
}

#[tokio::test]
async fn dropping_the_last_handle_commits_what_is_queued_then_closes_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = open(&path, &OPTIONS, "CREATE TABLE t (v INTEGER NOT NULL)");

    let held = hold(&db).await;
    let writes: Vec<_> = (0..5).map(|v| insert(&db, Some(v))).collect();
    drop(db);
    held.release().await.unwrap();
    for write in writes {
        write.await.unwrap();
    }

    // The last connection to close folds the write-ahead log into the file and deletes it.
    let log = dir.path().join("t.db-wal");
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.exists() {
        assert!(Instant::now() < deadline, "the writer and the checkpointer never closed the database");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reopened = open(&path, &OPTIONS, "");
    assert_eq!(values(&reopened).await, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_job_that_panics_stops_the_writer_and_every_write_waiting_or_sent_after_is_told_it_closed() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { max_batch: 1, ..OPTIONS };
    let db = open(&dir.path().join("t.db"), &options, "CREATE TABLE t (v INTEGER NOT NULL)");

    let held = hold(&db).await;
    let panicking = db.write(|_| -> Result<(), Failure> { panic!("a bug in a job") });
    let queued = insert(&db, Some(1));
    held.release().await.unwrap();

    assert!(matches!(within_a_second(panicking).await, Err(Failure::Writer(Error::Closed))));
    assert!(matches!(within_a_second(queued).await, Err(Failure::Writer(Error::Closed))));
    let after = within_a_second(insert(&db, Some(2))).await;
    assert!(matches!(after, Err(Failure::Writer(Error::Closed))), "{after:?}");
}

#[tokio::test]
async fn the_log_is_copied_into_the_database_file_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.db");
    let db = open(&file, &OPTIONS, "CREATE TABLE t (v BLOB)");
    let before = std::fs::metadata(&file).unwrap().len();
    db.write(|conn| {
        for _ in 0..100 {
            conn.execute("INSERT INTO t VALUES (zeroblob(4096))", [])?;
        }
        Ok::<_, Failure>(())
    })
    .await
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&file).unwrap().len() < before + 100 * 4096 {
        assert!(Instant::now() < deadline, "no checkpoint copied the log into the database file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn under_sustained_writes_the_log_is_copied_and_started_over_instead_of_growing() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { durability: Durability::Normal, ..OPTIONS };
    let db = open(&dir.path().join("t.db"), &options, "CREATE TABLE t (v BLOB)");
    let log = dir.path().join("t.db-wal");

    // 2000 commits of 32 KiB each, one after the other: the writer is never idle for long.
    let mut largest = 0;
    for _ in 0..2000 {
        db.write(|conn| Ok::<_, Failure>(conn.execute("INSERT INTO t VALUES (zeroblob(32768))", [])?)).await.unwrap();
        largest = largest.max(std::fs::metadata(&log).map_or(0, |file| file.len()));
    }
    assert!(largest < 16 << 20, "the log grew to {largest} bytes");
}
