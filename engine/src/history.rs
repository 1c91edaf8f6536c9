//! Execution history, in Step Functions' event vocabulary.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

macro_rules! event_types {
    ($($name:ident),* $(,)?) => {
        /// The type of a history event, named as in Step Functions' `GetExecutionHistory`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(#[allow(missing_docs)] $name,)*
        }

        impl EventType {
            /// The event type's name, e.g. `"TaskStateEntered"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }

        impl FromStr for EventType {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $(stringify!($name) => Ok(Self::$name),)*
                    other => Err(format!("unknown history event type '{other}'")),
                }
            }
        }
    };
}

event_types!(
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    ExecutionAborted,
    TaskStateEntered,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskStateExited,
    PassStateEntered,
    PassStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateExited,
);

impl EventType {
    /// `<Type>StateEntered` for a state type name.
    pub(crate) fn entered(state_type: &str) -> Self {
        match state_type {
            "Task" => Self::TaskStateEntered,
            "Pass" => Self::PassStateEntered,
            "Choice" => Self::ChoiceStateEntered,
            "Wait" => Self::WaitStateEntered,
            "Succeed" => Self::SucceedStateEntered,
            "Fail" => Self::FailStateEntered,
            "Parallel" => Self::ParallelStateEntered,
            _ => Self::MapStateEntered,
        }
    }

    /// `<Type>StateExited` for a state type name (`Fail` has none).
    pub(crate) fn exited(state_type: &str) -> Option<Self> {
        Some(match state_type {
            "Task" => Self::TaskStateExited,
            "Pass" => Self::PassStateExited,
            "Choice" => Self::ChoiceStateExited,
            "Wait" => Self::WaitStateExited,
            "Succeed" => Self::SucceedStateExited,
            "Parallel" => Self::ParallelStateExited,
            "Map" => Self::MapStateExited,
            _ => return None,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// Position in the history, from 1.
    pub id: u64,
    /// When it happened (by the engine's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The state concerned, for state and task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_name: Option<Arc<str>>,
    /// The task resource, for task events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The state or execution input, for `...Entered` and `ExecutionStarted`; the task
    /// parameters for `TaskScheduled`. Shared with the state data it records, not copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Arc<Value>>,
    /// The output, for `...Exited`, `TaskSucceeded` and `ExecutionSucceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Arc<Value>>,
    /// The error name, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error cause, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The `Map` iteration this event belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_index: Option<u64>,
}

impl HistoryEvent {
    /// An event with only its type set; the id is assigned when recorded.
    pub(crate) fn new(event_type: EventType, timestamp: OffsetDateTime) -> Self {
        Self {
            id: 0,
            timestamp,
            event_type,
            state_name: None,
            resource: None,
            input: None,
            output: None,
            error: None,
            cause: None,
            map_index: None,
        }
    }

    pub(crate) fn state(mut self, name: &Arc<str>) -> Self {
        self.state_name = Some(Arc::clone(name));
        self
    }

    pub(crate) fn input(mut self, input: impl Into<Arc<Value>>) -> Self {
        self.input = Some(input.into());
        self
    }

    pub(crate) fn output(mut self, output: impl Into<Arc<Value>>) -> Self {
        self.output = Some(output.into());
        self
    }

    pub(crate) fn failure(mut self, error: &str, cause: &str) -> Self {
        self.error = Some(error.to_owned());
        self.cause = Some(cause.to_owned());
        self
    }

    pub(crate) fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    pub(crate) fn map_index(mut self, index: Option<u64>) -> Self {
        self.map_index = index;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_names() {
        for name in ["TaskStateEntered", "ExecutionSucceeded", "MapIterationStarted"] {
            assert_eq!(name.parse::<EventType>().unwrap().as_str(), name);
        }
        assert!("Nope".parse::<EventType>().is_err());
    }

    #[test]
    fn an_event_serializes_in_camel_case_without_empty_fields() {
        let event = HistoryEvent::new(EventType::TaskFailed, crate::clock::VIRTUAL_EPOCH)
            .state(&Arc::from("Charge"))
            .failure("E", "c");
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 0, "timestamp": "2024-01-01T00:00:00Z", "type": "TaskFailed",
                "stateName": "Charge", "error": "E", "cause": "c"})
        );
    }
}
