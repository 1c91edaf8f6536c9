//! The outbox sweeper function, run on a schedule: starts the workflow of every order whose start
//! failed.

use lambda_runtime::{LambdaEvent, service_fn};
use orderflow_lambda::config::{Env, SweeperConfig};
use orderflow_lambda::sweeper::Swept;
use orderflow_lambda::{Aws, telemetry};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = SweeperConfig::from_env(&Env::from_process())?;
    let function = Aws::load(&config.common).await.sweeper(&config);
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let function = function.clone();
        async move { Ok::<Swept, lambda_runtime::Diagnostic>(function.sweep().await) }
    }))
    .await
}
