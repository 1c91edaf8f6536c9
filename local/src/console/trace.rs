//! What an execution did in each state of its machine, read from its history: which states it
//! entered, left, failed in (and whether a catcher took the failure), how often each was
//! retried, which transitions it took, and where it is now.

use std::collections::HashSet;
use std::sync::Arc;

use asl_engine::{EventType, ExecutionStatus, HistoryEvent};
use serde_json::Value;

use super::graph::{EdgeKind, MachineGraph};

/// How a state fared, as the graph shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The execution never entered it.
    NotEntered,
    /// The execution is in it now.
    Running,
    /// Entered and left normally.
    Succeeded,
    /// It failed: a catcher took the error to `caught_by`, or nothing did (or it is a `Fail`
    /// state) and the execution failed there.
    Failed { caught_by: Option<String> },
}

/// One state's part in the execution.
#[derive(Debug, Clone, Default)]
pub struct StateRun {
    /// How many times the execution entered it.
    pub entries: u32,
    /// How many times its task was tried again after a failure.
    pub retries: u32,
    /// Its input the last time it was entered.
    pub input: Option<Arc<Value>>,
    /// Its output the last time it left.
    pub output: Option<Arc<Value>>,
    /// The last error it failed with, and its cause.
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Where the execution stands with it.
    stage: Stage,
}

/// Where an execution stands with one state, as its events tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Stage {
    /// Never entered, or entered and left normally.
    #[default]
    Outside,
    /// Entered and not left.
    Inside,
    /// Inside, and the last thing that happened was a failure (a retry may follow).
    Failing,
    /// Left after a failure: a catcher took the error.
    Caught,
    /// A `Fail` state, entered.
    Failed,
}

/// The execution's path through its machine.
#[derive(Debug, Clone)]
pub struct Trace {
    /// By state index in the graph.
    pub states: Vec<StateRun>,
    /// The outcome of each state, by index.
    pub outcomes: Vec<Outcome>,
    /// The edges taken, by index in the graph.
    pub taken: HashSet<usize>,
}

impl Trace {
    /// Follows `events` (oldest first) over `graph`; `status` is the execution's, and `current`
    /// the state it is in, as the engine describes it: a step's events are recorded when the
    /// step ends, so a task in flight may not be in the history yet.
    pub fn follow(
        graph: &MachineGraph,
        events: &[HistoryEvent],
        status: ExecutionStatus,
        current: Option<&str>,
    ) -> Self {
        let mut states = vec![StateRun::default(); graph.states.len()];
        let index_of = |event: &HistoryEvent| event.state_name.as_deref().and_then(|name| graph.index_of(name));
        // Entered events, by position in the history: where the execution went next.
        let mut entered_at = Vec::new();
        for (position, event) in events.iter().enumerate() {
            let Some(index) = index_of(event) else { continue };
            let run = &mut states[index];
            match event.event_type {
                EventType::TaskScheduled if run.stage == Stage::Failing => {
                    run.retries += 1;
                    run.stage = Stage::Inside;
                }
                EventType::TaskFailed
                | EventType::TaskTimedOut
                | EventType::ParallelStateFailed
                | EventType::MapStateFailed => {
                    run.stage = Stage::Failing;
                    run.error.clone_from(&event.error);
                    run.cause.clone_from(&event.cause);
                }
                EventType::FailStateEntered => {
                    run.entries += 1;
                    run.input.clone_from(&event.input);
                    run.stage = Stage::Failed;
                    entered_at.push((position, index));
                }
                t if t.as_str().ends_with("StateEntered") => {
                    run.entries += 1;
                    run.input.clone_from(&event.input);
                    run.stage = Stage::Inside;
                    entered_at.push((position, index));
                }
                t if t.as_str().ends_with("StateExited") => {
                    run.output.clone_from(&event.output);
                    run.stage = if run.stage == Stage::Failing { Stage::Caught } else { Stage::Outside };
                }
                _ => {}
            }
        }

        // A transition was taken when, after its source state was left, the next state entered
        // along one of the source's edges is its target.
        let mut taken = HashSet::new();
        for (position, event) in events.iter().enumerate() {
            let Some(from) = index_of(event) else { continue };
            let leaving = event.event_type.as_str().ends_with("StateExited");
            let forking = event.event_type.as_str().ends_with("StateEntered");
            if !leaving && !forking {
                continue;
            }
            let mut targets_seen = HashSet::new();
            for &(_, to) in entered_at.iter().filter(|(at, _)| *at > position) {
                let Some(edge) = graph.edge_between(from, to) else { continue };
                let into = matches!(graph.edges[edge].kind, EdgeKind::Into(_));
                // Entering a Parallel or Map state leads into each of its branches; leaving
                // any state leads along one transition only.
                if into && forking {
                    if targets_seen.insert(to) {
                        taken.insert(edge);
                    }
                } else if !into && leaving {
                    taken.insert(edge);
                    break;
                }
            }
        }

        let running = status == ExecutionStatus::Running;
        let outcomes = states
            .iter()
            .enumerate()
            .map(|(index, run)| {
                let in_progress = matches!(run.stage, Stage::Inside | Stage::Failing);
                if running && current == Some(graph.states[index].name.as_str()) {
                    Outcome::Running
                } else if run.entries == 0 {
                    Outcome::NotEntered
                } else if run.stage == Stage::Failed {
                    Outcome::Failed { caught_by: None }
                } else if run.stage == Stage::Caught {
                    let caught_by = taken
                        .iter()
                        .map(|&edge| &graph.edges[edge])
                        .find(|edge| edge.from == index && matches!(edge.kind, EdgeKind::Catch(_)))
                        .map(|edge| graph.states[edge.to].name.clone());
                    Outcome::Failed { caught_by }
                } else if in_progress && running {
                    Outcome::Running
                } else if in_progress && run.error.is_some() {
                    Outcome::Failed { caught_by: None }
                } else {
                    Outcome::Succeeded
                }
            })
            .collect();
        Self { states, outcomes, taken }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use asl_engine::{Engine, MemoryStore, StateMachine, TaskFailure, TaskRegistry, VirtualClock};
    use serde_json::json;

    use super::*;

    const MACHINE: &str = r#"{"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "local:Charge", "Next": "Done",
                   "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 3, "IntervalSeconds": 1}],
                   "Catch": [{"ErrorEquals": ["Declined"], "Next": "Refund"}]},
        "Refund": {"Type": "Pass", "Next": "Cancelled"},
        "Cancelled": {"Type": "Succeed"},
        "Done": {"Type": "Succeed"}}}"#;

    /// An engine running `MACHINE` with `tasks`, its execution `e` started.
    async fn started(tasks: TaskRegistry) -> Engine {
        let engine = Engine::builder()
            .store(Arc::new(MemoryStore::new()))
            .tasks(tasks)
            .clock(Arc::new(VirtualClock::new()))
            .build();
        engine.register(
            "m",
            StateMachine::from_json(MACHINE, &std::collections::HashMap::<String, String>::new()).unwrap(),
        );
        engine.start_execution("m", "e", json!({})).await.unwrap();
        engine
    }

    async fn run(attempts_failing: u32, last_error: &'static str) -> (MachineGraph, Trace) {
        let tried = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let tasks = TaskRegistry::new().with_fn("local:Charge", move |_| {
            let tried = Arc::clone(&tried);
            async move {
                let attempt = tried.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if attempt < attempts_failing {
                    Err(TaskFailure::new("Transient", "lost"))
                } else if last_error.is_empty() {
                    Ok(json!({"charged": true}))
                } else {
                    Err(TaskFailure::new(last_error, "the card was declined"))
                }
            }
        });
        let engine = started(tasks).await;
        let done = engine.wait("e").await.unwrap();
        let graph = MachineGraph::from_definition(MACHINE).unwrap();
        let trace = Trace::follow(&graph, &engine.history("e").await.unwrap(), done.status, None);
        (graph, trace)
    }

    #[tokio::test]
    async fn retries_are_counted_and_the_state_succeeds_when_a_retry_does() {
        let (graph, trace) = run(2, "").await;
        let charge = graph.index_of("Charge").unwrap();
        assert_eq!(trace.states[charge].retries, 2);
        assert_eq!(trace.outcomes[charge], Outcome::Succeeded);
        assert_eq!(trace.outcomes[graph.index_of("Refund").unwrap()], Outcome::NotEntered);
        assert!(trace.taken.contains(&graph.edge_between(charge, graph.index_of("Done").unwrap()).unwrap()));
    }

    #[tokio::test]
    async fn a_caught_failure_marks_the_state_failed_and_the_catch_taken() {
        let (graph, trace) = run(1, "Declined").await;
        let charge = graph.index_of("Charge").unwrap();
        let refund = graph.index_of("Refund").unwrap();
        assert_eq!(trace.outcomes[charge], Outcome::Failed { caught_by: Some("Refund".to_owned()) });
        assert_eq!(trace.states[charge].error.as_deref(), Some("Declined"));
        assert_eq!(trace.states[charge].retries, 1);
        assert!(trace.taken.contains(&graph.edge_between(charge, refund).unwrap()));
        assert!(!trace.taken.contains(&graph.edge_between(charge, graph.index_of("Done").unwrap()).unwrap()));
        assert_eq!(trace.outcomes[graph.index_of("Done").unwrap()], Outcome::NotEntered);
    }

    #[tokio::test]
    async fn the_state_an_execution_is_in_is_running_even_before_its_events_are_recorded() {
        let tasks = TaskRegistry::new().with_fn("local:Charge", |_| async {
            std::future::pending::<()>().await;
            Ok::<_, TaskFailure>(json!({}))
        });
        let engine = started(tasks).await;
        let in_charge = async {
            loop {
                let description = engine.describe("e").await.unwrap();
                if description.current_state.as_deref() == Some("Charge") {
                    return description;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        let description = tokio::time::timeout(std::time::Duration::from_secs(10), in_charge).await.unwrap();
        assert_eq!(description.status, ExecutionStatus::Running);
        let events = engine.history("e").await.unwrap();

        let graph = MachineGraph::from_definition(MACHINE).unwrap();
        let trace = Trace::follow(&graph, &events, description.status, description.current_state.as_deref());
        assert_eq!(trace.outcomes[graph.index_of("Charge").unwrap()], Outcome::Running);
        assert_eq!(trace.outcomes[graph.index_of("Done").unwrap()], Outcome::NotEntered);
        assert!(trace.taken.is_empty());
    }
}
