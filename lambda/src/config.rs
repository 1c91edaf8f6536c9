//! Configuration from the environment, read once per cold start. Each function reads only what it
//! uses, and a missing or invalid setting stops the cold start with a message naming it, rather
//! than failing the first invocation.
//!
//! `PROFILE=production` adds the checks a real deployment needs: no simulated partner, no
//! placeholder seller. `PROFILE=development` (the default) is for emulators.

use std::collections::HashMap;
use std::time::Duration;

use orderflow_adapters_easypost::{CarrierChoice, carrier_preferences, ship_from};
use orderflow_api::AuthMode;
use orderflow_documents::Seller;
use orderflow_domain::address::PostalAddress;
use orderflow_domain::customer::EmailAddress;
use orderflow_workers::Task;

/// Why a function refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name}=`{value}` is invalid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
    #[error("{name} is `{value}`, which PROFILE=production refuses: {why}")]
    RefusedInProduction { name: &'static str, value: String, why: &'static str },
}

/// The settings a function was started with: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    values: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self { values: std::env::vars().collect() }
    }

    fn optional(&self, name: &'static str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<&str, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { name, value: value.to_owned(), reason: reason.into() }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self { values: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

/// How strict the checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Emulators and trials: simulated partners and the placeholder seller are allowed.
    Development,
    /// A real deployment: every partner real, every business detail given.
    Production,
}

/// Who takes payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentPartner {
    /// The local simulator, its ledger in `SIMULATOR_DIR`: on AWS each function instance has its
    /// own, so a refund does not find a charge made by another instance. For trials only.
    Simulator,
    /// Stripe (`PAYMENTS=stripe`) at `api_base` (`STRIPE_API_BASE`, default Stripe's own; a fake
    /// such as localstripe on an emulator), with the secret key from `key`.
    Stripe { api_base: String, key: Secret },
}

/// Where a function finds a secret (a Stripe key, a webhook signing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// `…_ARN`: a Secrets Manager secret holding the value, read once per cold start. What a
    /// deployment uses: the value is in no function's configuration.
    SecretsManager(String),
    /// The value itself, in the environment, for emulators and trials; production refuses it.
    Environment(orderflow_domain::Secret),
}

/// The secret named by the setting `arn_name` (a Secrets Manager ARN) or, outside production,
/// `value_name` (the value itself); `None` when neither is set.
fn secret(
    env: &Env,
    arn_name: &'static str,
    value_name: &'static str,
    production: bool,
) -> Result<Option<Secret>, ConfigError> {
    match (env.optional(arn_name), env.optional(value_name)) {
        (Some(arn), _) => Ok(Some(Secret::SecretsManager(arn.to_owned()))),
        (None, Some(_)) if production => Err(ConfigError::RefusedInProduction {
            name: value_name,
            value: "(not shown)".to_owned(),
            why: "a secret in the environment is readable by whoever reads the function's configuration; \
                  give its Secrets Manager ARN instead",
        }),
        (None, Some(value)) => Ok(Some(Secret::Environment(orderflow_domain::Secret::new(value)))),
        (None, None) => Ok(None),
    }
}

/// Who ships parcels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierPartner {
    /// The local simulator, with the same caveat as [`PaymentPartner::Simulator`].
    Simulator,
    /// EasyPost (`CARRIER=easypost`) at `api_base` (`EASYPOST_API_BASE`, default EasyPost's own),
    /// with the key from `key`, buying from the carriers of `SHIPPING_CARRIERS` in order and
    /// shipping from `SHIP_FROM`.
    EasyPost { api_base: String, key: Secret, carriers: Vec<CarrierChoice>, ship_from: Box<PostalAddress> },
}

/// What every function shares: where the data is.
#[derive(Debug, Clone)]
pub struct Common {
    /// `PROFILE`: `development` (default) or `production`.
    pub profile: Profile,
    /// `TABLE_NAME`: the DynamoDB table.
    pub table: String,
    /// `S3_FORCE_PATH_STYLE`: `true` for emulators, which have no `bucket.host` DNS. The endpoint
    /// itself is the SDK's own `AWS_ENDPOINT_URL`.
    pub path_style_s3: bool,
}

/// The API function's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub common: Common,
    /// `DOCUMENTS_BUCKET`: where invoices and labels are, to link them.
    pub bucket: String,
    /// `STATE_MACHINE_ARN`: the order workflow the API starts.
    pub state_machine_arn: String,
    /// `LINK_TTL_SECONDS` (default a week): how long document links work.
    pub link_ttl: Duration,
    /// `CUSTOMER_CLAIM` (default `sub`) and `OPERATOR_SCOPE` (default `orders/operate`).
    pub auth: AuthMode,
    /// `STRIPE_WEBHOOK_SECRET_ARN` (or, outside production, `STRIPE_WEBHOOK_SECRET`): the
    /// signing secret of the Stripe webhook endpoint; unset, `/webhooks/stripe` is `404`.
    pub stripe_webhook: Option<Secret>,
}

/// A worker function's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub common: Common,
    /// `TASK`: the one saga task this function runs (`PriceOrder`, `ChargePayment`, ...).
    pub task: Task,
    /// `DOCUMENTS_BUCKET`.
    pub bucket: String,
    /// `LINK_TTL_SECONDS`: how long the links in emails work.
    pub link_ttl: Duration,
    /// `SELLER_NAME`, `SELLER_ADDRESS` (lines separated by `|`), `SELLER_TAX_ID`,
    /// `MAIL_SENDER` (the From of every email, an SES identity), `SELLER_WEBSITE` (optional).
    pub seller: Seller,
    /// `PAYMENTS`: `stripe` or `simulator`.
    pub payments: PaymentPartner,
    /// `CARRIER`: `easypost` or `simulator`.
    pub carrier: CarrierPartner,
    /// `SIMULATOR_DIR` (default `/tmp/orderflow`): where simulated partners keep their ledgers.
    pub simulator_dir: std::path::PathBuf,
}

/// The outbox sweeper's settings.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub common: Common,
    /// `STATE_MACHINE_ARN`.
    pub state_machine_arn: String,
}

/// Stripe's settings: where it is, and where the key is.
fn stripe(env: &Env, production: bool) -> Result<PaymentPartner, ConfigError> {
    let api_base = env.optional("STRIPE_API_BASE").unwrap_or(orderflow_adapters_stripe::API_BASE);
    if production && api_base != orderflow_adapters_stripe::API_BASE {
        return Err(ConfigError::RefusedInProduction {
            name: "STRIPE_API_BASE",
            value: api_base.to_owned(),
            why: "production charges through Stripe itself",
        });
    }
    let key = secret(env, "STRIPE_SECRET_ARN", "STRIPE_SECRET_KEY", production)?
        .ok_or(ConfigError::Missing("STRIPE_SECRET_ARN"))?;
    Ok(PaymentPartner::Stripe { api_base: api_base.to_owned(), key })
}

/// EasyPost's settings: where it is, where the key is, the carriers and the warehouse.
fn easypost(env: &Env, production: bool) -> Result<CarrierPartner, ConfigError> {
    let api_base = env.optional("EASYPOST_API_BASE").unwrap_or(orderflow_adapters_easypost::API_BASE);
    if production && api_base != orderflow_adapters_easypost::API_BASE {
        return Err(ConfigError::RefusedInProduction {
            name: "EASYPOST_API_BASE",
            value: api_base.to_owned(),
            why: "production buys labels from EasyPost itself",
        });
    }
    let key = secret(env, "EASYPOST_SECRET_ARN", "EASYPOST_API_KEY", production)?
        .ok_or(ConfigError::Missing("EASYPOST_SECRET_ARN"))?;
    let raw = env.required("SHIPPING_CARRIERS")?;
    let carriers = carrier_preferences(raw).map_err(|e| Env::invalid("SHIPPING_CARRIERS", raw, e.to_string()))?;
    let raw = env.required("SHIP_FROM")?;
    let ship_from = ship_from(raw).map_err(|e| Env::invalid("SHIP_FROM", raw, e.to_string()))?;
    Ok(CarrierPartner::EasyPost { api_base: api_base.to_owned(), key, carriers, ship_from: Box::new(ship_from) })
}

/// A week: links in emails must outlive the customer's inbox habits, not much more.
const DEFAULT_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Common {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let profile = match env.optional("PROFILE").unwrap_or("development") {
            "development" => Profile::Development,
            "production" => Profile::Production,
            other => return Err(Env::invalid("PROFILE", other, "expected `development` or `production`")),
        };
        let path_style_s3 = match env.optional("S3_FORCE_PATH_STYLE").unwrap_or("false") {
            "true" => true,
            "false" => false,
            other => return Err(Env::invalid("S3_FORCE_PATH_STYLE", other, "expected `true` or `false`")),
        };
        Ok(Self { profile, table: env.required("TABLE_NAME")?.to_owned(), path_style_s3 })
    }
}

fn link_ttl(env: &Env) -> Result<Duration, ConfigError> {
    match env.optional("LINK_TTL_SECONDS") {
        None => Ok(DEFAULT_LINK_TTL),
        Some(raw) => match raw.parse::<u64>() {
            // S3 presigns for at most a week.
            Ok(seconds @ 1..=604_800) => Ok(Duration::from_secs(seconds)),
            _ => Err(Env::invalid("LINK_TTL_SECONDS", raw, "expected whole seconds from 1 to 604800 (a week)")),
        },
    }
}

fn state_machine_arn(env: &Env) -> Result<String, ConfigError> {
    let arn = env.required("STATE_MACHINE_ARN")?;
    if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
        return Err(Env::invalid(
            "STATE_MACHINE_ARN",
            arn,
            "expected arn:<partition>:states:<region>:<account>:stateMachine:<name>",
        ));
    }
    Ok(arn.to_owned())
}

impl ApiConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = Common::from_env(env)?;
        let production = common.profile == Profile::Production;
        Ok(Self {
            stripe_webhook: secret(env, "STRIPE_WEBHOOK_SECRET_ARN", "STRIPE_WEBHOOK_SECRET", production)?,
            common,
            bucket: env.required("DOCUMENTS_BUCKET")?.to_owned(),
            state_machine_arn: state_machine_arn(env)?,
            link_ttl: link_ttl(env)?,
            auth: AuthMode::JwtClaims {
                customer_claim: env.optional("CUSTOMER_CLAIM").unwrap_or("sub").to_owned(),
                operator_scope: env.optional("OPERATOR_SCOPE").unwrap_or("orders/operate").to_owned(),
            },
        })
    }
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = Common::from_env(env)?;
        let production = common.profile == Profile::Production;
        let raw_task = env.required("TASK")?;
        let task = Task::from_name(raw_task).ok_or_else(|| {
            let names: Vec<&str> = Task::ALL.iter().map(|task| task.name()).collect();
            Env::invalid("TASK", raw_task, format!("expected one of {}", names.join(", ")))
        })?;
        let payments = match env.required("PAYMENTS")? {
            "simulator" if production => {
                return Err(ConfigError::RefusedInProduction {
                    name: "PAYMENTS",
                    value: "simulator".to_owned(),
                    why: "a simulator takes no real money",
                });
            }
            "simulator" => PaymentPartner::Simulator,
            "stripe" => stripe(env, production)?,
            other => return Err(Env::invalid("PAYMENTS", other, "expected `stripe` or `simulator`")),
        };
        let carrier = match env.required("CARRIER")? {
            "simulator" if production => {
                return Err(ConfigError::RefusedInProduction {
                    name: "CARRIER",
                    value: "simulator".to_owned(),
                    why: "a simulator ships nothing",
                });
            }
            "simulator" => CarrierPartner::Simulator,
            "easypost" => easypost(env, production)?,
            other => return Err(Env::invalid("CARRIER", other, "expected `easypost` or `simulator`")),
        };
        Ok(Self {
            task,
            bucket: env.required("DOCUMENTS_BUCKET")?.to_owned(),
            link_ttl: link_ttl(env)?,
            seller: seller(env, production)?,
            payments,
            carrier,
            simulator_dir: env.optional("SIMULATOR_DIR").unwrap_or("/tmp/orderflow").into(),
            common,
        })
    }
}

/// The seller from `SELLER_*` and `MAIL_SENDER`. In development, what is not given is the
/// placeholder store's; in production every detail printed on an invoice must be given.
fn seller(env: &Env, production: bool) -> Result<Seller, ConfigError> {
    let placeholder = Seller::default();
    let text = |name: &'static str| -> Result<Option<String>, ConfigError> {
        match env.optional(name) {
            Some(value) => Ok(Some(value.to_owned())),
            None if production => Err(ConfigError::Missing(name)),
            None => Ok(None),
        }
    };
    let sender = env.required("MAIL_SENDER")?;
    let email = EmailAddress::parse(sender).map_err(|e| Env::invalid("MAIL_SENDER", sender, e.reason()))?;
    if production && sender.ends_with(".example") {
        return Err(ConfigError::RefusedInProduction {
            name: "MAIL_SENDER",
            value: sender.to_owned(),
            why: "the .example domain is reserved and reaches no one",
        });
    }
    Ok(Seller {
        name: text("SELLER_NAME")?.unwrap_or(placeholder.name),
        address: text("SELLER_ADDRESS")?
            .map_or(placeholder.address, |lines| lines.split('|').map(|line| line.trim().to_owned()).collect()),
        tax_id: text("SELLER_TAX_ID")?.unwrap_or(placeholder.tax_id),
        email,
        website: env.optional("SELLER_WEBSITE").map(str::to_owned),
    })
}

impl SweeperConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { common: Common::from_env(env)?, state_machine_arn: state_machine_arn(env)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker_env(extra: &[(&str, &str)]) -> Env {
        let base = [
            ("TABLE_NAME", "orders"),
            ("DOCUMENTS_BUCKET", "documents"),
            ("TASK", "ChargePayment"),
            ("PAYMENTS", "simulator"),
            ("CARRIER", "simulator"),
            ("MAIL_SENDER", "orders@shop.test"),
        ];
        let mut values: HashMap<&str, &str> = base.into_iter().collect();
        values.extend(extra.iter().copied());
        values.into_iter().collect()
    }

    #[test]
    fn a_worker_takes_its_stripe_key_from_secrets_manager_or_in_development_from_the_environment() {
        let config = WorkerConfig::from_env(&worker_env(&[
            ("PAYMENTS", "stripe"),
            ("STRIPE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:000000000000:secret:stripe"),
        ]))
        .unwrap();
        assert_eq!(
            config.payments,
            PaymentPartner::Stripe {
                api_base: "https://api.stripe.com".to_owned(),
                key: Secret::SecretsManager("arn:aws:secretsmanager:us-east-1:000000000000:secret:stripe".to_owned()),
            }
        );

        let key = "sk_test_51ThisKeyMustNotBeShown";
        let config = WorkerConfig::from_env(&worker_env(&[
            ("PAYMENTS", "stripe"),
            ("STRIPE_SECRET_KEY", key),
            ("STRIPE_API_BASE", "http://127.0.0.1:8420"),
        ]))
        .unwrap();
        assert!(
            matches!(&config.payments, PaymentPartner::Stripe { api_base, key: Secret::Environment(_) } if api_base == "http://127.0.0.1:8420")
        );
        assert!(!format!("{config:?}").contains(key), "the key shows in the configuration's Debug");
    }

    #[test]
    fn production_takes_stripe_itself_and_its_key_only_from_secrets_manager() {
        let production = |extra: &[(&str, &str)]| {
            let mut settings = vec![("PROFILE", "production"), ("PAYMENTS", "stripe"), ("CARRIER", "simulator")];
            settings.extend_from_slice(extra);
            WorkerConfig::from_env(&worker_env(&settings)).unwrap_err()
        };
        let key_in_env = production(&[("STRIPE_SECRET_KEY", "sk_live_51Secret")]);
        assert!(
            matches!(key_in_env, ConfigError::RefusedInProduction { name: "STRIPE_SECRET_KEY", .. }),
            "{key_in_env}"
        );
        assert!(!key_in_env.to_string().contains("sk_live_51Secret"));
        assert!(matches!(production(&[]), ConfigError::Missing("STRIPE_SECRET_ARN")));
        let fake = production(&[("STRIPE_SECRET_ARN", "arn:x"), ("STRIPE_API_BASE", "http://127.0.0.1:8420")]);
        assert!(matches!(fake, ConfigError::RefusedInProduction { name: "STRIPE_API_BASE", .. }), "{fake}");
    }

    #[test]
    fn easypost_takes_its_carriers_the_warehouse_and_its_key_only_from_secrets_manager_in_production() {
        const WAREHOUSE: &str = r#"{"name":"Orderflow Warehouse","line1":"1 Dock Road","city":"Portland","region":"OR","postalCode":"97214","country":"US"}"#;
        let easypost = |extra: &[(&str, &str)]| {
            let mut settings = vec![
                ("CARRIER", "easypost"),
                ("SHIPPING_CARRIERS", "DHLExpress, FedEx:FEDEX_GROUND"),
                ("SHIP_FROM", WAREHOUSE),
            ];
            settings.extend_from_slice(extra);
            WorkerConfig::from_env(&worker_env(&settings))
        };
        let config =
            easypost(&[("EASYPOST_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:000000000000:secret:easypost")])
                .unwrap();
        let CarrierPartner::EasyPost { api_base, key, carriers, ship_from } = config.carrier else {
            panic!("not EasyPost: {:?}", config.carrier)
        };
        assert_eq!(api_base, orderflow_adapters_easypost::API_BASE);
        assert!(matches!(key, Secret::SecretsManager(arn) if arn.ends_with(":secret:easypost")));
        assert_eq!(carriers.iter().map(ToString::to_string).collect::<Vec<_>>(), ["DHLExpress", "FedEx:FEDEX_GROUND"]);
        assert_eq!(ship_from.postal_code.as_ref(), "97214");

        let production = |extra: &[(&str, &str)]| {
            let mut settings = vec![("PROFILE", "production"), ("PAYMENTS", "stripe"), ("STRIPE_SECRET_ARN", "arn:s")];
            settings.extend_from_slice(extra);
            easypost(&settings).unwrap_err()
        };
        let key_in_env = production(&[("EASYPOST_API_KEY", "EZAKSecretKey")]);
        assert!(
            matches!(key_in_env, ConfigError::RefusedInProduction { name: "EASYPOST_API_KEY", .. }),
            "{key_in_env}"
        );
        assert!(!key_in_env.to_string().contains("EZAKSecretKey"));
        let fake = production(&[("EASYPOST_SECRET_ARN", "arn:e"), ("EASYPOST_API_BASE", "http://127.0.0.1:8421")]);
        assert!(matches!(fake, ConfigError::RefusedInProduction { name: "EASYPOST_API_BASE", .. }), "{fake}");
        let no_carriers = easypost(&[("EASYPOST_API_KEY", "EZTK1"), ("SHIPPING_CARRIERS", "Fed Ex")]).unwrap_err();
        assert!(no_carriers.to_string().starts_with("SHIPPING_CARRIERS="), "{no_carriers}");
        let bad_warehouse = easypost(&[("EASYPOST_API_KEY", "EZTK1"), ("SHIP_FROM", "1 Dock Road")]).unwrap_err();
        assert!(bad_warehouse.to_string().starts_with("SHIP_FROM="), "{bad_warehouse}");
    }

    #[test]
    fn a_development_worker_starts_on_simulators_with_the_placeholder_seller() {
        let config = WorkerConfig::from_env(&worker_env(&[])).unwrap();
        assert_eq!(config.task, Task::ChargePayment);
        assert_eq!(config.payments, PaymentPartner::Simulator);
        assert_eq!(config.seller.name, Seller::default().name);
        assert_eq!(config.seller.email.as_str(), "orders@shop.test");
    }

    #[test]
    fn production_refuses_a_simulated_partner_naming_the_setting() {
        let error = WorkerConfig::from_env(&worker_env(&[("PROFILE", "production")])).unwrap_err();
        assert!(matches!(error, ConfigError::RefusedInProduction { name: "PAYMENTS", .. }), "{error}");
        assert!(error.to_string().starts_with("PAYMENTS is `simulator`"), "{error}");
    }

    #[test]
    fn a_missing_setting_is_named() {
        let env: Env = [("TABLE_NAME", "orders")].into_iter().collect();
        assert_eq!(WorkerConfig::from_env(&env).unwrap_err().to_string(), "TASK is not set");
        assert_eq!(ApiConfig::from_env(&env).unwrap_err().to_string(), "DOCUMENTS_BUCKET is not set");
    }

    #[test]
    fn an_unknown_task_is_refused_with_the_names_it_could_be() {
        let error = WorkerConfig::from_env(&worker_env(&[("TASK", "ChargeCard")])).unwrap_err().to_string();
        assert!(error.starts_with("TASK=`ChargeCard` is invalid: expected one of PriceOrder, "), "{error}");
    }

    #[test]
    fn the_api_reads_the_customer_claim_and_operator_scope() {
        let env: Env = [
            ("TABLE_NAME", "orders"),
            ("DOCUMENTS_BUCKET", "documents"),
            ("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:000000000000:stateMachine:order"),
            ("CUSTOMER_CLAIM", "custom:customer_id"),
        ]
        .into_iter()
        .collect();
        let config = ApiConfig::from_env(&env).unwrap();
        assert_eq!(
            config.auth,
            AuthMode::JwtClaims {
                customer_claim: "custom:customer_id".to_owned(),
                operator_scope: "orders/operate".to_owned()
            }
        );
        assert_eq!(config.link_ttl, DEFAULT_LINK_TTL);
    }

    #[test]
    fn a_state_machine_arn_must_name_a_state_machine() {
        let env: Env = [("TABLE_NAME", "orders"), ("STATE_MACHINE_ARN", "order")].into_iter().collect();
        assert!(
            SweeperConfig::from_env(&env).unwrap_err().to_string().starts_with("STATE_MACHINE_ARN=`order` is invalid")
        );
    }
}
