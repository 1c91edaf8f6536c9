//! A stateful fake of the part of EasyPost the adapter uses, on wiremock: shipments opened with
//! rates from two carriers, bought once, read back and refunded, with documents shaped as
//! EasyPost's API reference shows them. There is no EasyPost emulator to install; this one keeps
//! the state that makes the port's contract testable (a second purchase refused, a refund
//! recorded).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The only key the fake accepts.
pub const KEY: &str = "EZTK151720b5bbc44c7fWireKeyThatMustNeverShow";

/// A small but real PDF, as a label file.
pub const LABEL_PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// EasyPost's error document.
pub fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "errors": []}})
}

/// A shipment as EasyPost shows it, with rates from DHL Express and FedEx (two services).
pub fn shipment(id: &str) -> Value {
    json!({
        "id": id, "object": "Shipment", "mode": "test", "reference": "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB",
        "status": "unknown", "tracking_code": null, "postage_label": null, "selected_rate": null,
        "refund_status": null, "messages": [],
        "to_address": {"id": "adr_to", "object": "Address", "street1": "12 Market Street", "city": "Portland",
                       "state": "OR", "zip": "97201", "country": "US"},
        "parcel": {"id": "prcl_1", "object": "Parcel", "weight": 26.9},
        "rates": [
            rate(id, "DHLExpress", "ExpressWorldwideNonDoc", "42.10"),
            rate(id, "FedEx", "FEDEX_2_DAY", "21.40"),
            rate(id, "FedEx", "FEDEX_GROUND", "9.85"),
        ],
    })
}

pub fn rate(shipment: &str, carrier: &str, service: &str, price: &str) -> Value {
    json!({"id": format!("rate_{carrier}_{service}"), "object": "Rate", "mode": "test", "shipment_id": shipment,
           "carrier": carrier, "service": service, "rate": price, "currency": "USD",
           "carrier_account_id": format!("ca_{carrier}")})
}

/// `shipment` after buying `rate`, its label at `label_url`.
pub fn bought(mut shipment: Value, rate: &Value, label_url: &str, tracking_code: &str) -> Value {
    shipment["selected_rate"] = rate.clone();
    shipment["tracking_code"] = json!(tracking_code);
    shipment["status"] = json!("pre_transit");
    shipment["postage_label"] = json!({
        "id": "pl_1", "object": "PostageLabel", "label_file_type": "application/pdf",
        "label_url": label_url, "label_pdf_url": label_url, "label_size": "4x6",
    });
    shipment
}

#[derive(Debug, Default)]
struct Fake {
    shipments: HashMap<String, Value>,
    labels_bought: u32,
    /// Carriers that give no rate, as when they do not serve a destination.
    without_rates: Vec<String>,
}

#[derive(Debug, Clone)]
struct Operation {
    fake: Arc<Mutex<Fake>>,
    ids: Arc<AtomicU32>,
    base: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Create,
    Get,
    Buy,
    Refund,
}

fn shipment_id(request: &Request) -> String {
    request.url.path().split('/').nth(3).unwrap_or_default().to_owned()
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(error("NOT_FOUND", "The requested resource could not be found."))
}

impl Respond for Operation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorized =
            request.headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v == basic_auth());
        if !authorized {
            return ResponseTemplate::new(401)
                .set_body_json(error("APIKEY.INACTIVE", "This api key is no longer active."));
        }
        let mut fake = self.fake.lock();
        match self.kind {
            Kind::Create => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                if body["shipment"]["to_address"]["zip"] == "00000" {
                    return ResponseTemplate::new(422)
                        .set_body_json(error("ADDRESS.VERIFY.FAILURE", "Unable to verify address."));
                }
                let id = format!("shp_{:024x}", self.ids.fetch_add(1, Ordering::Relaxed));
                let mut created = shipment(&id);
                if let Some(rates) = created["rates"].as_array_mut() {
                    rates.retain(|rate| !fake.without_rates.iter().any(|c| rate["carrier"] == c.as_str()));
                }
                created["messages"] = fake
                    .without_rates
                    .iter()
                    .map(|carrier| json!({"carrier": carrier, "type": "rate_error", "message": "No rates found."}))
                    .collect();
                created["reference"] = body["shipment"]["reference"].clone();
                fake.shipments.insert(id, created.clone());
                ResponseTemplate::new(201).set_body_json(created)
            }
            Kind::Get => match fake.shipments.get(&shipment_id(request)) {
                Some(shipment) => ResponseTemplate::new(200).set_body_json(shipment.clone()),
                None => not_found(),
            },
            Kind::Buy => {
                let id = shipment_id(request);
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                fake.labels_bought += 1;
                let tracking = format!("EZ{:08}", fake.labels_bought);
                let Some(shipment) = fake.shipments.get_mut(&id) else { return not_found() };
                if !shipment["postage_label"].is_null() {
                    return ResponseTemplate::new(422)
                        .set_body_json(error("SHIPMENT.POSTAGE.EXISTS", "This shipment already has postage."));
                }
                let Some(rate) = shipment["rates"]
                    .as_array()
                    .and_then(|rates| rates.iter().find(|rate| rate["id"] == body["rate"]["id"]).cloned())
                else {
                    return ResponseTemplate::new(422).set_body_json(error("SHIPMENT.RATE.INVALID", "Invalid rate."));
                };
                let label_url = format!("{}/files/postage_label/{id}.pdf", self.base);
                *shipment = bought(shipment.clone(), &rate, &label_url, &tracking);
                ResponseTemplate::new(200).set_body_json(shipment.clone())
            }
            Kind::Refund => {
                let Some(shipment) = fake.shipments.get_mut(&shipment_id(request)) else { return not_found() };
                if shipment["postage_label"].is_null() || !shipment["refund_status"].is_null() {
                    return ResponseTemplate::new(422).set_body_json(error(
                        "SHIPMENT.REFUND.INVALID",
                        "This shipment is not eligible for a refund.",
                    ));
                }
                shipment["refund_status"] = json!("submitted");
                ResponseTemplate::new(200).set_body_json(shipment.clone())
            }
        }
    }
}

/// The `Authorization` header EasyPost expects: the key as the basic-auth user name.
pub fn basic_auth() -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:")))
}

/// A fake EasyPost and how many labels were bought on it.
#[derive(Debug)]
pub struct FakeEasyPost {
    pub server: MockServer,
    fake: Arc<Mutex<Fake>>,
}

impl FakeEasyPost {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let fake = Arc::new(Mutex::new(Fake::default()));
        let ids = Arc::new(AtomicU32::new(1));
        let op = |kind| Operation { fake: fake.clone(), ids: ids.clone(), base: server.uri(), kind };
        Mock::given(method("POST")).and(path("/v2/shipments")).respond_with(op(Kind::Create)).mount(&server).await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/v2/shipments/shp_[0-9a-f]+$"))
            .respond_with(op(Kind::Get))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/v2/shipments/shp_[0-9a-f]+/buy$"))
            .respond_with(op(Kind::Buy))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/v2/shipments/shp_[0-9a-f]+/refund$"))
            .respond_with(op(Kind::Refund))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/files/postage_label/shp_[0-9a-f]+\.pdf$"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(LABEL_PDF, "application/pdf"))
            .mount(&server)
            .await;
        Self { server, fake }
    }

    /// Makes `carrier` give no rate for the shipments opened from now on.
    pub fn without_rates_from(&self, carrier: &str) {
        self.fake.lock().without_rates.push(carrier.to_owned());
    }

    /// Where the fake listens, as the adapter's API base.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// How many purchases were accepted.
    pub fn labels_sold(&self) -> usize {
        self.fake.lock().shipments.values().filter(|shipment| !shipment["postage_label"].is_null()).count()
    }
}
