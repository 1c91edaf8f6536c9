//! A worker function: the one saga task its `TASK` setting names.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use orderflow_lambda::config::{Env, WorkerConfig};
use orderflow_lambda::worker::TaskFunction;
use orderflow_lambda::{Aws, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = WorkerConfig::from_env(&Env::from_process())?;
    let aws = Aws::load(&config.common).await;
    let function = TaskFunction { saga: Arc::new(aws.saga(&config).await?), task: config.task };
    tracing::info!(task = config.task.name(), "ready");
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { function.handle(event).await }
    }))
    .await
}
