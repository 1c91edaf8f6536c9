//! Configuration: one flag per setting, each also read from its environment variable, once at
//! start. `orderflow --help` lists them all with their defaults.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use asl_engine::ExecutionStore;
use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};
use orderflow_adapters_local::sqlite::Durability;
use orderflow_api::AuthMode;
use orderflow_domain::Secret;

use crate::faults::Faults;
use crate::server::Limits;

/// Everything the local runtime can be told. See the README's configuration table.
#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST` (default 127.0.0.1) and `PORT` (default 3000).
    pub bind: SocketAddr,
    /// `DATA_DIR` (default `./var`): the databases, invoices, labels and mail.
    pub data_dir: PathBuf,
    /// `CATALOG_PATH`: a catalog file to load instead of the built-in seed catalog.
    pub catalog_path: Option<PathBuf>,
    /// `AUTH_MODE`: `none` (default) or `gateway-header:<header name>`.
    pub auth: AuthMode,
    /// `DURABILITY`: `full` (default: fsync before answering) or `normal`.
    pub durability: Durability,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub json_logs: bool,
    /// `PUBLIC_URL`: where clients reach this server, for links in emails (default
    /// `http://<HOST>:<PORT>`).
    pub public_url: Option<String>,
    /// `TIME_SCALE` (default 1.0): multiplies the state machine's retry and wait delays;
    /// `0.01` makes a 30 s retry wait 0.3 s.
    pub time_scale: f64,
    /// `MAX_TASKS_IN_FLIGHT` (default 256): how many saga tasks run at once.
    pub max_tasks_in_flight: usize,
    /// `FAULTS` and `FAULT_SEED`: faults to inject into the saga's tasks (off by default).
    pub faults: Faults,
    /// `CARRIER_OUTAGE`: the simulated carrier that is down, if any.
    pub carrier_outage: Option<String>,
    /// `PAYMENTS`: `simulator` (default) or `stripe`.
    pub payments: Payments,
    /// `CARRIER`: `simulator` (default) or `easypost`.
    pub shipping: Shipping,
    /// `STRIPE_WEBHOOK_SECRET`: the signing secret of the Stripe webhook endpoint, which
    /// `POST /webhooks/stripe` verifies deliveries with; unset, that route is `404`.
    pub stripe_webhook_secret: Option<Secret>,
    /// `WORKFLOWS`: `run` (default), or `paused` to accept orders and hold them, `pending` in
    /// the outbox, until the runtime is started again with `run` (maintenance of the partners).
    pub workflows_paused: bool,
    /// Where the engine keeps executions instead of `executions.db`: tests put a store there
    /// that fails on demand. Not read from the environment.
    pub execution_store: Option<Arc<dyn ExecutionStore>>,
    /// `MAX_REQUESTS_IN_FLIGHT`, `REQUEST_TIMEOUT_SECONDS`, `HEADER_READ_TIMEOUT_SECONDS`: how
    /// much the HTTP server takes on before it answers `503`.
    pub limits: Limits,
}

/// The settings as given: flags, or the environment variables named after them.
#[derive(Debug, Parser)]
#[command(
    name = "orderflow",
    version,
    about = "The order pipeline on one machine: the REST API, the order saga on the local engine, and \
             simulated payment, carrier and mail partners.",
    after_help = "Every setting can also be given as its environment variable ([env: ...]); a flag wins."
)]
struct Flags {
    /// Address to listen on. Beyond loopback (0.0.0.0) it is refused unless AUTH_MODE is a gateway
    /// mode.
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// HTTP port (0: any free port).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// The databases, invoices, credit notes, labels, mail outbox and link secret.
    #[arg(long, env = "DATA_DIR", default_value = "var")]
    data_dir: PathBuf,
    /// A catalog file to load instead of the built-in seed catalog.
    #[arg(long, env = "CATALOG_PATH")]
    catalog_path: Option<PathBuf>,
    /// `none` (loopback HOST only) or `gateway-header:<header>` behind an authenticating gateway.
    #[arg(long, env = "AUTH_MODE", default_value = "none")]
    auth_mode: AuthMode,
    /// `full`: fsync before answering; `normal`: survive a process crash, not a power loss.
    #[arg(long, env = "DURABILITY", value_enum, default_value_t = DurabilitySetting::Full)]
    durability: DurabilitySetting,
    /// `text` for a terminal, `json` for log pipelines.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Where clients reach this server, for document links [default: http://<HOST>:<PORT>].
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,
    /// Multiplies the state machine's retry and Wait delays (0.01: a 30 s retry waits 0.3 s); task
    /// timeouts stay real.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0, value_parser = non_negative)]
    time_scale: f64,
    /// Saga tasks running at once.
    #[arg(long, env = "MAX_TASKS_IN_FLIGHT", default_value_t = 256, value_parser = positive::<usize>())]
    max_tasks_in_flight: usize,
    /// HTTP requests handled at once; one more is answered 503 with Retry-After.
    #[arg(
        long,
        env = "MAX_REQUESTS_IN_FLIGHT",
        default_value_t = Limits::default().max_requests_in_flight,
        value_parser = positive::<usize>()
    )]
    max_requests_in_flight: usize,
    /// The longest a request may take, body included; then 503 with Retry-After.
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECONDS",
        default_value_t = Limits::default().request_timeout.as_secs(),
        value_parser = positive::<u64>()
    )]
    request_timeout_seconds: u64,
    /// How long a connection may take to send a request's headers, or stay idle between requests.
    #[arg(
        long,
        env = "HEADER_READ_TIMEOUT_SECONDS",
        default_value_t = Limits::default().header_read_timeout.as_secs(),
        value_parser = positive::<u64>()
    )]
    header_read_timeout_seconds: u64,
    /// `paused` accepts orders and holds them in the outbox until a restart with `run`.
    #[arg(long, env = "WORKFLOWS", value_enum, default_value_t = Workflows::Run)]
    workflows: Workflows,
    /// The simulated carrier that is down (`northwind` or `contoso`).
    #[arg(long, env = "CARRIER_OUTAGE")]
    carrier_outage: Option<String>,
    /// Who takes payments: the `simulator`, or `stripe` (a build with `--features stripe`, and
    /// STRIPE_SECRET_KEY).
    #[arg(long, env = "PAYMENTS", value_enum, default_value_t = PaymentsSetting::Simulator)]
    payments: PaymentsSetting,
    /// Where Stripe is: Stripe itself, or a fake such as localstripe.
    #[arg(long, env = "STRIPE_API_BASE", default_value = "https://api.stripe.com")]
    stripe_api_base: String,
    /// The Stripe secret key, for PAYMENTS=stripe. Give it in the environment: a flag shows in
    /// the process list.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    stripe_secret_key: Option<String>,
    /// Who buys labels: the `simulator`, or `easypost` (a build with `--features easypost`,
    /// EASYPOST_API_KEY, SHIPPING_CARRIERS and SHIP_FROM).
    #[arg(long, env = "CARRIER", value_enum, default_value_t = ShippingSetting::Simulator)]
    carrier: ShippingSetting,
    /// Where EasyPost is: EasyPost itself, or a fake.
    #[arg(long, env = "EASYPOST_API_BASE", default_value = "https://api.easypost.com")]
    easypost_api_base: String,
    /// The EasyPost API key, for CARRIER=easypost. Give it in the environment.
    #[arg(long, env = "EASYPOST_API_KEY", hide_env_values = true)]
    easypost_api_key: Option<String>,
    /// The carriers to buy from, preferred first, as EasyPost names them, each optionally with
    /// one service: `DHLExpress, FedEx:FEDEX_GROUND`.
    #[arg(long, env = "SHIPPING_CARRIERS", default_value = "")]
    shipping_carriers: String,
    /// The warehouse parcels leave from, as JSON with an order address's fields (name, line1,
    /// line2, city, region, postalCode, country).
    #[arg(long, env = "SHIP_FROM", default_value = "")]
    ship_from: String,
    /// The signing secret (`whsec_…`) of the Stripe webhook endpoint `/webhooks/stripe`; unset,
    /// that route is 404. Give it in the environment.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_webhook_secret: Option<String>,
    /// `State:Error:probability[:after][:retry],...`: fail a state's task with that error.
    #[arg(long, env = "FAULTS", default_value = "")]
    faults: String,
    /// Makes fault draws repeatable.
    #[arg(long, env = "FAULT_SEED", default_value_t = 0)]
    fault_seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilitySetting {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShippingSetting {
    Simulator,
    #[value(name = "easypost")]
    EasyPost,
}

/// Who buys the saga's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shipping {
    /// The simulated carriers, whose shipments `/_local/shipments` and the console show.
    Simulator,
    /// EasyPost at `api_base` with `key`, buying from `carriers` (a preference list, read by the
    /// adapter) and shipping from `ship_from` (JSON).
    EasyPost { api_base: String, key: Secret, carriers: String, ship_from: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PaymentsSetting {
    Simulator,
    Stripe,
}

/// Who takes the saga's payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payments {
    /// The simulated partner, whose ledger `/_local/payments` and the console show.
    Simulator,
    /// Stripe at `api_base` with `key`.
    Stripe { api_base: String, key: Secret },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workflows {
    Run,
    Paused,
}

fn non_negative(raw: &str) -> Result<f64, String> {
    raw.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(|| "not a non-negative number".to_owned())
}

fn positive<T: TryFrom<u64> + Clone + Send + Sync + 'static>() -> RangedU64ValueParser<T> {
    RangedU64ValueParser::new().range(1..)
}

impl Config {
    /// Reads the configuration from the command line and the environment; `--help`, `--version`
    /// and usage errors print and exit, as command-line programs do.
    pub fn from_env() -> anyhow::Result<Self> {
        Flags::parse().into_config()
    }

    /// Reads the configuration from `args` (the first is the program's name) and, for what they
    /// leave out, the environment.
    pub fn from_args<I, T>(args: I) -> anyhow::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Flags::try_parse_from(args)?.into_config()
    }

    /// A configuration for tests: loopback, any free port, the given data directory.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            data_dir: data_dir.into(),
            catalog_path: None,
            auth: AuthMode::None,
            durability: Durability::Full,
            json_logs: false,
            public_url: None,
            time_scale: 0.001,
            max_tasks_in_flight: 256,
            faults: Faults::none(),
            carrier_outage: None,
            payments: Payments::Simulator,
            shipping: Shipping::Simulator,
            stripe_webhook_secret: None,
            workflows_paused: false,
            execution_store: None,
            limits: Limits::default(),
        }
    }
}

impl Flags {
    fn into_config(self) -> anyhow::Result<Config> {
        if !self.host.is_loopback() && self.auth_mode == AuthMode::None {
            bail!(
                "refusing to listen on HOST `{}` with AUTH_MODE `none`: anyone who can reach it could read, \
                 cancel and re-address every order. Keep HOST on a loopback address (127.0.0.1, the default), \
                 or put an authenticating gateway in front and set AUTH_MODE=gateway-header:<header>",
                self.host
            );
        }
        let payments = match self.payments {
            PaymentsSetting::Simulator => Payments::Simulator,
            PaymentsSetting::Stripe if !cfg!(feature = "stripe") => bail!(
                "PAYMENTS=stripe needs a build with Stripe's adapter: `cargo run --release --features stripe` \
                 (the default build leaves it out to stay small)"
            ),
            PaymentsSetting::Stripe => Payments::Stripe {
                api_base: self.stripe_api_base,
                key: Secret::new(
                    self.stripe_secret_key
                        .filter(|key| !key.trim().is_empty())
                        .context("PAYMENTS=stripe needs STRIPE_SECRET_KEY")?,
                ),
            },
        };
        let shipping = match self.carrier {
            ShippingSetting::Simulator => Shipping::Simulator,
            ShippingSetting::EasyPost if !cfg!(feature = "easypost") => bail!(
                "CARRIER=easypost needs a build with EasyPost's adapter: `cargo run --release --features easypost` \
                 (the default build leaves it out to stay small)"
            ),
            ShippingSetting::EasyPost => {
                let given = |value: String, name: &str| -> anyhow::Result<String> {
                    Some(value)
                        .filter(|v| !v.trim().is_empty())
                        .with_context(|| format!("CARRIER=easypost needs {name}"))
                };
                Shipping::EasyPost {
                    api_base: self.easypost_api_base,
                    key: Secret::new(given(self.easypost_api_key.unwrap_or_default(), "EASYPOST_API_KEY")?),
                    carriers: given(self.shipping_carriers, "SHIPPING_CARRIERS")?,
                    ship_from: given(self.ship_from, "SHIP_FROM")?,
                }
            }
        };
        Ok(Config {
            bind: SocketAddr::new(self.host, self.port),
            data_dir: self.data_dir,
            catalog_path: self.catalog_path,
            auth: self.auth_mode,
            durability: match self.durability {
                DurabilitySetting::Full => Durability::Full,
                DurabilitySetting::Normal => Durability::Normal,
            },
            json_logs: self.log_format == LogFormat::Json,
            public_url: self.public_url.map(|url| url.trim_end_matches('/').to_owned()),
            time_scale: self.time_scale,
            max_tasks_in_flight: self.max_tasks_in_flight,
            faults: Faults::parse(&self.faults, self.fault_seed).context("FAULTS")?,
            carrier_outage: self.carrier_outage.filter(|name| !name.is_empty()),
            payments,
            shipping,
            stripe_webhook_secret: self.stripe_webhook_secret.filter(|s| !s.trim().is_empty()).map(Secret::new),
            workflows_paused: self.workflows == Workflows::Paused,
            execution_store: None,
            limits: Limits {
                max_requests_in_flight: self.max_requests_in_flight,
                request_timeout: Duration::from_secs(self.request_timeout_seconds),
                header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(flags: &[&str]) -> anyhow::Result<Config> {
        Config::from_args(std::iter::once("orderflow").chain(flags.iter().copied()))
    }

    #[test]
    fn the_simulator_takes_payments_unless_told_otherwise() {
        assert_eq!(config_with(&[]).unwrap().payments, Payments::Simulator);
    }

    #[cfg(not(feature = "stripe"))]
    #[test]
    fn stripe_in_a_build_without_it_is_refused_naming_the_feature() {
        let error = config_with(&["--payments=stripe", "--stripe-secret-key=sk_test_x"]).unwrap_err().to_string();
        assert!(error.contains("--features stripe"), "{error}");
    }

    #[cfg(not(feature = "easypost"))]
    #[test]
    fn easypost_in_a_build_without_it_is_refused_naming_the_feature() {
        let error = config_with(&["--carrier=easypost"]).unwrap_err().to_string();
        assert!(error.contains("--features easypost"), "{error}");
    }

    #[cfg(feature = "easypost")]
    #[test]
    fn easypost_needs_its_key_carriers_and_warehouse() {
        let error = config_with(&["--carrier=easypost", "--shipping-carriers=FedEx", "--ship-from={}"]).unwrap_err();
        assert!(error.to_string().contains("EASYPOST_API_KEY"), "{error}");
        let config = config_with(&[
            "--carrier=easypost",
            "--easypost-api-key=EZTKHidden",
            "--shipping-carriers=FedEx",
            "--ship-from={}",
        ])
        .unwrap();
        assert!(!format!("{config:?}").contains("EZTKHidden"));
    }

    #[cfg(feature = "stripe")]
    #[test]
    fn stripe_needs_its_key_and_never_shows_it() {
        let error = config_with(&["--payments=stripe", "--stripe-secret-key="]).unwrap_err().to_string();
        assert!(error.contains("STRIPE_SECRET_KEY"), "{error}");
        let config = config_with(&[
            "--payments=stripe",
            "--stripe-secret-key=sk_test_51Hidden",
            "--stripe-api-base=http://127.0.0.1:8420",
        ])
        .unwrap();
        assert!(matches!(&config.payments, Payments::Stripe { api_base, .. } if api_base == "http://127.0.0.1:8420"));
        assert!(!format!("{config:?}").contains("sk_test_51Hidden"));
    }
}
