//! `orderflow`: the whole product on one machine. See the README.

use anyhow::Context;
use orderflow::{Config, Runtime, serve, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(config.json_logs);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let runtime = Runtime::open(&config, &public_url).await?;
    tracing::info!(
        address = %address,
        data_dir = %config.data_dir.display(),
        console = %format!("http://{address}/_local/console"),
        "orderflow is serving; try GET /api/v0/products, or open the console"
    );
    serve(listener, runtime, shutdown_signal()).await
}
