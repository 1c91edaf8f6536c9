//! The EasyPost adapter against answers shaped as EasyPost's API reference documents them, served
//! by wiremock one case at a time: what goes on the wire, and how each answer maps to the port's
//! outcomes.

mod common;

use common::easypost;
use orderflow_adapters_easypost::fake::{KEY, LABEL_PDF, basic_auth, bought, error, rate, shipment};
use orderflow_domain::catalog::Grams;
use orderflow_domain::ports::{Carrier, CarrierError, ShipmentRequest};
use orderflow_port_contracts::fixtures::{address, order_id};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SHP: &str = "shp_5c1f0e9a2b7d4c3e8f6a1b0d";

fn parcel() -> ShipmentRequest {
    let order = order_id();
    ShipmentRequest { idempotency_key: format!("{order}/ship"), order, destination: address(), weight: Grams(760) }
}

async fn requests_to(server: &MockServer, to: &str) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default().into_iter().filter(|r| r.url.path() == to).collect()
}

async fn serve(server: &MockServer, verb: &str, at: &str, answer: ResponseTemplate) {
    Mock::given(method(verb)).and(path(at)).respond_with(answer).mount(server).await;
}

/// Answers the purchase on the shipment with `answer`.
async fn serve_purchase(server: &MockServer, answer: ResponseTemplate) {
    serve(server, "POST", &format!("/v2/shipments/{SHP}/buy"), answer).await;
}

fn json_answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Serves the label file at `/files/postage_label/label.pdf`; its URL.
async fn serve_label(server: &MockServer) -> String {
    let at = "/files/postage_label/label.pdf";
    serve(server, "GET", at, ResponseTemplate::new(200).set_body_raw(LABEL_PDF, "application/pdf")).await;
    format!("{}{at}", server.uri())
}

/// Serves the label file, and `shipment` as the shipment before a purchase.
async fn serve_label_and(server: &MockServer, before: &Value) -> String {
    let label_url = serve_label(server).await;
    serve(server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(200, before)).await;
    label_url
}

#[tokio::test]
async fn opening_sends_both_addresses_the_parcel_in_ounces_and_asks_for_a_pdf_label() {
    let server = MockServer::start().await;
    serve(&server, "POST", "/v2/shipments", json_answer(201, &shipment(SHP))).await;
    let request = parcel();

    let reference = easypost(&server).open(&request).await.unwrap();

    assert_eq!(reference, SHP);
    let sent = &requests_to(&server, "/v2/shipments").await[0];
    assert_eq!(sent.headers.get("authorization").unwrap().to_str().unwrap(), basic_auth());
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    let shipment = &body["shipment"];
    assert_eq!(shipment["reference"], request.order.as_str());
    assert_eq!(shipment["to_address"]["street1"], "12 Market Street");
    assert_eq!(shipment["to_address"]["zip"], "97201");
    assert_eq!(shipment["to_address"]["state"], "OR");
    assert_eq!(shipment["to_address"]["country"], "US");
    assert_eq!(shipment["to_address"]["verify_strict"], true, "the destination is verified");
    assert_eq!(shipment["from_address"]["zip"], "97214");
    assert_eq!(shipment["parcel"]["weight"], json!(26.9));
    assert_eq!(shipment["options"]["label_format"], "PDF");
    assert!(requests_to(&server, &format!("/v2/shipments/{SHP}/buy")).await.is_empty(), "opening buys nothing");
}

#[tokio::test]
async fn an_address_easypost_cannot_verify_is_undeliverable() {
    let server = MockServer::start().await;
    let refusal = error("ADDRESS.VERIFY.FAILURE", "Unable to verify address.");
    serve(&server, "POST", "/v2/shipments", json_answer(422, &refusal)).await;

    let result = easypost(&server).open(&parcel()).await;

    assert!(matches!(&result, Err(CarrierError::Undeliverable(why)) if why.contains("Unable to verify")), "{result:?}");
}

#[tokio::test]
async fn the_named_service_is_bought_and_its_label_fetched_without_the_key() {
    let server = MockServer::start().await;
    let before = shipment(SHP);
    let label_url = serve_label_and(&server, &before).await;
    let ground = rate(SHP, "FedEx", "FEDEX_GROUND", "9.85");
    serve_purchase(&server, json_answer(200, &bought(before, &ground, &label_url, "794644790132"))).await;

    let label = easypost(&server).ship(SHP, "FedEx:FEDEX_GROUND").await.unwrap();

    assert_eq!((label.carrier.as_str(), label.service.as_str()), ("FedEx", "FEDEX_GROUND"));
    assert_eq!(label.tracking_number, "794644790132");
    assert_eq!(label.label, LABEL_PDF, "the label's bytes, to be kept in our blob store");
    assert!(!label.voided);
    let buy: Value =
        serde_json::from_slice(&requests_to(&server, &format!("/v2/shipments/{SHP}/buy")).await[0].body).unwrap();
    assert_eq!(buy, json!({"rate": {"id": "rate_FedEx_FEDEX_GROUND"}}));
    let download = &requests_to(&server, "/files/postage_label/label.pdf").await[0];
    assert!(download.headers.get("authorization").is_none(), "the key goes to EasyPost's API only");
}

#[tokio::test]
async fn a_carrier_named_without_a_service_sells_its_cheapest_rate() {
    let server = MockServer::start().await;
    let mut before = shipment(SHP);
    before["rates"] = json!([
        rate(SHP, "DHLExpress", "ExpressWorldwideNonDoc", "42.10"),
        rate(SHP, "DHLExpress", "EconomySelect", "18.20")
    ]);
    let label_url = serve_label_and(&server, &before).await;
    let economy = rate(SHP, "DHLExpress", "EconomySelect", "18.20");
    serve_purchase(&server, json_answer(200, &bought(before, &economy, &label_url, "JD014600006281230"))).await;

    let label = easypost(&server).ship(SHP, "DHLExpress").await.unwrap();

    assert_eq!(label.service, "EconomySelect");
}

#[tokio::test]
async fn a_carrier_without_a_rate_is_unavailable_and_the_next_one_sells_the_label() {
    let server = MockServer::start().await;
    let mut before = shipment(SHP);
    before["rates"] = json!([rate(SHP, "FedEx", "FEDEX_GROUND", "9.85")]);
    before["messages"] =
        json!([{"carrier": "DHLExpress", "type": "rate_error", "message": "No service to this destination."}]);
    let label_url = serve_label_and(&server, &before).await;
    let ground = rate(SHP, "FedEx", "FEDEX_GROUND", "9.85");
    serve_purchase(&server, json_answer(200, &bought(before, &ground, &label_url, "794644790132"))).await;
    let carrier = easypost(&server);

    let first = carrier.ship(SHP, "DHLExpress").await;
    assert!(matches!(&first, Err(CarrierError::Unavailable(name)) if name == "DHLExpress"), "{first:?}");
    assert!(requests_to(&server, &format!("/v2/shipments/{SHP}/buy")).await.is_empty(), "nothing was bought from DHL");

    assert_eq!(carrier.ship(SHP, "FedEx:FEDEX_GROUND").await.unwrap().carrier, "FedEx");
}

#[tokio::test]
async fn a_carrier_error_on_purchase_makes_that_carrier_unavailable() {
    let server = MockServer::start().await;
    serve_label_and(&server, &shipment(SHP)).await;
    let failure = error("SHIPMENT.POSTAGE.FAILURE", "DHL Express: account not enabled for this service.");
    serve_purchase(&server, json_answer(422, &failure)).await;

    let result = easypost(&server).ship(SHP, "DHLExpress").await;

    assert!(matches!(&result, Err(CarrierError::Unavailable(name)) if name == "DHLExpress"), "{result:?}");
}

#[tokio::test]
async fn when_no_carrier_has_a_rate_every_one_is_unavailable() {
    let server = MockServer::start().await;
    let mut before = shipment(SHP);
    before["rates"] = json!([]);
    serve_label_and(&server, &before).await;
    let carrier = easypost(&server);

    for name in carrier.carriers() {
        let result = carrier.ship(SHP, &name).await;
        assert!(matches!(&result, Err(CarrierError::Unavailable(n)) if *n == name), "{name}: {result:?}");
    }
    assert!(matches!(carrier.ship(SHP, "UPS").await, Err(CarrierError::Unavailable(_))), "not in the preference list");
}

#[tokio::test]
async fn a_slow_or_failing_easypost_is_transient() {
    for answer in [
        ResponseTemplate::new(503).set_body_json(error("INTERNAL_SERVER_ERROR", "Something went wrong.")),
        ResponseTemplate::new(429).set_body_json(error("RATE_LIMITED", "Too many requests.")),
        ResponseTemplate::new(201).set_body_json(shipment(SHP)).set_delay(std::time::Duration::from_secs(2)),
    ] {
        let server = MockServer::start().await;
        serve(&server, "POST", "/v2/shipments", answer).await;
        let result = easypost(&server).open(&parcel()).await;
        assert!(matches!(result, Err(CarrierError::Transient(_))), "{result:?}");
    }
}

#[tokio::test]
async fn a_purchase_whose_answer_was_lost_is_read_back_and_never_bought_again() {
    let server = MockServer::start().await;
    let label_url = serve_label(&server).await;
    let ground = rate(SHP, "DHLExpress", "ExpressWorldwideNonDoc", "42.10");
    let after = bought(shipment(SHP), &ground, &label_url, "JD014600006281230");
    // The first read sees no label; the purchase is made but its answer is a 503; from then on
    // the shipment shows the label.
    Mock::given(method("GET"))
        .and(path(format!("/v2/shipments/{SHP}")))
        .respond_with(json_answer(200, &shipment(SHP)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    serve(&server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(200, &after)).await;
    serve_purchase(&server, ResponseTemplate::new(503)).await;
    let carrier = easypost(&server);

    assert!(matches!(carrier.ship(SHP, "DHLExpress").await, Err(CarrierError::Transient(_))));
    let retried = carrier.ship(SHP, "DHLExpress").await.unwrap();

    assert_eq!(retried.tracking_number, "JD014600006281230");
    assert_eq!(requests_to(&server, &format!("/v2/shipments/{SHP}/buy")).await.len(), 1, "one purchase");
}

#[tokio::test]
async fn voiding_asks_easypost_to_refund_the_label_once() {
    let server = MockServer::start().await;
    let label_url = format!("{}/files/postage_label/label.pdf", server.uri());
    let label = bought(shipment(SHP), &rate(SHP, "FedEx", "FEDEX_GROUND", "9.85"), &label_url, "794644790132");
    let mut refunded = label.clone();
    refunded["refund_status"] = json!("submitted");
    Mock::given(method("GET"))
        .and(path(format!("/v2/shipments/{SHP}")))
        .respond_with(json_answer(200, &label))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    serve(&server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(200, &refunded)).await;
    serve(&server, "POST", &format!("/v2/shipments/{SHP}/refund"), json_answer(200, &refunded)).await;
    serve_label(&server).await;
    let carrier = easypost(&server);

    carrier.void(SHP).await.unwrap();
    carrier.void(SHP).await.unwrap();

    assert_eq!(requests_to(&server, &format!("/v2/shipments/{SHP}/refund")).await.len(), 1);
    assert!(carrier.find(SHP).await.unwrap().unwrap().voided);
}

#[tokio::test]
async fn a_refund_easypost_rejects_is_not_a_void() {
    let server = MockServer::start().await;
    let label = bought(
        shipment(SHP),
        &rate(SHP, "FedEx", "FEDEX_GROUND", "9.85"),
        "https://example.invalid/l.pdf",
        "794644790132",
    );
    let mut rejected = label.clone();
    rejected["refund_status"] = json!("rejected");
    serve(&server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(200, &label)).await;
    serve(&server, "POST", &format!("/v2/shipments/{SHP}/refund"), json_answer(200, &rejected)).await;

    let result = easypost(&server).void(SHP).await;

    assert!(matches!(result, Err(CarrierError::Rejected(_))), "{result:?}");
}

#[tokio::test]
async fn a_png_label_is_converted_to_pdf_before_it_is_kept() {
    let server = MockServer::start().await;
    let png_url = format!("{}/files/postage_label/label.png", server.uri());
    let pdf_url = format!("{}/files/postage_label/label.pdf", server.uri());
    let mut label = bought(shipment(SHP), &rate(SHP, "USPS", "Priority", "7.58"), &png_url, "9400100000000000000000");
    label["postage_label"]["label_pdf_url"] = Value::Null;
    let mut converted = label.clone();
    converted["postage_label"]["label_pdf_url"] = json!(pdf_url);
    serve(&server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(200, &label)).await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/shipments/{SHP}/label")))
        .and(query_param("file_format", "PDF"))
        .respond_with(json_answer(200, &converted))
        .mount(&server)
        .await;
    serve(
        &server,
        "GET",
        "/files/postage_label/label.png",
        ResponseTemplate::new(200).set_body_raw(b"\x89PNG\r\n".to_vec(), "image/png"),
    )
    .await;
    serve_label(&server).await;

    let found = easypost(&server).find(SHP).await.unwrap().unwrap();

    assert_eq!(found.label, LABEL_PDF);
}

#[tokio::test]
async fn a_bad_key_is_rejected_and_never_shown() {
    let server = MockServer::start().await;
    let refusal = error("APIKEY.INACTIVE", "This api key is no longer active.");
    serve(&server, "POST", "/v2/shipments", json_answer(401, &refusal)).await;
    serve(&server, "GET", &format!("/v2/shipments/{SHP}"), json_answer(401, &refusal)).await;
    let carrier = easypost(&server);

    let opened = carrier.open(&parcel()).await.unwrap_err();
    let found = carrier.find(SHP).await.unwrap_err();

    for error in [opened, found] {
        assert!(matches!(error, CarrierError::Rejected(_)), "{error:?}");
        let shown = format!("{error:?} {}", orderflow_domain::CauseChain(&error));
        assert!(!shown.contains(KEY) && !shown.contains(&KEY[4..]), "{shown}");
    }
    assert!(!format!("{carrier:?}").contains(&KEY[4..]), "the adapter's Debug hides the key");
}
