//! The order saga end to end, over HTTP, against the whole local runtime: the state machine in
//! the local engine, the workers, and the simulated partners. After each test, the guarantees of
//! the architecture are checked from the ledger, the carrier, the outbox and the store.

#![allow(clippy::unwrap_used)]

mod cancellation;
mod easypost;
mod facts;
mod failures;
mod faults;
mod happy_path;
mod stripe;
