//! Configuration from the environment, read once at start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use orderflow_adapters_local::sqlite::Durability;
use orderflow_api::AuthMode;

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
        Ok(Self {
            bind: SocketAddr::new(host, port),
            data_dir: lookup("DATA_DIR").map_or_else(|| PathBuf::from("var"), PathBuf::from),
            catalog_path: lookup("CATALOG_PATH").map(PathBuf::from),
            auth,
            durability,
            json_logs,
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
        }
    }
}
