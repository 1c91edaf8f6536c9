//! Schemas as append-only lists of migrations, tracked by `PRAGMA user_version`, and tagged with
//! `PRAGMA application_id` so that a file is never migrated with another database's schema.

use rusqlite::Connection;

/// The schema of one kind of database file: an application id naming it, and its migrations.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// For messages: `orders`, `payments`.
    pub name: &'static str,
    /// Written to `PRAGMA application_id` on first open and checked on every later one, so that
    /// `payments.db` opened where `orders.db` was expected is an error, not a corrupted file.
    pub application_id: i32,
    /// Entry `i` moves the schema from version `i` to `i + 1`. Never edit a released entry:
    /// append a new one.
    pub migrations: &'static [&'static str],
}

/// Orders, idempotency keys, the workflow outbox, stock and reservations, invoice numbers.
pub const ORDERS: Schema = Schema {
    name: "orders",
    // "OFo1": Orderflow orders.
    application_id: 0x4F46_6F31,
    migrations: ORDER_MIGRATIONS,
};

const ORDER_MIGRATIONS: &[&str] = &[
    // 1: orders, idempotency keys, the workflow outbox, stock and reservations.
    r"
    CREATE TABLE orders (
        id          TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        status      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        body        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX orders_by_customer ON orders (customer_id, id DESC);
    CREATE INDEX orders_by_status ON orders (status, id DESC);

    CREATE TABLE idempotency_keys (
        customer_id TEXT NOT NULL,
        key         TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        order_id    TEXT NOT NULL REFERENCES orders (id),
        created_at  TEXT NOT NULL,
        PRIMARY KEY (customer_id, key)
    ) STRICT, WITHOUT ROWID;

    -- Rows written in the same transaction as the order they concern; a dispatcher acts on them.
    CREATE TABLE outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id      TEXT NOT NULL REFERENCES orders (id),
        kind          TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        dispatched_at TEXT
    ) STRICT;
    CREATE INDEX outbox_undispatched ON outbox (seq) WHERE dispatched_at IS NULL;

    CREATE TABLE stock (
        sku      TEXT PRIMARY KEY,
        on_hand  INTEGER NOT NULL CHECK (on_hand >= 0),
        reserved INTEGER NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE reservations (
        order_id TEXT NOT NULL,
        sku      TEXT NOT NULL REFERENCES stock (sku),
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        state    TEXT NOT NULL CHECK (state IN ('held', 'released', 'committed')),
        PRIMARY KEY (order_id, sku)
    ) STRICT, WITHOUT ROWID;
    ",
    // 2: invoice numbers, sequential per year, one per order. The counter and the number are
    // written in one transaction, so a failure leaves no gap.
    r"
    CREATE TABLE invoice_counters (
        year INTEGER PRIMARY KEY,
        last INTEGER NOT NULL CHECK (last > 0)
    ) STRICT;

    CREATE TABLE invoice_numbers (
        order_id    TEXT PRIMARY KEY,
        number      TEXT NOT NULL UNIQUE,
        year        INTEGER NOT NULL,
        seq         INTEGER NOT NULL CHECK (seq > 0),
        assigned_at TEXT NOT NULL,
        UNIQUE (year, seq)
    ) STRICT, WITHOUT ROWID;
    ",
    // 3: outbox entries are marked by their order, as the API marks the workflow it started.
    r"
    CREATE INDEX outbox_undispatched_by_order ON outbox (order_id) WHERE dispatched_at IS NULL;
    ",
];

/// Why a database file could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("SQLite failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the file is not {expected} database (its application id is {found:#010x})")]
    WrongDatabase { expected: &'static str, found: i32 },
    #[error("the file's {schema} schema is at version {found}, newer than this program knows ({known})")]
    TooNew { schema: &'static str, found: i64, known: usize },
}

/// Applies the migrations of `schema` that `conn`'s file has not seen yet, each in its own
/// transaction.
pub(super) fn run(conn: &mut Connection, schema: &Schema) -> Result<(), MigrationError> {
    let found: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    match found {
        id if id == schema.application_id => {}
        // A new file, or one written before files were tagged (only orders databases were).
        0 => conn.pragma_update(None, "application_id", schema.application_id)?,
        found => return Err(MigrationError::WrongDatabase { expected: schema.name, found }),
    }
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if usize::try_from(current).map_or(true, |current| current > schema.migrations.len()) {
        return Err(MigrationError::TooNew { schema: schema.name, found: current, known: schema.migrations.len() });
    }
    for (version, migration) in (1_i64..).zip(schema.migrations).skip_while(|(version, _)| *version <= current) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(schema = schema.name, version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest() -> i64 {
        i64::try_from(ORDER_MIGRATIONS.len()).unwrap()
    }

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap()
    }

    #[test]
    fn an_orders_database_from_before_tagging_is_tagged_and_brought_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("orders.db")).unwrap();
        // As the first release left it: migration 1, no application id.
        conn.execute_batch(ORDER_MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();

        run(&mut conn, &ORDERS).unwrap();
        assert_eq!(version(&conn), latest());
        let id: i32 = conn.pragma_query_value(None, "application_id", |row| row.get(0)).unwrap();
        assert_eq!(id, ORDERS.application_id);
        conn.execute("INSERT INTO invoice_counters (year, last) VALUES (2026, 1)", []).unwrap();
    }

    #[test]
    fn running_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, &ORDERS).unwrap();
        run(&mut conn, &ORDERS).unwrap();
        assert_eq!(version(&conn), latest());
    }

    #[test]
    fn a_database_of_another_kind_is_refused() {
        const OTHER: Schema = Schema { name: "other", application_id: 42, migrations: &["CREATE TABLE t (x)"] };
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, &OTHER).unwrap();
        assert!(matches!(run(&mut conn, &ORDERS), Err(MigrationError::WrongDatabase { found: 42, .. })));
    }

    #[test]
    fn a_schema_newer_than_the_program_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, &ORDERS).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(run(&mut conn, &ORDERS), Err(MigrationError::TooNew { found: 99, .. })));
    }
}
