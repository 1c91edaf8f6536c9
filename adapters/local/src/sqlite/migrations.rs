//! The schema, as an append-only list of migrations tracked by `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
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
];

pub(super) fn run(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (version, migration) in (1_i64..).zip(MIGRATIONS).skip_while(|(version, _)| *version <= current) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
