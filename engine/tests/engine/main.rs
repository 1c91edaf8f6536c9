//! Integration tests of the engine, through its public API only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_pass_by_value)]

mod helpers;

mod cli;
mod concurrency;
mod durability;
mod errors;
mod io_processing;
mod states;
mod store_failures;
