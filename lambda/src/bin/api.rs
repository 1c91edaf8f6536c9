//! The API function: the order REST API behind API Gateway's HTTP API.

use orderflow_lambda::config::{ApiConfig, Env};
use orderflow_lambda::{Aws, http, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = ApiConfig::from_env(&Env::from_process())?;
    let aws = Aws::load(&config.common).await;
    let app = orderflow_api::app(aws.api_state(&config).await?);
    lambda_http::run(http::handler(app)).await
}
