//! The `Task` state: parameters, the handler call with its timeout and heartbeat, and the result.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use time::Duration;

use super::states::seconds_value;
use super::{Fiber, Step};
use crate::clock::Sleep;
use crate::definition::{State, TaskState};
use crate::errors::{StateError, check_payload_size, names};
use crate::history::{EventType, HistoryEvent};
use crate::store::{Cursor, Phase};
use crate::task::{Heartbeat, TaskContext, TaskInvocation};

impl Fiber<'_> {
    pub(super) async fn task(
        &self,
        state: &State,
        task: &TaskState,
        cursor: &mut Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        if let Phase::Retrying { until } = cursor.phase {
            self.execution.services.clock.sleep_until(until).await;
            cursor.phase = Phase::Ready;
        }
        match self.attempt_task(state, task, cursor, events).await {
            Ok(result) => match self.finish_with_result(state, &task.processing, cursor, result, events) {
                Ok(step) => Ok(step),
                Err(error) => self.handle_error(state, &task.processing, cursor, error, events),
            },
            Err(error) => self.handle_error(state, &task.processing, cursor, error, events),
        }
    }

    /// One call of the task's handler; the result is the raw task result.
    async fn attempt_task(
        &self,
        state: &State,
        task: &TaskState,
        cursor: &Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Arc<Value>, StateError> {
        let execution = self.execution;
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        let parameters = match &task.processing.parameters {
            Some(parameters) => self.with_scope(cursor, &effective, None, |scope| parameters.render(scope))?,
            None => Value::clone(&effective),
        };
        check_payload_size(&parameters, "task input")?;
        let timeout = task.timeout.as_ref().map(|s| seconds_value(s, &effective, "TimeoutSecondsPath")).transpose()?;
        let heartbeat =
            task.heartbeat.as_ref().map(|s| seconds_value(s, &effective, "HeartbeatSecondsPath")).transpose()?;
        let failed = |event_type: EventType, error: &StateError| {
            execution
                .event(event_type)
                .state(&cursor.state)
                .resource(&task.resource)
                .failure(&error.error, &error.cause)
                .map_index(self.map_index)
        };

        events.push(
            execution
                .event(EventType::TaskScheduled)
                .state(&cursor.state)
                .resource(&task.resource)
                .input(parameters.clone())
                .map_index(self.map_index),
        );
        let Some(handler) = execution.services.tasks.get(&task.resource) else {
            let error =
                StateError::runtime(format!("No task handler is registered for the resource '{}'", task.resource));
            events.push(failed(EventType::TaskFailed, &error));
            return Err(error);
        };
        let heartbeat_handle = Heartbeat::default();
        let invocation = TaskInvocation {
            resource: task.resource.clone(),
            input: parameters,
            context: TaskContext {
                execution_name: execution.name.clone(),
                execution_id: execution.id(),
                state_name: cursor.state.to_string(),
                retry_count: cursor.attempts.iter().sum(),
                map_index: self.map_index,
                attempt_id: format!("{}{}/{}#{}", execution.name, self.scope, cursor.state, cursor.step),
                heartbeat: heartbeat_handle.clone(),
            },
        };

        let slot = {
            let _waiting = self.activity.park();
            execution
                .services
                .task_slots
                .acquire()
                .await
                .map_err(|_| StateError::runtime("The engine is shutting down"))?
        };
        events.push(
            execution
                .event(EventType::TaskStarted)
                .state(&cursor.state)
                .resource(&task.resource)
                .map_index(self.map_index),
        );
        let outcome = self.call(handler.invoke(invocation), timeout, heartbeat, &heartbeat_handle).await;
        drop(slot);

        match outcome {
            Ok(result) => {
                let result = Arc::new(result);
                events.push(
                    execution
                        .event(EventType::TaskSucceeded)
                        .state(&cursor.state)
                        .resource(&task.resource)
                        .output(Arc::clone(&result))
                        .map_index(self.map_index),
                );
                check_payload_size(&result, "task result")?;
                Ok(result)
            }
            Err(error) => {
                let event_type = if error.error == names::TIMEOUT || error.error == names::HEARTBEAT_TIMEOUT {
                    EventType::TaskTimedOut
                } else {
                    EventType::TaskFailed
                };
                events.push(failed(event_type, &error));
                Err(error)
            }
        }
    }

    /// Awaits a handler call, racing its timeout and heartbeat timers.
    async fn call(
        &self,
        call: impl Future<Output = Result<Value, crate::task::TaskFailure>>,
        timeout: Option<i64>,
        heartbeat: Option<i64>,
        beats: &Heartbeat,
    ) -> Result<Value, StateError> {
        let clock = &self.execution.services.clock;
        let started = clock.now();
        let mut timeout_timer = optional(timeout.map(|s| clock.timer(started + Duration::seconds(s))));
        let mut call = std::pin::pin!(call);
        loop {
            let heartbeat_timer = optional(heartbeat.map(|s| clock.timer(clock.now() + Duration::seconds(s))));
            tokio::select! {
                result = &mut call => {
                    return result.map_err(|failure| StateError::new(failure.error, failure.cause));
                }
                () = &mut timeout_timer => {
                    return Err(StateError::timeout(format!("The task did not complete within {} seconds", timeout.unwrap_or_default())));
                }
                () = heartbeat_timer => {
                    return Err(StateError::new(
                        names::HEARTBEAT_TIMEOUT,
                        format!("The task sent no heartbeat for {} seconds", heartbeat.unwrap_or_default()),
                    ));
                }
                () = beats.next(), if heartbeat.is_some() => {}
            }
        }
    }
}

/// A timer that never fires when absent.
fn optional(timer: Option<Sleep>) -> Sleep {
    timer.unwrap_or_else(|| Box::pin(std::future::pending()))
}
