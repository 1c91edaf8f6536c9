//! The local all-in-one runtime: the order API, the state machine engine, the saga's workers and
//! local stand-ins for every partner, in one process over one data directory.
//!
//! # Layout
//!
//! - [`config`]: configuration from the environment.
//! - [`Runtime`]: the adapters wired behind the ports; [`serve`] runs it until shutdown.
//! - [`saga`]: the order state machine in the local engine, and its tasks.
//! - [`workflows`]: the local engine as the workflow service: starting, histories, health.
//! - [`outbox`]: the sweeper that starts the workflow of every order whose start failed.
//! - [`faults`]: optional fault injection into the saga's tasks.
//! - [`local_routes`]: `/_local/...`: the simulators' ledgers and the signed document links.
//! - [`console`]: `/_local/console`: orders and their executions drawn in a browser.
//! - [`server`]: the HTTP accept loop with its timeouts, and the overload guards.
//! - [`telemetry`]: logs for a terminal, or JSON.

pub mod config;
pub mod console;
pub mod faults;
pub mod local_routes;
pub mod outbox;
pub mod saga;
pub mod server;
pub mod telemetry;
pub mod workflows;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use asl_engine::{Engine, ExecutionStore, SqliteOptions, SqliteStore};
use orderflow_adapters_local::sqlite::{Database, SqliteInventory, SqliteInvoiceNumbers, SqliteOrderStore};
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_api::webhooks::WebhookSecret;
use orderflow_api::{AppState, Services};
use orderflow_documents::Seller;
use orderflow_domain::catalog::Catalog;
use orderflow_domain::ports::{Carrier, Clock, PaymentGateway, SystemClock, WorkflowOutbox};
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use orderflow_workers::Saga;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, Payments, Shipping};
use saga::SagaTasks;
use workflows::EngineWorkflows;

/// The seed catalog, built in so the binary runs from any directory.
const SEED_CATALOG: &str = include_str!("../../data/catalog.json");

/// How long links to invoices and labels work.
const LINK_TTL: Duration = Duration::from_hours(7 * 24);

/// The saga's payment partner: the simulator, or Stripe in a build with it.
fn payment_gateway(payments: &Payments, simulator: &PaymentSimulator) -> anyhow::Result<Arc<dyn PaymentGateway>> {
    match payments {
        Payments::Simulator => Ok(Arc::new(simulator.clone())),
        #[cfg(feature = "stripe")]
        Payments::Stripe { api_base, key } => {
            let key = orderflow_adapters_stripe::SecretKey::new(key.expose());
            let stripe = orderflow_adapters_stripe::StripePayments::new(api_base.clone(), key)
                .context("cannot set up the Stripe client")?;
            Ok(Arc::new(stripe))
        }
        #[cfg(not(feature = "stripe"))]
        Payments::Stripe { .. } => anyhow::bail!("this build has no Stripe adapter: build with `--features stripe`"),
    }
}

/// The saga's carrier: the simulator, or EasyPost in a build with it.
fn shipping_partner(shipping: &Shipping, simulator: &CarrierSimulator) -> anyhow::Result<Arc<dyn Carrier>> {
    match shipping {
        Shipping::Simulator => Ok(Arc::new(simulator.clone())),
        #[cfg(feature = "easypost")]
        Shipping::EasyPost { api_base, key, carriers, ship_from } => {
            use orderflow_adapters_easypost as easypost;
            let carriers = easypost::carrier_preferences(carriers).context("SHIPPING_CARRIERS")?;
            let ship_from = easypost::ship_from(ship_from).context("SHIP_FROM")?;
            let key = easypost::ApiKey::new(key.expose());
            let easypost = easypost::EasyPostCarrier::new(api_base.clone(), key, ship_from, carriers)
                .context("cannot set up the EasyPost client")?;
            Ok(Arc::new(easypost))
        }
        #[cfg(not(feature = "easypost"))]
        Shipping::EasyPost { .. } => {
            anyhow::bail!("this build has no EasyPost adapter: build with `--features easypost`")
        }
    }
}

/// Everything the local product runs on, opened on a data directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// What the API's handlers use.
    pub state: AppState,
    /// The state machine engine running the orders' sagas.
    pub engine: Engine,
    /// The simulated payment partner, with its ledger.
    pub payments: PaymentSimulator,
    /// The simulated carriers, with their shipments.
    pub carrier: CarrierSimulator,
    /// Invoices, credit notes and labels.
    pub blobs: FsBlobStore,
    /// The emails sent, as `.eml` files.
    pub mailer: EmlOutbox,
    /// The saga's tasks over these adapters, as the engine runs them.
    pub saga: Arc<Saga>,
    workflows: EngineWorkflows,
    outbox: Arc<dyn WorkflowOutbox>,
    workflows_paused: bool,
    limits: server::Limits,
}

impl Runtime {
    /// Opens (creating if needed) the data directory and everything kept in it. `public_url` is
    /// where clients reach the server, for the links in emails and orders.
    pub async fn open(config: &Config, public_url: &str) -> anyhow::Result<Self> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let catalog = match &config.catalog_path {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
            None => SEED_CATALOG.to_owned(),
        };
        let catalog = Arc::new(Catalog::from_json(&catalog).context("the catalog is invalid")?);
        // One clock for the engine and the services: the time scale shortens only the state
        // machine's waits; `now()` is the wall clock's either way.
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::with_time_scale(config.time_scale));

        let db_path = dir.join("orders.db");
        let db = Database::open(&db_path, config.durability)
            .with_context(|| format!("cannot open the database {}", db_path.display()))?;
        let orders = Arc::new(SqliteOrderStore::new(db.clone()));
        let inventory = Arc::new(SqliteInventory::new(db.clone()));
        inventory.seed(&catalog).await.context("cannot seed stock from the catalog")?;
        let invoice_numbers = Arc::new(SqliteInvoiceNumbers::new(db));

        let payments = PaymentSimulator::open(dir.join("payments.db"), config.durability)
            .context("cannot open the payment simulator's ledger")?;
        let mut carrier = CarrierSimulator::open(dir.join("carrier.db"), config.durability)
            .context("cannot open the carrier simulator's records")?;
        if let Some(down) = &config.carrier_outage {
            carrier = carrier.with_outage(down)?;
        }
        let blobs = FsBlobStore::open(dir, public_url, link_secret(dir)?).context("cannot open the document folder")?;
        let mailer = EmlOutbox::open(dir.join("outbox")).context("cannot open the mail outbox")?;

        let saga = Arc::new(Saga {
            orders: orders.clone(),
            inventory: inventory.clone(),
            catalog: Arc::clone(&catalog),
            payments: payment_gateway(&config.payments, &payments)?,
            carrier: shipping_partner(&config.shipping, &carrier)?,
            mailer: Arc::new(mailer.clone()),
            blobs: Arc::new(blobs.clone()),
            invoice_numbers,
            clock: Arc::clone(&clock),
            seller: Seller::default(),
            link_ttl: LINK_TTL,
        });
        let executions: Arc<dyn ExecutionStore> = match &config.execution_store {
            Some(store) => Arc::clone(store),
            None => Arc::new(
                SqliteStore::open_with(
                    dir.join("executions.db"),
                    &SqliteOptions { synchronous: config.durability, ..SqliteOptions::default() },
                )
                .context("cannot open the execution store")?,
            ),
        };
        let engine = Engine::builder()
            .store(executions)
            .tasks(SagaTasks::registry(Arc::clone(&saga), config.faults.clone()))
            .clock(Arc::clone(&clock))
            .max_tasks_in_flight(config.max_tasks_in_flight)
            .build();
        engine.register(saga::MACHINE, saga::order_machine().context("the order state machine is invalid")?);
        let workflows = EngineWorkflows::new(engine.clone());

        let state = AppState::new(Services {
            orders: orders.clone(),
            inventory,
            catalog,
            tax: Arc::new(RateTable),
            shipping: ShippingRates::default(),
            clock,
            auth: config.auth.clone(),
            documents: Arc::new(blobs.clone()),
            link_ttl: LINK_TTL,
            // While paused, orders wait in the outbox until a run with workflows.
            workflows: (!config.workflows_paused)
                .then(|| Arc::new(workflows.clone()) as Arc<dyn orderflow_domain::ports::WorkflowStarter>),
            outbox: orders.clone(),
            executions: Arc::new(workflows.clone()),
            probes: vec![Arc::new(workflows.clone())],
            stripe_webhook: config.stripe_webhook_secret.as_ref().map(|secret| WebhookSecret::new(secret.expose())),
        });
        Ok(Self {
            state,
            engine,
            payments,
            carrier,
            blobs,
            mailer,
            saga,
            workflows,
            outbox: orders,
            workflows_paused: config.workflows_paused,
            limits: config.limits,
        })
    }
}

/// The secret that signs document links, kept in the data directory so links survive a
/// restart; created on first use (`0600`, written atomically). A damaged file stops the start.
fn link_secret(dir: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(orderflow_adapters_local::blobs::load_or_create_secret(dir, "link-secret")?)
}

/// Serves the runtime on `listener` until `shutdown` completes: resumes the executions a
/// previous process left running, starts the workflows of placed orders, serves the API; then
/// finishes the requests in flight and stops the engine, leaving unfinished executions to resume.
pub async fn serve(
    listener: TcpListener,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr().context("the listener has no address")?;
    if !address.ip().is_loopback() && runtime.state.auth == orderflow_api::AuthMode::None {
        anyhow::bail!(
            "refusing to serve on {address} with AUTH_MODE `none`: set HOST to a loopback address, or AUTH_MODE=gateway-header:<header> behind an authenticating gateway"
        );
    }
    let stop = CancellationToken::new();
    let sweeper = if runtime.workflows_paused {
        tracing::warn!("workflows are paused: orders are accepted and held in the outbox");
        None
    } else {
        let resumed = runtime.engine.resume_running().await.context("cannot resume the running executions")?;
        if !resumed.resumed.is_empty() {
            tracing::info!(executions = resumed.resumed.len(), "resumed the executions left running");
        }
        tokio::spawn(resume_stalled(runtime.engine.clone(), stop.clone()));
        Some(tokio::spawn(outbox::sweep_outbox(
            Arc::clone(&runtime.outbox),
            Arc::new(runtime.workflows.clone()),
            stop.clone(),
        )))
    };
    let app = orderflow_api::app(runtime.state.clone())
        .merge(local_routes::router(&runtime))
        .merge(console::router(&runtime)?);
    let app = server::guarded(app, runtime.limits);
    server::serve(listener, app, runtime.limits.header_read_timeout, shutdown).await;
    stop.cancel();
    if let Some(sweeper) = sweeper {
        let _ = sweeper.await;
    }
    runtime.engine.shutdown().await;
    Ok(())
}

/// How often executions stopped by their store are driven again.
const RESUME_STALLED_EVERY: Duration = Duration::from_secs(10);

/// Drives again, until `stop`, the executions whose driver stopped on a store write the store
/// refused (the engine retries transient failures itself): whatever refused it may have been
/// fixed since, and an execution must not wait for a restart to move on.
async fn resume_stalled(engine: Engine, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RESUME_STALLED_EVERY) => {}
        }
        if engine.health().stalled_executions.is_empty() {
            continue;
        }
        match engine.resume_running().await {
            Ok(report) => tracing::info!(resumed = report.resumed.len(), "drove stalled executions again"),
            Err(error) => {
                tracing::warn!(error = %orderflow_domain::CauseChain(&error), "cannot resume stalled executions");
            }
        }
    }
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
