//! `Carrier` on EasyPost, a shipping aggregator: one EasyPost shipment per order, opened with
//! the addresses and the parcel (`POST /v2/shipments`, which buys nothing and answers the
//! carriers' rates), its `shp_…` recorded on the order, then the rate of the carrier the saga asks
//! for bought on it (`POST /v2/shipments/{id}/buy`), read back (`GET`), and refunded when unused
//! (`POST /v2/shipments/{id}/refund`).
//!
//! Why EasyPost rather than Shippo: both have the same steps, but EasyPost's shipment is the one
//! object the whole life of a parcel hangs on (rates, the bought label, its tracking code and its
//! refund), so the reference recorded on the order is enough to answer every question the
//! compensations ask; Shippo splits it across shipments, rates and transactions.
//!
//! # One label per order
//!
//! EasyPost keeps no idempotency keys, so buying is made idempotent by the shipment itself: every
//! purchase first reads the shipment, and a shipment that has a label gets it back whichever
//! carrier is named. EasyPost refuses a second purchase on a shipment, so two racing purchases
//! buy one label: the loser reads the winner's. A shipment opened twice (an answer lost while
//! opening) leaves one unbought, which costs nothing; only the one recorded on the order is ever
//! bought on.
//!
//! # Outcomes
//!
//! - An address EasyPost cannot verify (`ADDRESS.*` errors; shipments are created with
//!   `verify_strict`) is `Undeliverable`.
//! - A carrier with no rate for the parcel, or whose purchase fails with a carrier error, is
//!   `Unavailable`: the saga asks the next carrier in the preference list.
//! - `429`, `5xx`, timeouts and lost connections are `Transient`.
//! - Anything else EasyPost refuses (a bad key, a malformed request, an unknown shipment) is
//!   `Rejected`, logged as a defect.
//!
//! # Labels
//!
//! Labels are asked for as PDF. The adapter downloads the file and hands its bytes to the saga,
//! which keeps them in our blob store: customers' links never point at EasyPost. The key is sent
//! only to the API, never to the host the label is downloaded from.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use orderflow_domain::address::PostalAddress;
use orderflow_domain::catalog::Grams;
use orderflow_domain::ports::{Carrier, CarrierError, Shipment, ShipmentRequest};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

#[cfg(feature = "fake")]
pub mod fake;

/// Where EasyPost is.
pub const API_BASE: &str = "https://api.easypost.com";
/// How long one request may take before it is a `Transient` failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest label accepted: a 4×6 PDF label is tens of kilobytes.
const LABEL_LIMIT: usize = 8 << 20;

/// An EasyPost API key (`EZTK…` in test mode, `EZAK…` in production). Never shown: its `Debug`
/// names only its mode.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Whether the key is one of EasyPost's test keys, which buy nothing real.
    pub fn is_test_mode(&self) -> bool {
        self.0.starts_with("EZTK")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.0.get(..4) {
            Some("EZTK") => "EZTK",
            Some("EZAK") => "EZAK",
            _ => "a key",
        };
        write!(f, "ApiKey({mode}…)")
    }
}

/// One entry of the carrier preference list: a carrier as EasyPost names it (`DHLExpress`,
/// `FedEx`, `UPS`, `USPS`), and optionally the one service of it to buy. Without a service, the
/// carrier's cheapest rate is bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierChoice {
    pub carrier: String,
    pub service: Option<String>,
}

/// A preference list entry that names no carrier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a carrier: write `Carrier` or `Carrier:Service`, such as `FedEx:FEDEX_GROUND`")]
pub struct BadCarrierChoice(String);

impl FromStr for CarrierChoice {
    type Err = BadCarrierChoice;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (carrier, service) = match raw.trim().split_once(':') {
            Some((carrier, service)) => (carrier.trim(), Some(service.trim())),
            None => (raw.trim(), None),
        };
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain(carrier) || service.is_some_and(|service| !plain(service)) {
            return Err(BadCarrierChoice(raw.to_owned()));
        }
        Ok(Self { carrier: carrier.to_owned(), service: service.map(str::to_owned) })
    }
}

impl fmt::Display for CarrierChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.service {
            Some(service) => write!(f, "{}:{service}", self.carrier),
            None => f.write_str(&self.carrier),
        }
    }
}

/// Reads a comma-separated preference list, such as `DHLExpress, FedEx:FEDEX_GROUND`.
pub fn carrier_preferences(list: &str) -> Result<Vec<CarrierChoice>, BadCarrierChoice> {
    let choices: Vec<CarrierChoice> =
        list.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<_, _>>()?;
    if choices.is_empty() {
        return Err(BadCarrierChoice(list.to_owned()));
    }
    Ok(choices)
}

/// A ship-from address that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the ship-from address is invalid: {0}; write it as JSON, such as \
         {{\"name\":\"Warehouse\",\"line1\":\"1 Dock Road\",\"city\":\"Portland\",\"region\":\"OR\",\"postalCode\":\"97214\",\"country\":\"US\"}}"
)]
pub struct BadShipFrom(String);

/// Reads the warehouse's address from JSON with the fields of an order's address (`name`,
/// `line1`, `line2`, `city`, `region`, `postalCode`, `country`), checked as one is.
pub fn ship_from(json: &str) -> Result<PostalAddress, BadShipFrom> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Fields {
        name: String,
        line1: String,
        line2: Option<String>,
        city: String,
        region: Option<String>,
        postal_code: String,
        country: String,
    }
    let fields: Fields = serde_json::from_str(json).map_err(|e| BadShipFrom(e.to_string()))?;
    PostalAddress::parse(&orderflow_domain::address::AddressFields {
        name: &fields.name,
        line1: &fields.line1,
        line2: fields.line2.as_deref(),
        city: &fields.city,
        region: fields.region.as_deref(),
        postal_code: &fields.postal_code,
        country: &fields.country,
    })
    .map_err(|errors| {
        let errors: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.problem)).collect();
        BadShipFrom(errors.join("; "))
    })
}

/// Why building the client failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for EasyPost")]
pub struct ClientError(#[source] reqwest::Error);

/// EasyPost, as the saga's carrier.
#[derive(Debug, Clone)]
pub struct EasyPostCarrier {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    /// Where parcels leave from: the warehouse.
    ship_from: PostalAddress,
    preferences: Vec<CarrierChoice>,
}

impl EasyPostCarrier {
    /// EasyPost at `base` (`API_BASE`, or a fake) with `key`, shipping from `ship_from` with the
    /// carriers of `preferences`, preferred first.
    pub fn new(
        base: impl Into<String>,
        key: ApiKey,
        ship_from: PostalAddress,
        preferences: Vec<CarrierChoice>,
    ) -> Result<Self, ClientError> {
        Self::with_timeout(base, key, ship_from, preferences, REQUEST_TIMEOUT)
    }

    /// As [`EasyPostCarrier::new`], giving up on a request after `timeout` (a `Transient`
    /// failure).
    pub fn with_timeout(
        base: impl Into<String>,
        key: ApiKey,
        ship_from: PostalAddress,
        preferences: Vec<CarrierChoice>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(ClientError)?;
        Ok(Self { http, base: base.into().trim_end_matches('/').to_owned(), key, ship_from, preferences })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        // EasyPost takes the key as the user name of HTTP basic authentication.
        self.http.request(method, format!("{}{path}", self.base)).basic_auth(&self.key.0, None::<&str>)
    }

    /// Sends `request` and reads its answer as `T`, or the error EasyPost answered with.
    async fn send<T: for<'de> Deserialize<'de>>(&self, request: RequestBuilder) -> Result<T, Failure> {
        let response = request.send().await.map_err(Failure::Unreachable)?;
        if response.status().is_success() {
            return response.json().await.map_err(Failure::Unreadable);
        }
        Err(Failure::from_response(response).await)
    }

    async fn shipment(&self, reference: &str) -> Result<EpShipment, Failure> {
        let path = format!("/v2/shipments/{}", path_segment(reference)?);
        self.send(self.request(Method::GET, &path)).await
    }

    /// The bought label of `shipment` as the port's `Shipment`, its PDF downloaded.
    async fn bought(&self, shipment: &EpShipment) -> Result<Shipment, CarrierError> {
        let (Some(label), Some(rate)) = (&shipment.postage_label, &shipment.selected_rate) else {
            return Err(rejected("reading a bought label", Failure::Incomplete("postage_label or selected_rate")));
        };
        let tracking_number = shipment.tracking_code.clone().unwrap_or_default();
        let pdf = match label.label_pdf_url.as_deref().or(label.label_url.as_deref()) {
            Some(url) => self.download(url).await.map_err(|f| f.into_carrier_error("downloading the label"))?,
            None => Vec::new(),
        };
        let pdf = if pdf.starts_with(b"%PDF-") { pdf } else { self.label_as_pdf(&shipment.id).await? };
        Ok(Shipment {
            carrier: rate.carrier.clone(),
            service: rate.service.clone(),
            tracking_number,
            label: pdf,
            voided: shipment.is_refunded(),
        })
    }

    /// Has EasyPost convert the label of `reference` to PDF and downloads it.
    async fn label_as_pdf(&self, reference: &str) -> Result<Vec<u8>, CarrierError> {
        let path = format!(
            "/v2/shipments/{}/label",
            path_segment(reference).map_err(|f| rejected("converting the label", f))?
        );
        let converted: EpShipment = self
            .send(self.request(Method::GET, &path).query(&[("file_format", "PDF")]))
            .await
            .map_err(|f| f.into_carrier_error("converting the label to PDF"))?;
        let url = converted.postage_label.and_then(|label| label.label_pdf_url);
        let url = url.ok_or_else(|| rejected("converting the label", Failure::Incomplete("label_pdf_url")))?;
        let pdf = self.download(&url).await.map_err(|f| f.into_carrier_error("downloading the label"))?;
        if !pdf.starts_with(b"%PDF-") {
            return Err(rejected("converting the label", Failure::Incomplete("a PDF at label_pdf_url")));
        }
        Ok(pdf)
    }

    /// Downloads a label file. Without the API key: the file is on another host.
    async fn download(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let response = self.http.get(url).send().await.map_err(Failure::Unreachable)?;
        if !response.status().is_success() {
            return Err(Failure::from_response(response).await);
        }
        if response.content_length().is_some_and(|length| length > LABEL_LIMIT as u64) {
            return Err(Failure::Incomplete("a label under 8 MiB"));
        }
        let bytes = response.bytes().await.map_err(Failure::Unreadable)?;
        if bytes.len() > LABEL_LIMIT {
            return Err(Failure::Incomplete("a label under 8 MiB"));
        }
        Ok(bytes.to_vec())
    }

    fn choice(&self, named: &str) -> Option<&CarrierChoice> {
        self.preferences
            .iter()
            .find(|choice| choice.to_string().eq_ignore_ascii_case(named))
            .or_else(|| self.preferences.iter().find(|choice| choice.carrier.eq_ignore_ascii_case(named)))
    }
}

/// The rate of `choice` on `shipment`: its service's, or its cheapest.
fn rate_for<'a>(shipment: &'a EpShipment, choice: &CarrierChoice) -> Option<&'a Rate> {
    shipment
        .rates
        .iter()
        .filter(|rate| rate.carrier.eq_ignore_ascii_case(&choice.carrier))
        .filter(|rate| choice.service.as_ref().is_none_or(|service| rate.service.eq_ignore_ascii_case(service)))
        .min_by_key(|rate| rate.price_in_minor_units().unwrap_or(u64::MAX))
}

/// EasyPost weighs parcels in ounces: the weight in tenths of an ounce, rounded up so a label is
/// never bought for less than the parcel weighs.
fn ounces(weight: Grams) -> f64 {
    // One ounce is 28.349523125 g.
    let tenths = (u128::from(weight.0) * 10_000_000_000).div_ceil(28_349_523_125);
    #[allow(clippy::cast_precision_loss, reason = "tenths of an ounce of a parcel fit an f64 exactly")]
    let tenths = u64::try_from(tenths).unwrap_or(u64::MAX) as f64;
    (tenths / 10.0).max(0.1)
}

fn address(address: &PostalAddress) -> Value {
    json!({
        "name": address.name.as_ref(),
        "street1": address.line1,
        "street2": address.line2,
        "city": address.city,
        "state": address.region.as_ref().map(AsRef::<str>::as_ref),
        "zip": address.postal_code.as_ref(),
        "country": address.country.to_string(),
    })
}

#[async_trait]
impl Carrier for EasyPostCarrier {
    fn carriers(&self) -> Vec<String> {
        self.preferences.iter().map(ToString::to_string).collect()
    }

    #[tracing::instrument(skip_all, fields(order_id = %request.order))]
    async fn open(&self, request: &ShipmentRequest) -> Result<String, CarrierError> {
        let mut to = address(&request.destination);
        to["verify_strict"] = json!(true);
        let body = json!({"shipment": {
            "reference": request.order.as_str(),
            "to_address": to,
            "from_address": address(&self.ship_from),
            "parcel": {"weight": ounces(request.weight)},
            "options": {"label_format": "PDF"},
        }});
        let opened: EpShipment = self
            .send(self.request(Method::POST, "/v2/shipments").json(&body))
            .await
            .map_err(|f| f.into_carrier_error("opening a shipment"))?;
        for message in &opened.messages {
            tracing::info!(carrier = ?message.carrier, message = ?message.message, "a carrier gave no rate");
        }
        tracing::info!(reference = %opened.id, rates = opened.rates.len(), "shipment opened");
        Ok(opened.id)
    }

    #[tracing::instrument(skip_all, fields(%reference, carrier = %named))]
    async fn ship(&self, reference: &str, named: &str) -> Result<Shipment, CarrierError> {
        let Some(choice) = self.choice(named) else {
            tracing::warn!("asked for a carrier that is not in the preference list");
            return Err(CarrierError::Unavailable(named.to_owned()));
        };
        let shipment = self.shipment(reference).await.map_err(|f| f.into_carrier_error("reading the shipment"))?;
        if shipment.postage_label.is_some() {
            return self.bought(&shipment).await;
        }
        let Some(rate) = rate_for(&shipment, choice) else {
            let why: Vec<&str> = shipment
                .messages
                .iter()
                .filter(|m| m.carrier.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(&choice.carrier)))
                .filter_map(|m| m.message.as_deref())
                .collect();
            tracing::info!(why = ?why, "the carrier has no rate for the parcel");
            return Err(CarrierError::Unavailable(choice.to_string()));
        };
        let path = format!("/v2/shipments/{}/buy", path_segment(reference).map_err(|f| rejected("buying", f))?);
        let body = json!({"rate": {"id": rate.id}});
        match self.send::<EpShipment>(self.request(Method::POST, &path).json(&body)).await {
            Ok(bought) => {
                tracing::info!(tracking_number = ?bought.tracking_code, service = %rate.service, "label bought");
                self.bought(&bought).await
            }
            Err(failure) if failure.is_address_error() => Err(failure.into_carrier_error("buying the label")),
            Err(failure @ Failure::Answered { status: StatusCode::UNPROCESSABLE_ENTITY, .. }) => {
                // Refused: either a racing purchase bought this shipment's label first, or the
                // carrier failed. The shipment says which.
                let now = self.shipment(reference).await.map_err(|f| f.into_carrier_error("reading the shipment"))?;
                if now.postage_label.is_some() {
                    return self.bought(&now).await;
                }
                tracing::info!(error = %failure, "the carrier could not sell the label");
                Err(CarrierError::Unavailable(choice.to_string()))
            }
            Err(failure) => Err(failure.into_carrier_error("buying the label")),
        }
    }

    async fn find(&self, reference: &str) -> Result<Option<Shipment>, CarrierError> {
        let shipment = self.shipment(reference).await.map_err(|f| f.into_carrier_error("reading the shipment"))?;
        if shipment.postage_label.is_none() {
            return Ok(None);
        }
        self.bought(&shipment).await.map(Some)
    }

    #[tracing::instrument(skip_all, fields(%reference))]
    async fn void(&self, reference: &str) -> Result<(), CarrierError> {
        let shipment = self.shipment(reference).await.map_err(|f| f.into_carrier_error("reading the shipment"))?;
        if shipment.postage_label.is_none() || shipment.is_refunded() {
            return Ok(());
        }
        let path = format!("/v2/shipments/{}/refund", path_segment(reference).map_err(|f| rejected("voiding", f))?);
        let refunded = match self.send::<EpShipment>(self.request(Method::POST, &path)).await {
            Ok(refunded) => refunded,
            // Perhaps a racing void asked first: the shipment says.
            Err(Failure::Answered { status: StatusCode::UNPROCESSABLE_ENTITY, .. }) => {
                self.shipment(reference).await.map_err(|f| f.into_carrier_error("reading the shipment"))?
            }
            Err(failure) => return Err(failure.into_carrier_error("voiding the label")),
        };
        if !refunded.is_refunded() {
            let status = refunded.refund_status.unwrap_or_else(|| "none".to_owned());
            tracing::error!(%status, "EasyPost did not take the label's refund: a person must look at it");
            return Err(rejected("voiding the label", Failure::RefundRefused(status)));
        }
        tracing::info!("label voided");
        Ok(())
    }
}

/// `reference` as one path segment, refused unless it looks like an EasyPost id: a reference
/// never reaches a URL as anything but an id.
fn path_segment(reference: &str) -> Result<&str, Failure> {
    let plain = !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain { Ok(reference) } else { Err(Failure::BadReference(reference.to_owned())) }
}

fn rejected(doing: &'static str, failure: Failure) -> CarrierError {
    tracing::error!(error = %failure, doing, "EasyPost refused a request: a defect or a configuration error, not retried");
    CarrierError::Rejected(Box::new(Context { doing, failure }))
}

/// How a request to EasyPost failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("EasyPost could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("EasyPost's answer could not be read")]
    Unreadable(#[source] reqwest::Error),
    #[error("EasyPost answered {status}: {}", error.summary())]
    Answered { status: StatusCode, error: ApiError },
    #[error("EasyPost's answer lacks {0}")]
    Incomplete(&'static str),
    #[error("`{0}` is not an EasyPost id")]
    BadReference(String),
    #[error("EasyPost left the refund {0}")]
    RefundRefused(String),
}

impl Failure {
    async fn from_response(response: Response) -> Self {
        let status = response.status();
        let error = response.json::<ErrorBody>().await.map(|body| body.error).unwrap_or_default();
        Self::Answered { status, error }
    }

    fn is_address_error(&self) -> bool {
        matches!(self, Self::Answered { error, .. } if error.code.as_deref().is_some_and(|code| code.starts_with("ADDRESS.")))
    }

    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Unreadable(error) => error.is_timeout() || error.is_body() || error.is_decode(),
            Self::Answered { status, .. } => *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
            Self::Incomplete(_) | Self::BadReference(_) | Self::RefundRefused(_) => false,
        }
    }

    fn into_carrier_error(self, doing: &'static str) -> CarrierError {
        if self.is_transient() {
            return CarrierError::Transient(Box::new(Context { doing, failure: self }));
        }
        if self.is_address_error() {
            let Self::Answered { error, .. } = &self else { unreachable!("an address error is an answer") };
            return CarrierError::Undeliverable(error.summary());
        }
        rejected(doing, self)
    }
}

/// A failure and what was being done when it happened.
#[derive(Debug, thiserror::Error)]
#[error("{doing}")]
struct Context {
    doing: &'static str,
    #[source]
    failure: Failure,
}

/// The parts of an EasyPost shipment read here; every other field is ignored.
#[derive(Debug, Deserialize)]
struct EpShipment {
    id: String,
    #[serde(default)]
    rates: Vec<Rate>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    postage_label: Option<PostageLabel>,
    #[serde(default)]
    selected_rate: Option<Rate>,
    #[serde(default)]
    tracking_code: Option<String>,
    #[serde(default)]
    refund_status: Option<String>,
}

impl EpShipment {
    /// The label's refund was asked for (`submitted`) or made (`refunded`): the carrier will not
    /// carry the parcel.
    fn is_refunded(&self) -> bool {
        matches!(self.refund_status.as_deref(), Some("submitted" | "refunded"))
    }
}

#[derive(Debug, Deserialize)]
struct Rate {
    id: String,
    carrier: String,
    service: String,
    /// A decimal string, `"7.58"`.
    #[serde(default)]
    rate: Option<String>,
}

impl Rate {
    /// The price in hundredths, read from its decimal string: rates are compared, never
    /// computed with.
    fn price_in_minor_units(&self) -> Option<u64> {
        let rate = self.rate.as_deref()?;
        let (units, fraction) = rate.split_once('.').unwrap_or((rate, "0"));
        let fraction = format!("{fraction:0<2}");
        let cents: u64 = fraction.get(..2)?.parse().ok()?;
        units.parse::<u64>().ok()?.checked_mul(100)?.checked_add(cents)
    }
}

/// A carrier's note on a shipment: why it gave no rate.
#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PostageLabel {
    #[serde(default)]
    label_url: Option<String>,
    #[serde(default)]
    label_pdf_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ApiError,
}

/// EasyPost's error object.
#[derive(Debug, Default, Clone, Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ApiError {
    fn summary(&self) -> String {
        match (self.code.as_deref(), self.message.as_deref()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(one), None) | (None, Some(one)) => one.to_owned(),
            (None, None) => "no error document".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_never_shows_itself() {
        assert_eq!(format!("{:?}", ApiKey::new("EZTK151720b5bbc44c7f")), "ApiKey(EZTK…)");
        assert_eq!(format!("{:?}", ApiKey::new("EZAK151720b5bbc44c7f")), "ApiKey(EZAK…)");
        assert_eq!(format!("{:?}", ApiKey::new("whatever")), "ApiKey(a key…)");
        assert!(ApiKey::new("EZTK1").is_test_mode());
        assert!(!ApiKey::new("EZAK1").is_test_mode());
    }

    #[test]
    fn a_preference_list_names_carriers_and_optionally_their_service() {
        let list = carrier_preferences("DHLExpress, FedEx:FEDEX_GROUND").unwrap();
        assert_eq!(list[0], CarrierChoice { carrier: "DHLExpress".to_owned(), service: None });
        assert_eq!(list[1].to_string(), "FedEx:FEDEX_GROUND");
        assert!(carrier_preferences("").is_err());
        assert!(carrier_preferences("FedEx:").is_err());
        assert!(carrier_preferences("Fed Ex").is_err());
    }

    #[test]
    fn the_ship_from_address_is_read_from_json_and_checked() {
        let warehouse = ship_from(
            r#"{"name":"Orderflow Warehouse","line1":"1 Dock Road","city":"Portland","region":"OR","postalCode":"97214","country":"US"}"#,
        )
        .unwrap();
        assert_eq!(warehouse.city, "Portland");
        assert!(
            ship_from(r#"{"name":"W","line1":"1 Dock Road","city":"Portland","postalCode":"ABC","country":"US"}"#)
                .is_err()
        );
        assert!(ship_from("1 Dock Road, Portland").is_err());
    }

    #[test]
    fn a_parcel_is_weighed_in_ounces_rounded_up_to_a_tenth() {
        assert!((ounces(Grams(760)) - 26.9).abs() < 1e-9, "{}", ounces(Grams(760)));
        assert!((ounces(Grams(28)) - 1.0).abs() < 1e-9, "{}", ounces(Grams(28)));
        assert!((ounces(Grams(0)) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn rates_are_compared_in_hundredths() {
        let rate = |rate: &str| Rate {
            id: String::new(),
            carrier: String::new(),
            service: String::new(),
            rate: Some(rate.to_owned()),
        };
        assert_eq!(rate("7.58").price_in_minor_units(), Some(758));
        assert_eq!(rate("12").price_in_minor_units(), Some(1200));
        assert_eq!(rate("9.5").price_in_minor_units(), Some(950));
        assert_eq!(rate("n/a").price_in_minor_units(), None);
    }

    #[test]
    fn only_easypost_shaped_ids_reach_a_url() {
        assert!(path_segment("shp_0a1b2c").is_ok());
        assert!(path_segment("../v2/addresses").is_err());
        assert!(path_segment("").is_err());
    }
}
