//! The API's execution view from Step Functions: `DescribeExecution` and `GetExecutionHistory`
//! (read by the adapter) mapped into [`orderflow_api::executions`].
//!
//! The mapping lives here, not in `orderflow-adapters-aws`, so that the adapters stay free of the
//! HTTP API (and its web framework): the Lambda host is the one crate that knows both sides.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sfn::types::{self as sfn, HistoryEvent};
use orderflow_adapters_aws::StepFunctionsWorkflows;
use orderflow_adapters_aws::workflows::RecordedExecution;
use orderflow_api::ExecutionHistory;
use orderflow_api::executions::{Execution, ExecutionDescription, ExecutionEvent, ExecutionStatus};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BoxError;
use serde_json::Value;
use time::OffsetDateTime;

/// Orders' executions as Step Functions recorded them, in the API's view.
#[derive(Debug, Clone)]
pub struct StepFunctionsHistory(pub StepFunctionsWorkflows);

#[async_trait]
impl ExecutionHistory for StepFunctionsHistory {
    async fn execution(&self, order: &OrderId) -> Result<Option<Execution>, BoxError> {
        Ok(self.0.execution(order).await?.map(|recorded| execution_view(&recorded)))
    }

    fn trace_link(&self, order: &OrderId) -> Option<String> {
        Some(console_link(&self.0.execution_arn(order)))
    }
}

/// The execution's page in the Step Functions console, in the execution's own region. The
/// execution need not have started: the page then says it does not exist, which is the truth.
pub fn console_link(execution_arn: &str) -> String {
    let region = execution_arn.split(':').nth(3).unwrap_or("us-east-1");
    format!(
        "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"
    )
}

/// The API's view of an execution Step Functions recorded.
pub fn execution_view(recorded: &RecordedExecution) -> Execution {
    let description = &recorded.description;
    let events = events_view(&recorded.events);
    let status = match description.status() {
        sfn::ExecutionStatus::Succeeded => ExecutionStatus::Succeeded,
        sfn::ExecutionStatus::Failed | sfn::ExecutionStatus::PendingRedrive => ExecutionStatus::Failed,
        sfn::ExecutionStatus::TimedOut => ExecutionStatus::TimedOut,
        sfn::ExecutionStatus::Aborted => ExecutionStatus::Aborted,
        // `Running`, and whatever a newer Step Functions adds: not ended, as far as we can tell.
        _ => ExecutionStatus::Running,
    };
    // Step Functions does not say which state an execution is in; its history does: the last
    // state entered and not exited.
    let current_state = (status == ExecutionStatus::Running)
        .then(|| events.iter().rev().find(|event| event.event_type.ends_with("StateEntered")))
        .flatten()
        .and_then(|event| event.state_name.clone());
    let machine_arn = description.state_machine_arn();
    Execution {
        execution: ExecutionDescription {
            name: description.name().map_or_else(|| name_of(description.execution_arn()), str::to_owned),
            execution_id: description.execution_arn().to_owned(),
            machine: name_of(machine_arn),
            status,
            input: description.input().map_or(Value::Null, json),
            output: description.output().map(json),
            error: description.error().map(str::to_owned),
            cause: description.cause().map(str::to_owned),
            start_date: date(description.start_date()),
            stop_date: description.stop_date().map(date),
            current_state,
        },
        events,
    }
}

/// The last `:`-separated part of an ARN: a state machine's or an execution's name.
fn name_of(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or(arn).to_owned()
}

/// Step Functions passes JSON as text; text that is not JSON (never expected) is kept as a string.
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn date(date: &aws_sdk_sfn::primitives::DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(date.as_nanos()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// What one event's nested `...EventDetails` say, whichever kind they are.
#[derive(Default)]
struct Details {
    state_name: Option<String>,
    resource: Option<String>,
    input: Option<Value>,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    map_index: Option<u64>,
}

/// The events in the API's view. Task and Lambda events name no state, and events inside a `Map`
/// iteration name no index: each takes them from the event it follows (`previousEventId`), which
/// Step Functions links back to the state entered and the iteration started.
fn events_view(events: &[HistoryEvent]) -> Vec<ExecutionEvent> {
    let mut inherited: HashMap<i64, (Option<String>, Option<u64>)> = HashMap::new();
    events
        .iter()
        .map(|event| {
            let mut details = details(event);
            let (state, index) = inherited.get(&event.previous_event_id()).cloned().unwrap_or_default();
            let ends_a_state = event.r#type().as_str().ends_with("StateExited");
            if details.state_name.is_none() {
                details.state_name = state;
            }
            if details.map_index.is_none() {
                details.map_index = index;
            }
            // After a state exits, what follows belongs to the next state, not this one.
            let passed_on = if ends_a_state { None } else { details.state_name.clone() };
            inherited.insert(event.id(), (passed_on, details.map_index));
            ExecutionEvent {
                id: u64::try_from(event.id()).unwrap_or_default(),
                timestamp: date(event.timestamp()),
                event_type: event.r#type().as_str().to_owned(),
                state_name: details.state_name,
                resource: details.resource,
                input: details.input,
                output: details.output,
                error: details.error,
                cause: details.cause,
                map_index: details.map_index,
            }
        })
        .collect()
}

fn details(event: &HistoryEvent) -> Details {
    let text = |value: Option<&str>| value.map(str::to_owned);
    if let Some(d) = event.state_entered_event_details() {
        return Details { state_name: Some(d.name().to_owned()), input: d.input().map(json), ..Details::default() };
    }
    if let Some(d) = event.state_exited_event_details() {
        return Details { state_name: Some(d.name().to_owned()), output: d.output().map(json), ..Details::default() };
    }
    if let Some(d) = event.execution_started_event_details() {
        return Details { input: d.input().map(json), ..Details::default() };
    }
    if let Some(d) = event.execution_succeeded_event_details() {
        return Details { output: d.output().map(json), ..Details::default() };
    }
    if let Some(d) = event.execution_failed_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    if let Some(d) = event.execution_aborted_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    if let Some(d) = event.execution_timed_out_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    // A Task state whose resource is a Lambda ARN, as ours are, records `LambdaFunction...`.
    if let Some(d) = event.lambda_function_scheduled_event_details() {
        return Details { resource: Some(d.resource().to_owned()), input: d.input().map(json), ..Details::default() };
    }
    if let Some(d) = event.lambda_function_succeeded_event_details() {
        return Details { output: d.output().map(json), ..Details::default() };
    }
    if let Some(d) = event.lambda_function_failed_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    if let Some(d) = event.lambda_function_timed_out_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    if let Some(d) = event.lambda_function_schedule_failed_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    if let Some(d) = event.lambda_function_start_failed_event_details() {
        return Details { error: text(d.error()), cause: text(d.cause()), ..Details::default() };
    }
    // Service integrations (`arn:aws:states:::lambda:invoke`, ...) record `Task...`.
    if let Some(d) = event.task_scheduled_event_details() {
        return Details {
            resource: Some(d.resource().to_owned()),
            input: Some(json(d.parameters())),
            ..Details::default()
        };
    }
    if let Some(d) = event.task_succeeded_event_details() {
        return Details { resource: Some(d.resource().to_owned()), output: d.output().map(json), ..Details::default() };
    }
    if let Some(d) = event.task_failed_event_details() {
        return Details {
            resource: Some(d.resource().to_owned()),
            error: text(d.error()),
            cause: text(d.cause()),
            ..Details::default()
        };
    }
    if let Some(d) = event.task_timed_out_event_details() {
        return Details {
            resource: Some(d.resource().to_owned()),
            error: text(d.error()),
            cause: text(d.cause()),
            ..Details::default()
        };
    }
    let iteration = event
        .map_iteration_started_event_details()
        .or_else(|| event.map_iteration_succeeded_event_details())
        .or_else(|| event.map_iteration_failed_event_details())
        .or_else(|| event.map_iteration_aborted_event_details());
    if let Some(d) = iteration {
        return Details { state_name: text(d.name()), map_index: u64::try_from(d.index()).ok(), ..Details::default() };
    }
    Details::default()
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::{
        ExecutionStartedEventDetails, HistoryEventType, LambdaFunctionFailedEventDetails,
        LambdaFunctionScheduledEventDetails, StateEnteredEventDetails,
    };

    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:order";
    const EXECUTION: &str = "arn:aws:states:us-east-1:000000000000:execution:order:ord_1";
    const CHARGE: &str = "arn:aws:lambda:us-east-1:000000000000:function:orderflow-ChargePayment";

    #[test]
    fn the_console_link_opens_the_execution_in_its_own_region() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:order:ord_1";
        assert_eq!(
            console_link(arn),
            "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/\
             arn:aws:states:eu-west-1:123456789012:execution:order:ord_1"
        );
    }

    fn event(id: i64, previous: i64, kind: HistoryEventType) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(previous)
            .r#type(kind)
            .timestamp(DateTime::from_secs(1_700_000_000 + id))
    }

    fn recorded(status: sfn::ExecutionStatus, events: Vec<HistoryEvent>) -> RecordedExecution {
        let description = DescribeExecutionOutput::builder()
            .execution_arn(EXECUTION)
            .state_machine_arn(MACHINE)
            .name("ord_1")
            .status(status)
            .input(r#"{"orderId":"ord_1"}"#)
            .start_date(DateTime::from_secs(1_700_000_000))
            .build()
            .unwrap();
        RecordedExecution { description, events }
    }

    fn a_failing_charge() -> Vec<HistoryEvent> {
        vec![
            event(1, 0, HistoryEventType::ExecutionStarted)
                .execution_started_event_details(
                    ExecutionStartedEventDetails::builder().input(r#"{"orderId":"ord_1"}"#).build(),
                )
                .build()
                .unwrap(),
            event(2, 1, HistoryEventType::TaskStateEntered)
                .state_entered_event_details(
                    StateEnteredEventDetails::builder().name("ChargePayment").input("{}").build().unwrap(),
                )
                .build()
                .unwrap(),
            event(3, 2, HistoryEventType::LambdaFunctionScheduled)
                .lambda_function_scheduled_event_details(
                    LambdaFunctionScheduledEventDetails::builder()
                        .resource(CHARGE)
                        .input(r#"{"orderId":"ord_1"}"#)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            event(4, 3, HistoryEventType::LambdaFunctionStarted).build().unwrap(),
            event(5, 4, HistoryEventType::LambdaFunctionFailed)
                .lambda_function_failed_event_details(
                    LambdaFunctionFailedEventDetails::builder()
                        .error("PaymentDeclined")
                        .cause("the payment was declined: insufficient funds")
                        .build(),
                )
                .build()
                .unwrap(),
        ]
    }

    #[test]
    fn a_lambda_tasks_events_name_their_state_resource_and_error() {
        let view = execution_view(&recorded(sfn::ExecutionStatus::Running, a_failing_charge()));
        let failed = &view.events[4];
        assert_eq!(failed.event_type, "LambdaFunctionFailed");
        assert_eq!(failed.state_name.as_deref(), Some("ChargePayment"), "taken from the state it follows");
        assert_eq!(failed.error.as_deref(), Some("PaymentDeclined"));
        assert_eq!(failed.cause.as_deref(), Some("the payment was declined: insufficient funds"));
        let scheduled = &view.events[2];
        assert_eq!(scheduled.resource.as_deref(), Some(CHARGE));
        assert_eq!(scheduled.input, Some(serde_json::json!({"orderId": "ord_1"})));
        assert_eq!(view.events[0].input, Some(serde_json::json!({"orderId": "ord_1"})));
        assert_eq!(view.events[0].state_name, None);
    }

    #[test]
    fn a_running_execution_is_in_the_last_state_it_entered() {
        let view = execution_view(&recorded(sfn::ExecutionStatus::Running, a_failing_charge()));
        assert_eq!(view.execution.status, ExecutionStatus::Running);
        assert_eq!(view.execution.current_state.as_deref(), Some("ChargePayment"));
        assert_eq!(view.execution.machine, "order");
        assert_eq!(view.execution.name, "ord_1");
        assert_eq!(view.execution.input, serde_json::json!({"orderId": "ord_1"}));
        assert_eq!(view.execution.start_date.unix_timestamp(), 1_700_000_000);
    }

    #[test]
    fn an_ended_execution_is_in_no_state() {
        let view = execution_view(&recorded(sfn::ExecutionStatus::Succeeded, a_failing_charge()));
        assert_eq!(view.execution.status, ExecutionStatus::Succeeded);
        assert_eq!(view.execution.current_state, None);
    }
}
