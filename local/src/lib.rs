//! The local all-in-one runtime: the order API on a SQLite store in a data directory, with
//! nothing else to install.
//!
//! # Layout
//!
//! - [`config`]: configuration from the environment.
//! - [`Runtime`]: the adapters wired behind the API's ports.
//! - [`serve`]: serves a runtime on a listener until a shutdown signal.
//! - [`telemetry`]: logs for a terminal, or JSON.

pub mod config;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use orderflow_adapters_local::sqlite::{Database, SqliteInventory, SqliteOrderStore};
use orderflow_api::{AppState, NoExecutions, NoLinks, Services};
use orderflow_domain::catalog::Catalog;
use orderflow_domain::ports::SystemClock;
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use config::Config;

/// The seed catalog, built in so the binary runs from any directory.
const SEED_CATALOG: &str = include_str!("../../data/catalog.json");

/// Everything the local product runs on, opened on a data directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub state: AppState,
}

impl Runtime {
    /// Opens (creating if needed) the data directory, its database and stock.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        let catalog = match &config.catalog_path {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
            None => SEED_CATALOG.to_owned(),
        };
        let catalog = Arc::new(Catalog::from_json(&catalog).context("the catalog is invalid")?);

        let db_path = config.data_dir.join("orders.db");
        let db = Database::open(&db_path, config.durability)
            .with_context(|| format!("cannot open the database {}", db_path.display()))?;
        let inventory = SqliteInventory::new(db.clone());
        inventory.seed(&catalog).await.context("cannot seed stock from the catalog")?;

        let state = AppState::new(Services {
            orders: Arc::new(SqliteOrderStore::new(db)),
            inventory: Arc::new(inventory),
            catalog,
            tax: Arc::new(RateTable),
            shipping: ShippingRates::default(),
            clock: Arc::new(SystemClock),
            auth: config.auth.clone(),
            links: Arc::new(NoLinks),
            order_placed: Arc::new(Notify::new()),
            executions: Arc::new(NoExecutions),
        });
        Ok(Self { state })
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = orderflow_api::app(runtime.state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("the HTTP server failed")
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
