//! Throughput of the engine.
//!
//! - `in_memory/sequential`: executions per second of a 10-state Pass/Choice machine on a
//!   [`MemoryStore`], one after the other (start, then wait for the end), keeping every
//!   execution's history.
//! - `in_memory/sequential_forgetting`: the same on [`MemoryStore::forgetting_finished`], which
//!   drops an execution when it ends (memory bounded by the running executions).
//! - `sqlite/{full,normal}`: state transitions per second of the same machine persisted in
//!   SQLite (WAL, group commit), 500 executions at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use asl_engine::{
    Engine, ExecutionStore, MemoryStore, SqliteOptions, SqliteStore, StateMachine, Synchronous, VirtualClock,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// Ten states: six Pass, three Choice, one Succeed (`ten-states.asl.json`, which
/// `bench/engine.sh` also runs with aws-local-stepfunctions).
fn ten_states() -> StateMachine {
    StateMachine::from_json(include_str!("ten-states.asl.json"), &std::collections::HashMap::<String, String>::new())
        .expect("the benchmark machine is valid")
}

/// The state transitions of one execution: it enters nine of the ten states (Big or Small).
const TRANSITIONS_PER_EXECUTION: u64 = 9;

fn engine(store: Arc<dyn ExecutionStore>) -> Engine {
    let engine = Engine::builder().store(store).clock(Arc::new(VirtualClock::new())).build();
    engine.register("bench", ten_states());
    engine
}

fn input(n: u64) -> Value {
    json!({"id": n, "total": n % 200})
}

fn in_memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("in_memory");
    group.throughput(Throughput::Elements(1));
    for (label, forget) in [("sequential", false), ("sequential_forgetting", true)] {
        group.bench_function(label, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let store = if forget { MemoryStore::forgetting_finished() } else { MemoryStore::new() };
                    let engine = engine(Arc::new(store));
                    let started = Instant::now();
                    for n in 0..iterations {
                        let name = format!("e{n}");
                        engine.start_execution("bench", &name, input(n)).await.expect("start");
                        engine.wait(&name).await.expect("wait");
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("sqlite");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(TRANSITIONS_PER_EXECUTION));
    for (label, synchronous) in [("full", Synchronous::Full), ("normal", Synchronous::Normal)] {
        group.bench_function(label, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let options = SqliteOptions { synchronous, ..SqliteOptions::default() };
                    let store = SqliteStore::open_with(dir.path().join("bench.db"), &options).expect("open");
                    let engine = engine(Arc::new(store));
                    let started = Instant::now();
                    let mut n = 0;
                    while n < iterations {
                        let batch = (iterations - n).min(500);
                        let runs = (n..n + batch).map(|i| {
                            let engine = engine.clone();
                            tokio::spawn(async move {
                                let name = format!("s{i}");
                                engine.start_execution("bench", &name, input(i)).await.expect("start");
                                engine.wait(&name).await.expect("wait");
                            })
                        });
                        for run in runs.collect::<Vec<_>>() {
                            run.await.expect("join");
                        }
                        n += batch;
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, in_memory, sqlite);
criterion_main!(benches);
