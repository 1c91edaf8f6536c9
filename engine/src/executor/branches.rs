//! `Parallel` and `Map`: states that run bodies of their own, concurrently.
//!
//! Branches run as futures inside their parent's task; the first failure drops (cancels) the
//! others. Each branch fiber counts as busy for the clock while the parent waits parked.

use std::future::Future;
use std::sync::Arc;

use futures::future::try_join_all;
use futures::{FutureExt, StreamExt};
use serde_json::Value;

use super::states::seconds_value;
use super::{Ending, Fiber, Step};
use crate::definition::{Body, MapState, ParallelState, State};
use crate::errors::{StateError, check_payload_size};
use crate::history::{EventType, HistoryEvent};
use crate::store::{Change, Cursor, Phase};

/// Why a branch did not produce a result.
enum BranchFailure {
    State(StateError),
    Store(crate::store::StoreError),
}

impl Fiber<'_> {
    pub(super) async fn parallel(
        &self,
        state: &State,
        parallel: &ParallelState,
        cursor: &mut Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        self.sleep_if_retrying(cursor).await;
        let outcome = self.run_parallel(state, parallel, cursor, events).await;
        self.after_branches(
            state,
            &parallel.processing,
            cursor,
            outcome,
            events,
            EventType::ParallelStateSucceeded,
            EventType::ParallelStateFailed,
        )
    }

    pub(super) async fn map(
        &self,
        state: &State,
        map: &MapState,
        cursor: &mut Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        self.sleep_if_retrying(cursor).await;
        let outcome = self.run_map(state, map, cursor, events).await;
        self.after_branches(
            state,
            &map.processing,
            cursor,
            outcome,
            events,
            EventType::MapStateSucceeded,
            EventType::MapStateFailed,
        )
    }

    async fn sleep_if_retrying(&self, cursor: &mut Cursor) {
        if let Phase::Retrying { until } = cursor.phase {
            self.execution.services.clock.sleep_until(until).await;
            cursor.phase = Phase::Ready;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn after_branches(
        &self,
        state: &State,
        processing: &crate::definition::Processing,
        cursor: &mut Cursor,
        outcome: Result<Arc<Value>, StateError>,
        events: &mut Vec<HistoryEvent>,
        succeeded: EventType,
        failed: EventType,
    ) -> Result<Step, StateError> {
        match outcome {
            Ok(results) => {
                events.push(self.execution.event(succeeded).state(&cursor.state).map_index(self.map_index));
                match self.finish_with_result(state, processing, cursor, results, events) {
                    Ok(step) => Ok(step),
                    Err(error) => self.handle_error(state, processing, cursor, error, events),
                }
            }
            Err(error) => {
                events.push(
                    self.execution
                        .event(failed)
                        .state(&cursor.state)
                        .failure(&error.error, &error.cause)
                        .map_index(self.map_index),
                );
                self.handle_error(state, processing, cursor, error, events)
            }
        }
    }

    async fn run_parallel(
        &self,
        state: &State,
        parallel: &ParallelState,
        cursor: &Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Arc<Value>, StateError> {
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        let input = match &parallel.processing.parameters {
            Some(parameters) => Arc::new(self.with_scope(cursor, &effective, None, |scope| parameters.render(scope))?),
            None => effective,
        };
        check_payload_size(&input, "state input")?;
        events
            .push(self.execution.event(EventType::ParallelStateStarted).state(&cursor.state).map_index(self.map_index));
        self.flush(events).await?;
        let branches = parallel.branches.iter().enumerate().map(|(index, body)| {
            let scope = format!("{}/{}[{index}]", self.scope, cursor.state);
            self.run_branch(body, scope, None, Arc::clone(&input), Vec::new())
        });
        let results = {
            let _waiting = self.activity.park();
            try_join_all(branches).await
        };
        results.map(|r| Arc::new(Value::Array(r))).map_err(branch_error)
    }

    async fn run_map(
        &self,
        state: &State,
        map: &MapState,
        cursor: &Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Arc<Value>, StateError> {
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        let items = match &map.items_path {
            Some(path) => path.select(&effective, "ItemsPath")?,
            None => Value::clone(&effective),
        };
        let Value::Array(items) = items else {
            return Err(StateError::runtime(format!(
                "The Map state '{}' needs an array of items, but its ItemsPath selects {}",
                cursor.state,
                crate::paths::truncate_json(&items)
            )));
        };
        let limit = usize::try_from(seconds_value(&map.max_concurrency, &effective, "MaxConcurrencyPath")?)
            .unwrap_or(usize::MAX);
        let limit = if limit == 0 { items.len().max(1) } else { limit };
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let input = match &map.item_selector {
                Some(selector) => {
                    self.with_scope(cursor, &effective, Some((index, item)), |scope| selector.render(scope))?
                }
                None => item.clone(),
            };
            let input = Arc::new(input);
            inputs.push(input);
        }
        events.push(self.execution.event(EventType::MapStateStarted).state(&cursor.state).map_index(self.map_index));
        self.flush(events).await?;
        let count = inputs.len();
        let iterations = inputs.into_iter().enumerate().map(|(position, input)| {
            let scope = format!("{}/{}[{position}]", self.scope, cursor.state);
            let index = u64::try_from(position).unwrap_or(u64::MAX);
            let started =
                vec![self.execution.event(EventType::MapIterationStarted).state(&cursor.state).map_index(Some(index))];
            self.run_branch(&map.processor, scope, Some(index), input, started).map(move |result| (position, result))
        });
        let _waiting = self.activity.park();
        // Iterations start in item order, at most `limit` at a time; the first failure ends the
        // state and drops (cancels) the iterations still running.
        let mut running = futures::stream::iter(iterations).buffer_unordered(limit);
        let mut results = vec![Value::Null; count];
        while let Some((position, result)) = running.next().await {
            results[position] = result.map_err(branch_error)?;
        }
        Ok(Arc::new(Value::Array(results)))
    }

    /// Runs one branch or iteration to its end, committing its events as it goes.
    ///
    /// The branch counts as busy for the clock from the moment its future is created, so that
    /// time does not move between the creation of a batch of branches and their first poll.
    fn run_branch<'b>(
        &'b self,
        body: &'b Body,
        scope: String,
        map_index: Option<u64>,
        input: Arc<Value>,
        mut first_events: Vec<HistoryEvent>,
    ) -> impl Future<Output = Result<Value, BranchFailure>> + 'b {
        let execution = self.execution;
        let activity = execution.services.clock.track();
        async move {
            let start = &body.states[&*body.start_at];
            first_events.push(
                execution
                    .event(EventType::entered(start.kind.type_name()))
                    .state(&body.start_at)
                    .input(Arc::clone(&input))
                    .map_index(map_index),
            );
            execution.commit(first_events, Change::None).await.map_err(BranchFailure::Store)?;
            let map_state: Arc<str> = Arc::from(scope_state_name(&scope));
            let fiber = Fiber { execution, body, durable: false, scope, map_index, activity: &activity };
            let cursor = Cursor {
                state: body.start_at.clone(),
                input,
                entered_at: execution.now(),
                step: 0,
                attempts: Vec::new(),
                phase: Phase::Ready,
            };
            let Ending { result, mut events } = fiber.run(cursor).await.map_err(BranchFailure::Store)?;
            if let Some(index) = map_index {
                let mut event = match &result {
                    Ok(_) => execution.event(EventType::MapIterationSucceeded),
                    Err(error) => execution.event(EventType::MapIterationFailed).failure(&error.error, &error.cause),
                };
                event = event.state(&map_state).map_index(Some(index));
                events.push(event);
            }
            execution.commit(events, Change::None).await.map_err(BranchFailure::Store)?;
            result.map(Arc::unwrap_or_clone).map_err(BranchFailure::State)
        }
    }

    /// Commits pending events before branches start, so the history stays in order.
    async fn flush(&self, events: &mut Vec<HistoryEvent>) -> Result<(), StateError> {
        self.execution
            .commit(std::mem::take(events), Change::None)
            .await
            .map_err(|error| StateError::runtime(format!("The execution store failed: {error}")))
    }
}

/// The name of the state that owns a branch scope (`/Outer[0]/M[3]` → `M`).
fn scope_state_name(scope: &str) -> &str {
    let last = scope.rsplit('/').next().unwrap_or_default();
    last.split('[').next().unwrap_or_default()
}

fn branch_error(failure: BranchFailure) -> StateError {
    match failure {
        BranchFailure::State(error) => error,
        BranchFailure::Store(error) => StateError::runtime(format!("The execution store failed: {error}")),
    }
}
