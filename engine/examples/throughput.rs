//! Throughput of the engine on the benchmark machine (`benches/ten-states.asl.json`), printed as
//! `name value unit` lines for `bench/engine.sh`:
//!
//! - `memory_sequential`: executions per second, one after the other (start, then wait for the
//!   end), on a [`MemoryStore`] that keeps every history;
//! - `memory_sequential_forgetting`: the same on [`MemoryStore::forgetting_finished`];
//! - `sqlite_transitions`: state transitions per second persisted in SQLite (WAL,
//!   `synchronous=FULL`, a commit per step), 500 executions at a time.
//!
//! ```sh
//! cargo run --release -p asl-engine --example throughput -- [SECONDS_PER_MEASURE] [ONLY]
//! ```
//!
//! With `ONLY` (`memory_sequential`, `memory_sequential_forgetting` or `sqlite`), only that
//! measure runs: handy under `perf record`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_engine::{
    Engine, ExecutionStore, MemoryStore, SqliteOptions, SqliteStore, StateMachine, Synchronous, VirtualClock,
};
use serde_json::{Value, json};

fn machine() -> StateMachine {
    StateMachine::from_json(include_str!("../benches/ten-states.asl.json"), &HashMap::<String, String>::new())
        .expect("the benchmark machine is valid")
}

fn engine(store: Arc<dyn ExecutionStore>) -> Engine {
    let engine = Engine::builder().store(store).clock(Arc::new(VirtualClock::new())).build();
    engine.register("bench", machine());
    engine
}

/// The input of execution `n`: half of them take the `Big` branch.
fn input(n: u64) -> Value {
    json!({"id": n, "total": n % 200})
}

/// Runs executions one after the other for `budget`; returns executions per second.
async fn sequential(store: Arc<dyn ExecutionStore>, budget: Duration) -> f64 {
    let engine = engine(store);
    // Warm-up: allocator, caches, branch predictors.
    for n in 0..2_000 {
        let name = format!("w{n}");
        engine.start_execution("bench", &name, input(n)).await.expect("start");
        engine.wait(&name).await.expect("wait");
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        for _ in 0..500 {
            let name = format!("e{n}");
            engine.start_execution("bench", &name, input(n)).await.expect("start");
            engine.wait(&name).await.expect("wait");
            n += 1;
        }
    }
    count(n) / started.elapsed().as_secs_f64()
}

/// The state transitions of one execution: the states it enters.
async fn transitions_per_execution() -> u64 {
    let engine = engine(Arc::new(MemoryStore::new()));
    engine.start_execution("bench", "count", input(1)).await.expect("start");
    engine.wait("count").await.expect("wait");
    let history = engine.history("count").await.expect("history");
    let entered = history.iter().filter(|event| event.event_type.as_str().ends_with("StateEntered")).count();
    u64::try_from(entered).expect("a small count")
}

/// Runs batches of 500 concurrent executions on SQLite for `budget`; returns executions per second.
async fn sqlite(budget: Duration) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions { synchronous: Synchronous::Full, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(dir.path().join("bench.db"), &options).expect("open the database");
    let engine = engine(Arc::new(store));
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        let runs: Vec<_> = (n..n + 500)
            .map(|i| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let name = format!("s{i}");
                    engine.start_execution("bench", &name, input(i)).await.expect("start");
                    engine.wait(&name).await.expect("wait");
                })
            })
            .collect();
        for run in runs {
            run.await.expect("join");
        }
        n += 500;
    }
    count(n) / started.elapsed().as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn count(n: u64) -> f64 {
    n as f64
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let only = std::env::args().nth(2);
    let wanted = |name: &str| only.as_deref().is_none_or(|only| only == name);
    let budget = Duration::from_secs_f64(seconds);

    let sequential_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let transitions = sequential_runtime.block_on(transitions_per_execution());
    if wanted("memory_sequential") {
        let keeping = sequential_runtime.block_on(sequential(Arc::new(MemoryStore::new()), budget));
        println!("memory_sequential {keeping:.0} executions/s");
    }
    if wanted("memory_sequential_forgetting") {
        let forgetting = sequential_runtime.block_on(sequential(Arc::new(MemoryStore::forgetting_finished()), budget));
        println!("memory_sequential_forgetting {forgetting:.0} executions/s");
    }
    if wanted("sqlite") {
        let parallel_runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let executions = parallel_runtime.block_on(sqlite(budget));
        println!("sqlite_transitions {:.0} transitions/s", executions * count(transitions));
        println!("sqlite_executions {executions:.0} executions/s");
    }
    println!("transitions_per_execution {transitions} transitions");
}
