//! Runtime errors of states, and the predefined `States.*` error names.
//!
//! A state that fails produces a [`StateError`]: an error *name* (what `Retry` and `Catch` match
//! with `ErrorEquals`) and a human-readable *cause*. The matching rules follow Step Functions,
//! which is stricter than the bare States Language specification:
//!
//! - `States.ALL` matches every error except `States.Runtime` and `States.DataLimitExceeded`;
//! - `States.TaskFailed` matches every error except `States.Timeout` (and those two);
//! - `States.Runtime` is never retried nor caught: it always fails the execution;
//! - `States.DataLimitExceeded` is matched only when named explicitly.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The predefined error names, as Step Functions spells them.
pub mod names {
    /// Wildcard matching any error name (but see the module documentation).
    pub const ALL: &str = "States.ALL";
    /// A task failed; as a matcher, any error except `States.Timeout`.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A task ran longer than `TimeoutSeconds`, or the execution exceeded its own timeout.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A task sent no heartbeat for longer than `HeartbeatSeconds`.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// An error the execution cannot recover from (bad path, bad intrinsic arguments, ...).
    pub const RUNTIME: &str = "States.Runtime";
    /// A `Choice` state matched no rule and has no `Default` (the name the States Language
    /// specification and Step Functions' error list give it).
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A payload exceeded 256 KiB.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// `ResultPath` could not be applied to the state input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// A branch of a `Parallel` or an iteration of a `Map` failed (reserved by AWS).
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// The task's principal lacks permissions (reserved; never raised locally).
    pub const PERMISSIONS: &str = "States.Permissions";
}

/// The largest payload (input, output or task result) a state may carry, in bytes of JSON text.
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;

/// A failed state: the error name matched by `Retry`/`Catch`, and its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct StateError {
    /// The stable, case-sensitive error name.
    pub error: String,
    /// A human-readable explanation.
    pub cause: String,
}

impl StateError {
    /// An error with the given name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: cause.into() }
    }

    /// A `States.Runtime` error: fails the execution whatever its `Retry` and `Catch` say.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// A `States.Timeout` error.
    pub fn timeout(cause: impl Into<String>) -> Self {
        Self::new(names::TIMEOUT, cause)
    }

    /// The error output that a `Catch` hands to its `Next` state: `{"Error": ..., "Cause": ...}`.
    pub fn to_error_output(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }

    /// Whether an `ErrorEquals` list matches this error.
    pub fn is_matched_by(&self, error_equals: &[String]) -> bool {
        error_equals.iter().any(|pattern| pattern_matches(pattern, &self.error))
    }
}

/// Whether one `ErrorEquals` entry matches an error name.
fn pattern_matches(pattern: &str, error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
    if pattern == error {
        return true;
    }
    if error == names::DATA_LIMIT_EXCEEDED {
        return false;
    }
    match pattern {
        names::ALL => true,
        names::TASK_FAILED => error != names::TIMEOUT,
        _ => false,
    }
}

/// Fails with `States.DataLimitExceeded` when `value` serializes to more than 256 KiB.
pub(crate) fn check_payload_size(value: &Value, what: &str) -> Result<(), StateError> {
    // Most payloads are far below the limit: a cheap upper bound settles them without
    // serializing anything.
    if size_upper_bound(value, PAYLOAD_LIMIT_BYTES) <= PAYLOAD_LIMIT_BYTES {
        return Ok(());
    }
    let size = json_size(value);
    if size > PAYLOAD_LIMIT_BYTES {
        return Err(StateError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("the {what} has {size} bytes, more than the limit of {PAYLOAD_LIMIT_BYTES}"),
        ));
    }
    Ok(())
}

/// An upper bound of the length of the JSON text of `value` (every string character counted
/// as a six-byte escape), or any number above `stop` once the bound exceeds it.
fn size_upper_bound(value: &Value, stop: usize) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        // The longest numbers (`-1.7976931348623157e308`) have 24 characters.
        Value::Number(_) => 24,
        Value::String(s) => 2 + 6 * s.len(),
        Value::Array(items) => {
            let mut total = 2 + items.len();
            for item in items {
                total += size_upper_bound(item, stop);
                if total > stop {
                    break;
                }
            }
            total
        }
        Value::Object(map) => {
            let mut total = 2 + map.len();
            for (key, item) in map {
                total += 3 + 6 * key.len() + size_upper_bound(item, stop);
                if total > stop {
                    break;
                }
            }
            total
        }
    }
}

/// The length of the compact JSON text of `value`, computed without allocating it.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// An error and its sources, as one line: `outer: inner: root`.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(name: &str) -> StateError {
        StateError::new(name, "cause")
    }

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn states_all_matches_task_errors_and_timeouts() {
        assert!(error("PaymentDeclined").is_matched_by(&list(&["States.ALL"])));
        assert!(error("States.Timeout").is_matched_by(&list(&["States.ALL"])));
    }

    #[test]
    fn states_runtime_is_matched_by_nothing_not_even_its_own_name() {
        assert!(!error(names::RUNTIME).is_matched_by(&list(&["States.ALL"])));
        assert!(!error(names::RUNTIME).is_matched_by(&list(&["States.Runtime"])));
    }

    #[test]
    fn data_limit_exceeded_is_matched_only_by_its_own_name() {
        assert!(!error(names::DATA_LIMIT_EXCEEDED).is_matched_by(&list(&["States.ALL"])));
        assert!(!error(names::DATA_LIMIT_EXCEEDED).is_matched_by(&list(&["States.TaskFailed"])));
        assert!(error(names::DATA_LIMIT_EXCEEDED).is_matched_by(&list(&["States.DataLimitExceeded"])));
    }

    #[test]
    fn task_failed_matches_everything_but_a_timeout() {
        assert!(error("Transient").is_matched_by(&list(&["States.TaskFailed"])));
        assert!(error(names::HEARTBEAT_TIMEOUT).is_matched_by(&list(&["States.TaskFailed"])));
        assert!(!error(names::TIMEOUT).is_matched_by(&list(&["States.TaskFailed"])));
    }

    #[test]
    fn a_named_error_matches_only_itself_case_sensitively() {
        assert!(error("OutOfStock").is_matched_by(&list(&["Other", "OutOfStock"])));
        assert!(!error("OutOfStock").is_matched_by(&list(&["outofstock"])));
    }

    #[test]
    fn a_payload_over_256_kib_exceeds_the_data_limit() {
        let big = Value::String("x".repeat(PAYLOAD_LIMIT_BYTES));
        let err = check_payload_size(&big, "state output").unwrap_err();
        assert_eq!(err.error, names::DATA_LIMIT_EXCEEDED);
        assert!(check_payload_size(&Value::String("x".repeat(1000)), "state output").is_ok());
    }

    #[test]
    fn a_payload_just_under_the_limit_passes_even_with_many_escapes_possible() {
        let text = Value::String("x".repeat(PAYLOAD_LIMIT_BYTES - 2));
        assert_eq!(json_size(&text), PAYLOAD_LIMIT_BYTES);
        assert!(check_payload_size(&text, "state output").is_ok());
        let escaped = Value::String("\n".repeat(PAYLOAD_LIMIT_BYTES / 2));
        assert!(check_payload_size(&escaped, "state output").is_err());
    }

    #[test]
    fn the_error_output_has_error_and_cause_fields() {
        assert_eq!(error("E").to_error_output(), json!({"Error": "E", "Cause": "cause"}));
    }
}
