//! The Lambda hosts of the order pipeline: what runs on AWS in place of the local all-in-one
//! server, over the AWS adapters. The local server never links this crate.
//!
//! # Layout
//!
//! - [`config`]: each function's settings from the environment, checked at cold start.
//! - [`http`]: the API under `lambda_http`, with the gateway's claims and stage adapted.
//! - [`worker`]: one saga task per function under `lambda_runtime`, errors as `Diagnostic`s.
//! - [`sweeper`]: the scheduled outbox sweep.
//! - [`executions`]: Step Functions' execution history in the API's view.
//! - [`telemetry`]: JSON logs.
//! - [`Aws`]: the SDK clients built once per cold start, and the ports wired over them.
//!
//! Binaries: `api`, `worker`, `sweeper` (`src/bin`), each a `main` of a few lines.

pub mod config;
pub mod executions;
pub mod http;
mod not_granted;
pub mod sweeper;
pub mod telemetry;
pub mod worker;

use std::sync::Arc;

use anyhow::Context;
use not_granted::NotGranted;
use orderflow_adapters_aws::{
    Clients, DynamoInventory, DynamoInvoiceNumbers, DynamoOrderStore, S3BlobStore, SesMailer, StepFunctionsWorkflows,
    Table,
};
use orderflow_adapters_local::sqlite::Durability;
use orderflow_adapters_local::{CarrierSimulator, PaymentSimulator};
use orderflow_adapters_stripe::{SecretKey, StripePayments};
use orderflow_api::webhooks::WebhookSecret;
use orderflow_api::{AppState, Services};
use orderflow_domain::address::PostalAddress;
use orderflow_domain::catalog::Catalog;
use orderflow_domain::ports::{Carrier, Clock, PaymentGateway, SystemClock};
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use orderflow_workers::Saga;

use crate::config::{ApiConfig, CarrierPartner, Common, PaymentPartner, Secret, SweeperConfig, WorkerConfig};
use crate::executions::StepFunctionsHistory;
use crate::sweeper::SweepFunction;

/// The catalog, built in as the local server's is: prices are code-reviewed data, not a table.
const CATALOG: &str = include_str!("../../data/catalog.json");

/// The SDK clients of one function instance and the table they share.
#[derive(Debug, Clone)]
pub struct Aws {
    pub clients: Clients,
    pub table: Table,
    config: aws_config::SdkConfig,
}

impl Aws {
    /// Clients from the Lambda environment (credentials, region, and `AWS_ENDPOINT_URL` for an
    /// emulator), once per cold start.
    pub async fn load(common: &Common) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let clients = Clients::new(&config, common.path_style_s3);
        let table = Table::new(clients.dynamodb.clone(), common.table.clone());
        Self { clients, table, config }
    }

    /// What the API's handlers use. Reads the webhook's signing secret, once per cold start.
    pub async fn api_state(&self, config: &ApiConfig) -> anyhow::Result<AppState> {
        let stripe_webhook = match &config.stripe_webhook {
            Some(secret) => Some(WebhookSecret::new(self.reveal(secret).await?)),
            None => None,
        };
        let orders = Arc::new(DynamoOrderStore::new(self.table.clone()));
        let workflows = StepFunctionsWorkflows::new(self.clients.sfn.clone(), config.state_machine_arn.clone());
        Ok(AppState::new(Services {
            orders: orders.clone(),
            inventory: Arc::new(DynamoInventory::new(self.table.clone())),
            catalog: Arc::new(catalog()?),
            tax: Arc::new(RateTable),
            shipping: ShippingRates::default(),
            clock: Arc::new(SystemClock::new()),
            auth: config.auth.clone(),
            documents: Arc::new(S3BlobStore::new(self.clients.s3.clone(), config.bucket.clone())),
            link_ttl: config.link_ttl,
            workflows: Some(Arc::new(workflows.clone())),
            outbox: orders,
            executions: Arc::new(StepFunctionsHistory(workflows)),
            probes: Vec::new(),
            stripe_webhook,
        }))
    }

    /// What the saga's tasks use. Reads the secrets of the partners this task calls, and only
    /// those, once per cold start.
    pub async fn saga(&self, config: &WorkerConfig) -> anyhow::Result<Saga> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let simulated =
            matches!(config.payments, PaymentPartner::Simulator) || matches!(config.carrier, CarrierPartner::Simulator);
        let not_granted = NotGranted(config.task);
        if simulated {
            std::fs::create_dir_all(&config.simulator_dir)
                .with_context(|| format!("cannot create SIMULATOR_DIR {}", config.simulator_dir.display()))?;
        }
        let payments: Arc<dyn PaymentGateway> = match &config.payments {
            _ if !config.task.calls_payments() => Arc::new(not_granted),
            PaymentPartner::Simulator => Arc::new(
                PaymentSimulator::open(config.simulator_dir.join("payments.db"), Durability::Normal)
                    .context("cannot open the payment simulator's ledger")?
                    .with_clock(Arc::clone(&clock)),
            ),
            PaymentPartner::Stripe { api_base, key } => {
                let key = SecretKey::new(self.reveal(key).await?);
                Arc::new(StripePayments::new(api_base.clone(), key).context("cannot set up the Stripe client")?)
            }
        };
        let carrier: Arc<dyn Carrier> = match &config.carrier {
            _ if !config.task.calls_carrier() => Arc::new(not_granted),
            CarrierPartner::Simulator => Arc::new(
                CarrierSimulator::open(config.simulator_dir.join("carrier.db"), Durability::Normal)
                    .context("cannot open the carrier simulator's records")?,
            ),
            CarrierPartner::EasyPost { api_base, key, carriers, ship_from } => {
                let key = orderflow_adapters_easypost::ApiKey::new(self.reveal(key).await?);
                Arc::new(
                    orderflow_adapters_easypost::EasyPostCarrier::new(
                        api_base.clone(),
                        key,
                        PostalAddress::clone(ship_from),
                        carriers.clone(),
                    )
                    .context("cannot set up the EasyPost client")?,
                )
            }
        };
        Ok(Saga {
            orders: Arc::new(DynamoOrderStore::new(self.table.clone())),
            inventory: Arc::new(DynamoInventory::new(self.table.clone())),
            catalog: Arc::new(catalog()?),
            payments,
            carrier,
            mailer: Arc::new(SesMailer::new(self.clients.ses.clone(), self.table.clone())),
            blobs: Arc::new(S3BlobStore::new(self.clients.s3.clone(), config.bucket.clone())),
            invoice_numbers: Arc::new(DynamoInvoiceNumbers::new(self.table.clone())),
            clock,
            seller: config.seller.clone(),
            link_ttl: config.link_ttl,
        })
    }

    /// The value of `secret`.
    async fn reveal(&self, secret: &Secret) -> anyhow::Result<String> {
        let arn = match secret {
            Secret::Environment(value) => return Ok(value.expose().to_owned()),
            Secret::SecretsManager(arn) => arn,
        };
        let secrets = aws_sdk_secretsmanager::Client::new(&self.config);
        let found = secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .with_context(|| format!("cannot read the secret {arn}"))?;
        found
            .secret_string
            .filter(|value| !value.trim().is_empty())
            .with_context(|| format!("the secret {arn} is empty"))
    }

    /// The outbox sweep over the table and the state machine.
    pub fn sweeper(&self, config: &SweeperConfig) -> SweepFunction {
        SweepFunction::new(
            Arc::new(DynamoOrderStore::new(self.table.clone())),
            Arc::new(StepFunctionsWorkflows::new(self.clients.sfn.clone(), config.state_machine_arn.clone())),
        )
    }
}

fn catalog() -> anyhow::Result<Catalog> {
    Catalog::from_json(CATALOG).context("the built-in catalog is invalid")
}
