//! The order API over a real socket, on a fresh data directory per test.

#![allow(clippy::unwrap_used)]

mod cancel;
mod idempotency;
mod invalid_input;
mod listing;
mod patch;
mod placing;
mod problems;
mod products_and_docs;
mod restart;
mod security;
mod staying_up;
mod webhooks;
