//! The simple states (`Pass`, `Choice`, `Wait`, `Fail`), and the result and error processing
//! shared by `Task`, `Parallel` and `Map`.

use std::sync::Arc;

use serde_json::Value;
use time::Duration;

use super::{Fiber, Step};
use crate::choice::parse_timestamp;
use crate::definition::{ChoiceState, FailState, PassState, Processing, Seconds, State, Text, WaitFor};
use crate::errors::{StateError, check_payload_size};
use crate::history::HistoryEvent;
use crate::paths::Path;
use crate::retry::{Decision, decide};
use crate::store::{Cursor, Phase};

impl Fiber<'_> {
    pub(super) fn pass(
        &self,
        state: &State,
        pass: &PassState,
        cursor: &Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        let result = match (&pass.result, &pass.parameters) {
            (Some(result), _) => Arc::new(result.clone()),
            (None, Some(parameters)) => {
                Arc::new(self.with_scope(cursor, &effective, None, |scope| parameters.render(scope))?)
            }
            (None, None) => effective,
        };
        let output = pass.result_path.apply(&cursor.input, result)?;
        let output = state.output_path.apply(&output, "OutputPath")?;
        self.complete(state, cursor, output, events)
    }

    pub(super) fn choice(
        &self,
        state: &State,
        choice: &ChoiceState,
        cursor: &Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        let next = self.with_scope(cursor, &effective, None, |scope| -> Result<_, StateError> {
            for (rule, target) in &choice.choices {
                if rule.evaluate(scope)? {
                    return Ok(Some(target));
                }
            }
            Ok(None)
        })?;
        let next = next.or(choice.default.as_ref()).ok_or_else(|| {
            StateError::new(
                crate::errors::names::NO_CHOICE_MATCHED,
                format!("No Choice Rules matched in the Choice state '{}' and it has no Default", cursor.state),
            )
        })?;
        let output = state.output_path.apply(&effective, "OutputPath")?;
        if !Arc::ptr_eq(&output, &cursor.input) {
            check_payload_size(&output, "state output")?;
        }
        self.exit(state, cursor, &output, events);
        Ok(Step::Next { next: next.clone(), output })
    }

    pub(super) async fn wait(
        &self,
        state: &State,
        wait: &WaitFor,
        cursor: &mut Cursor,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        let effective = state.input_path.apply(&cursor.input, "InputPath")?;
        if let Phase::Waiting { until } = cursor.phase {
            self.execution.services.clock.sleep_until(until).await;
            let output = state.output_path.apply(&effective, "OutputPath")?;
            return self.complete(state, cursor, output, events);
        }
        let until = match wait {
            WaitFor::Seconds(seconds) => {
                self.execution.now() + Duration::seconds(seconds_value(seconds, &effective, "SecondsPath")?)
            }
            WaitFor::Timestamp(at) => *at,
            WaitFor::TimestampPath(path) => {
                let value = path.select(&effective, "TimestampPath")?;
                value.as_str().and_then(parse_timestamp).ok_or_else(|| {
                    StateError::runtime(format!(
                        "The TimestampPath '{}' does not hold an RFC 3339 timestamp: {value}",
                        path.as_str()
                    ))
                })?
            }
        };
        cursor.phase = Phase::Waiting { until };
        Ok(Step::Suspend)
    }

    pub(super) fn fail(&self, fail: &FailState, cursor: &Cursor) -> Result<Step, StateError> {
        let text = |text: &Option<Text>, field: &str| -> Result<String, StateError> {
            match text {
                None => Ok(String::new()),
                Some(Text::Literal(value)) => Ok(value.clone()),
                Some(Text::Dynamic(source)) => {
                    let value = self.with_scope(cursor, &cursor.input, None, |scope| source.evaluate(scope, field))?;
                    match value {
                        Value::String(s) => Ok(s),
                        other => Err(StateError::runtime(format!(
                            "The {field} of a Fail state must be a string, not {other}"
                        ))),
                    }
                }
            }
        };
        let error = text(&fail.error, "ErrorPath")?;
        let cause = text(&fail.cause, "CausePath")?;
        Ok(Step::Fail(StateError { error, cause }))
    }

    /// Applies `ResultSelector`, `ResultPath` and `OutputPath` to a result, then transitions.
    pub(super) fn finish_with_result(
        &self,
        state: &State,
        processing: &Processing,
        cursor: &Cursor,
        result: Arc<Value>,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        let selected = match &processing.result_selector {
            Some(selector) => Arc::new(self.with_scope(cursor, &result, None, |scope| selector.render(scope))?),
            None => result,
        };
        let output = processing.result_path.apply(&cursor.input, selected)?;
        let output = state.output_path.apply(&output, "OutputPath")?;
        self.complete(state, cursor, output, events)
    }

    /// Retries, catches or fails on `error`, per the state's `Retry` and `Catch`.
    pub(super) fn handle_error(
        &self,
        state: &State,
        processing: &Processing,
        cursor: &mut Cursor,
        error: StateError,
        events: &mut Vec<HistoryEvent>,
    ) -> Result<Step, StateError> {
        let services = &self.execution.services;
        match decide(&error, &processing.retry, &cursor.attempts, &processing.catch, || services.random_unit()) {
            Decision::Retry { retrier, delay } => {
                if cursor.attempts.len() < processing.retry.len() {
                    cursor.attempts.resize(processing.retry.len(), 0);
                }
                cursor.attempts[retrier] += 1;
                let delay = Duration::try_from(delay).unwrap_or(Duration::MAX);
                cursor.phase = Phase::Retrying { until: self.execution.now() + delay };
                Ok(Step::Suspend)
            }
            Decision::Catch { catcher } => {
                let catcher = &processing.catch[catcher];
                let output = catcher.result_path.apply(&cursor.input, Arc::new(error.to_error_output()))?;
                self.exit(state, cursor, &output, events);
                Ok(Step::Next { next: catcher.next.clone(), output })
            }
            Decision::Fail => Err(error),
        }
    }
}

/// Resolves a number of seconds that may come from a path; a path value must be a
/// non-negative integer.
pub(super) fn seconds_value(seconds: &Seconds, input: &Value, field: &str) -> Result<i64, StateError> {
    match seconds {
        Seconds::Literal(n) => Ok(i64::try_from(*n).unwrap_or(i64::MAX)),
        Seconds::Path(path) => path_seconds(path, input, field),
    }
}

fn path_seconds(path: &Path, input: &Value, field: &str) -> Result<i64, StateError> {
    let value = path.select(input, field)?;
    value.as_u64().and_then(|n| i64::try_from(n).ok()).ok_or_else(|| {
        StateError::runtime(format!(
            "The {field} '{}' must point to a non-negative integer, not {value}",
            path.as_str()
        ))
    })
}
