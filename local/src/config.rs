//! Configuration from the environment, read once at start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use asl_engine::ExecutionStore;
use orderflow_adapters_local::sqlite::Durability;
use orderflow_api::AuthMode;

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

impl Config {
    /// Reads the configuration from environment variables.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let host: IpAddr = match lookup("HOST") {
            Some(host) => host.parse().with_context(|| format!("HOST `{host}` is not an IP address"))?,
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let port: u16 = match lookup("PORT") {
            Some(port) => port.parse().with_context(|| format!("PORT `{port}` is not a port number"))?,
            None => 3000,
        };
        let auth = match lookup("AUTH_MODE").as_deref() {
            None | Some("none") => AuthMode::None,
            Some(mode) => match mode.strip_prefix("gateway-header:") {
                Some(name) => AuthMode::GatewayHeader(
                    http::HeaderName::from_bytes(name.as_bytes())
                        .with_context(|| format!("`{name}` is not a header name"))?,
                ),
                None => bail!("AUTH_MODE `{mode}` is neither `none` nor `gateway-header:<name>`"),
            },
        };
        if !host.is_loopback() && auth == AuthMode::None {
            bail!(
                "refusing to listen on HOST `{host}` with AUTH_MODE `none`: anyone who can reach it could read, \
                 cancel and re-address every order. Keep HOST on a loopback address (127.0.0.1, the default), \
                 or put an authenticating gateway in front and set AUTH_MODE=gateway-header:<header>"
            );
        }
        let durability = match lookup("DURABILITY").as_deref() {
            None | Some("full") => Durability::Full,
            Some("normal") => Durability::Normal,
            Some(other) => bail!("DURABILITY `{other}` is neither `full` nor `normal`"),
        };
        let json_logs = match lookup("LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => bail!("LOG_FORMAT `{other}` is neither `text` nor `json`"),
        };
        let time_scale = match lookup("TIME_SCALE") {
            Some(raw) => raw
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .with_context(|| format!("TIME_SCALE `{raw}` is not a non-negative number"))?,
            None => 1.0,
        };
        let max_tasks_in_flight = match lookup("MAX_TASKS_IN_FLIGHT") {
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("MAX_TASKS_IN_FLIGHT `{raw}` is not a positive number"))?,
            None => 256,
        };
        let seed = match lookup("FAULT_SEED") {
            Some(raw) => raw.parse::<u64>().with_context(|| format!("FAULT_SEED `{raw}` is not a number"))?,
            None => 0,
        };
        let faults = Faults::parse(&lookup("FAULTS").unwrap_or_default(), seed)?;
        let positive = |name: &str, default: u64| -> anyhow::Result<u64> {
            match lookup(name) {
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("{name} `{raw}` is not a positive number")),
                None => Ok(default),
            }
        };
        let defaults = Limits::default();
        let limits = Limits {
            max_requests_in_flight: usize::try_from(positive(
                "MAX_REQUESTS_IN_FLIGHT",
                defaults.max_requests_in_flight as u64,
            )?)
            .context("MAX_REQUESTS_IN_FLIGHT is too large")?,
            request_timeout: Duration::from_secs(positive(
                "REQUEST_TIMEOUT_SECONDS",
                defaults.request_timeout.as_secs(),
            )?),
            header_read_timeout: Duration::from_secs(positive(
                "HEADER_READ_TIMEOUT_SECONDS",
                defaults.header_read_timeout.as_secs(),
            )?),
        };
        Ok(Self {
            bind: SocketAddr::new(host, port),
            data_dir: lookup("DATA_DIR").map_or_else(|| PathBuf::from("var"), PathBuf::from),
            catalog_path: lookup("CATALOG_PATH").map(PathBuf::from),
            auth,
            durability,
            json_logs,
            public_url: lookup("PUBLIC_URL").map(|url| url.trim_end_matches('/').to_owned()),
            time_scale,
            max_tasks_in_flight,
            faults,
            carrier_outage: lookup("CARRIER_OUTAGE").filter(|name| !name.is_empty()),
            workflows_paused: match lookup("WORKFLOWS").as_deref() {
                None | Some("run") => false,
                Some("paused") => true,
                Some(other) => bail!("WORKFLOWS `{other}` is neither `run` nor `paused`"),
            },
            execution_store: None,
            limits,
        })
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
            workflows_paused: false,
            execution_store: None,
            limits: Limits::default(),
        }
    }
}
