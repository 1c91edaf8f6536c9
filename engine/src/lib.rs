//! A faithful, durable interpreter for Amazon States Language (ASL) state machines.
//!
//! The same definition file that AWS Step Functions runs can run here, with the same
//! semantics: input and output processing, `Retry` and `Catch`, the predefined `States.*`
//! errors, intrinsic functions, `Parallel` and `Map`, waits and timeouts. Executions are
//! persisted step by step and resume after a restart.
//!
//! # A tour of the modules
//!
//! - [`definition`]: [`StateMachine::from_json`] loads and validates a document (after
//!   `${Name}` substitutions, see [`substitution`]); errors name the state and field.
//! - [`paths`]: JSONPath, reference paths (`ResultPath`), payload templates (`Parameters`,
//!   `ResultSelector`, `ItemSelector`) and the context object (`$$`).
//! - [`intrinsics`]: `States.Format`, `States.Array`, `States.Hash`, ... parsed at load time.
//! - [`choice`]: `Choice` rules.
//! - [`retry`]: which retrier or catcher handles an error, and the backoff.
//! - [`errors`]: [`StateError`] and the `States.*` names with Step Functions' matching rules.
//! - [`task`]: the [`TaskHandler`] trait, the [`TaskRegistry`], and [`CommandTask`] (a shell
//!   command as a task).
//! - `executor` (private): the interpreter that walks states and commits each step.
//! - [`engine`]: the [`Engine`]: start (idempotently), wait, describe, history, stop, resume,
//!   shut down; a bound on tasks in flight.
//! - [`store`]: the [`ExecutionStore`] trait, [`MemoryStore`] and [`SqliteStore`] (WAL, group
//!   commit).
//! - [`history`]: [`HistoryEvent`]s in Step Functions' vocabulary.
//! - [`clock`] (the `orderflow-clock` crate, re-exported): the [`Clock`] trait, [`SystemClock`] (with a time scale) and [`VirtualClock`].
//! - [`cli`]: the `asl` command-line runner.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use asl_engine::{Engine, ExecutionStatus, MemoryStore, StateMachine, TaskFailure, TaskRegistry, VirtualClock};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let src = r#"{
//!   "StartAt": "Price",
//!   "States": {
//!     "Price": {"Type": "Task", "Resource": "${PriceFn}", "ResultPath": "$.price", "End": true}
//!   }
//! }"#;
//! let subs = HashMap::from([("PriceFn".to_owned(), "local:Price".to_owned())]);
//! let machine = StateMachine::from_json(src, &subs).unwrap();
//!
//! let tasks = TaskRegistry::new().with_fn("local:Price", |invocation| async move {
//!     let qty = invocation.input["qty"].as_i64().unwrap_or(0);
//!     Ok::<_, TaskFailure>(json!(qty * 250))
//! });
//! let engine = Engine::builder()
//!     .store(Arc::new(MemoryStore::new()))
//!     .tasks(tasks)
//!     .clock(Arc::new(VirtualClock::new()))
//!     .build();
//! engine.register("order", machine);
//!
//! engine.start_execution("order", "ord_123", json!({"qty": 2})).await.unwrap();
//! let done = engine.wait("ord_123").await.unwrap();
//! assert_eq!(done.status, ExecutionStatus::Succeeded);
//! assert_eq!(done.output.as_deref(), Some(&json!({"qty": 2, "price": 500})));
//! # });
//! ```

pub mod choice;
pub mod cli;
pub use orderflow_clock as clock;
pub mod definition;
pub mod engine;
pub mod errors;
mod executor;
pub mod history;
pub mod intrinsics;
pub mod paths;
pub mod retry;
pub mod store;
pub mod substitution;
pub mod task;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use definition::{LoadError, StateMachine};
pub use engine::{
    Engine, EngineBuilder, EngineError, EngineHealth, ExecutionDescription, ResumeReport, StartedExecution,
};
pub use errors::StateError;
pub use history::{EventType, HistoryEvent};
pub use store::{ExecutionStatus, ExecutionStore, MemoryStore, SqliteOptions, SqliteStore, StoreError, Synchronous};
pub use task::{CommandTask, Heartbeat, TaskContext, TaskFailure, TaskHandler, TaskInvocation, TaskRegistry};
