//! Step Functions as the workflow service: one execution per order, named after the order, and
//! what Step Functions recorded of it.
//!
//! This adapter speaks Step Functions' own types: [`StepFunctionsWorkflows::execution`] returns
//! `DescribeExecution`'s output and every event of `GetExecutionHistory` as the SDK types them.
//! Mapping them into the API's execution view is the Lambda host's job (`orderflow-lambda`), so
//! this crate stays free of the HTTP API and its web framework.

use async_trait::async_trait;
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::HistoryEvent;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BoxError, WorkflowStarter};

/// The most events one `GetExecutionHistory` page holds (Step Functions' own maximum).
const HISTORY_PAGE: i32 = 1000;

/// Starts and reads orders' executions of one state machine.
#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflows {
    client: aws_sdk_sfn::Client,
    machine_arn: String,
}

/// An execution as Step Functions describes it, with its whole history, oldest event first.
#[derive(Debug, Clone)]
pub struct RecordedExecution {
    pub description: DescribeExecutionOutput,
    pub events: Vec<HistoryEvent>,
}

impl StepFunctionsWorkflows {
    /// Executions of the state machine `machine_arn`
    /// (`arn:aws:states:<region>:<account>:stateMachine:<name>`).
    pub fn new(client: aws_sdk_sfn::Client, machine_arn: impl Into<String>) -> Self {
        Self { client, machine_arn: machine_arn.into() }
    }

    /// The state machine's ARN.
    pub fn machine_arn(&self) -> &str {
        &self.machine_arn
    }

    /// The ARN of `order`'s execution: Step Functions derives it from the machine's ARN and the
    /// execution's name, so it is known without asking.
    pub fn execution_arn(&self, order: &OrderId) -> String {
        let execution_prefix = self.machine_arn.replacen(":stateMachine:", ":execution:", 1);
        format!("{execution_prefix}:{order}")
    }

    /// `order`'s execution and its whole history; `None` before it starts.
    pub async fn execution(&self, order: &OrderId) -> Result<Option<RecordedExecution>, BoxError> {
        let arn = self.execution_arn(order);
        let description = match self.client.describe_execution().execution_arn(&arn).send().await {
            Ok(description) => description,
            Err(error) if error.as_service_error().is_some_and(DescribeExecutionError::is_execution_does_not_exist) => {
                return Ok(None);
            }
            Err(error) => return Err(describe(error, format!("cannot describe the execution {arn}"))),
        };
        let mut events = Vec::new();
        let mut next_token = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(&arn)
                .max_results(HISTORY_PAGE)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| describe(error, format!("cannot read the history of {arn}")))?;
            next_token = page.next_token().map(str::to_owned);
            events.extend(page.events);
            if next_token.is_none() {
                break;
            }
        }
        Ok(Some(RecordedExecution { description, events }))
    }
}

#[async_trait]
impl WorkflowStarter for StepFunctionsWorkflows {
    #[tracing::instrument(skip_all, fields(order_id = %order))]
    async fn start(&self, order: &OrderId) -> Result<(), BoxError> {
        let input = serde_json::json!({ "orderId": order.as_str() }).to_string();
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.machine_arn)
            .name(order.as_str())
            .input(input)
            .send()
            .await;
        match started {
            Ok(_) => Ok(()),
            // Named after the order with the order as its only input, an execution that exists is
            // this order's: one that ran already is as started as one running now. (Step Functions
            // answers a running execution of the same name and input with success, and an ended one
            // with this error.)
            Err(error) if error.as_service_error().is_some_and(StartExecutionError::is_execution_already_exists) => {
                Ok(())
            }
            Err(error) => Err(describe(error, format!("cannot start the workflow of order {order}"))),
        }
    }
}

/// What was being done, over the SDK's error and its whole cause chain (its own `Display` says
/// only "service error"; the chain says which).
#[derive(Debug, thiserror::Error)]
#[error("{doing}")]
struct Failed {
    doing: String,
    #[source]
    cause: BoxError,
}

fn describe<E>(error: aws_sdk_sfn::error::SdkError<E>, doing: String) -> BoxError
where
    E: std::error::Error + Send + Sync + 'static,
{
    Box::new(Failed { doing, cause: Box::new(error) })
}
