//! Integration tests of the engine, through its public API only.

mod helpers;

mod cli;
mod concurrency;
mod durability;
mod errors;
mod io_processing;
mod states;
