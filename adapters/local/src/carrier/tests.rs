use super::*;
use orderflow_port_contracts::fixtures::{address_in as address, order_id};

fn simulator() -> (tempfile::TempDir, CarrierSimulator) {
    let dir = tempfile::tempdir().unwrap();
    let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal).unwrap();
    (dir, carrier)
}

fn request(carrier: &str, destination: PostalAddress, grams: u64) -> ShipmentRequest {
    let order = order_id();
    ShipmentRequest {
        idempotency_key: format!("{order}/ship"),
        order,
        carrier: carrier.to_owned(),
        destination,
        weight: Grams(grams),
    }
}

fn is_ups_style(tracking: &str) -> bool {
    tracking.len() == 18
        && tracking.starts_with("1Z")
        && tracking[2..].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && tracking[17..].parse::<u32>() == Ok(ups_check_digit(&tracking[2..17]))
}

fn is_dhl_style(tracking: &str) -> bool {
    tracking.len() == 21 && tracking.starts_with("JJD") && tracking[3..].bytes().all(|b| b.is_ascii_digit())
}

/// Asks each carrier in order of preference, as the saga does, until one takes the parcel.
async fn ship_with_fallback(
    carrier: &CarrierSimulator,
    mut request: ShipmentRequest,
) -> Result<Shipment, CarrierError> {
    let mut last = None;
    for name in carrier.carriers() {
        request.carrier = name;
        match carrier.ship(&request).await {
            Err(CarrierError::Unavailable(name)) => last = Some(CarrierError::Unavailable(name)),
            other => return other,
        }
    }
    Err(last.unwrap())
}

#[test]
fn the_primary_carrier_is_listed_first() {
    let (_dir, carrier) = simulator();
    assert_eq!(carrier.carriers(), ["northwind", "contoso"]);
}

#[test]
fn the_ups_check_digit_matches_a_published_example() {
    // 1Z999AA10123456784, the sample tracking number in UPS's developer documentation.
    assert_eq!(ups_check_digit("999AA1012345678"), 4);
}

#[tokio::test]
async fn each_carrier_spells_tracking_numbers_its_own_way() {
    let (_dir, carrier) = simulator();
    let northwind = carrier.ship(&request("northwind", address("97201", "US"), 800)).await.unwrap();
    assert!(is_ups_style(&northwind.tracking_number), "{}", northwind.tracking_number);
    assert_eq!(northwind.carrier, "northwind");
    let contoso = carrier.ship(&request("contoso", address("97201", "US"), 800)).await.unwrap();
    assert!(is_dhl_style(&contoso.tracking_number), "{}", contoso.tracking_number);
    assert_eq!(contoso.carrier, "contoso");
}

#[tokio::test]
async fn the_service_follows_destination_and_weight() {
    let (_dir, carrier) = simulator();
    let cases = [
        ("northwind", address("97201", "US"), 1_000, "express"),
        ("northwind", address("97201", "US"), 1_001, "ground"),
        ("northwind", address("M5V 2T6", "CA"), 500, "international"),
        ("contoso", address("75001", "FR"), 500, "international"),
    ];
    for (name, destination, grams, service) in cases {
        let shipment = carrier.ship(&request(name, destination, grams)).await.unwrap();
        assert_eq!(shipment.service, service, "{name} {grams} g");
    }
}

#[tokio::test]
async fn a_parcel_the_primary_does_not_take_falls_back_to_the_second_carrier() {
    let (_dir, carrier) = simulator();
    let abroad = request("northwind", address("75001", "FR"), 500);
    assert!(matches!(carrier.ship(&abroad).await, Err(CarrierError::Unavailable(name)) if name == "northwind"));
    assert_eq!(ship_with_fallback(&carrier, abroad).await.unwrap().carrier, "contoso");

    let heavy = request("northwind", address("97201", "US"), 45_000);
    assert_eq!(ship_with_fallback(&carrier, heavy).await.unwrap().carrier, "contoso");

    let too_heavy_for_anyone = request("northwind", address("97201", "US"), 80_000);
    assert!(matches!(ship_with_fallback(&carrier, too_heavy_for_anyone).await, Err(CarrierError::Unavailable(_))));
}

#[tokio::test]
async fn a_carrier_in_an_outage_is_unavailable_and_the_other_takes_the_parcel() {
    let dir = tempfile::tempdir().unwrap();
    let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal)
        .unwrap()
        .with_outage("Northwind")
        .unwrap();
    let parcel = request("northwind", address("97201", "US"), 500);
    assert!(matches!(carrier.ship(&parcel).await, Err(CarrierError::Unavailable(name)) if name == "northwind"));
    assert_eq!(ship_with_fallback(&carrier, parcel).await.unwrap().carrier, "contoso");
}

#[test]
fn an_outage_of_an_unknown_carrier_is_refused() {
    let (_dir, carrier) = simulator();
    assert_eq!(carrier.with_outage("fedex").unwrap_err(), UnknownCarrier("fedex".to_owned()));
}

#[tokio::test]
async fn postal_code_00000_is_undeliverable_by_every_carrier() {
    let (_dir, carrier) = simulator();
    for name in carrier.carriers() {
        let result = carrier.ship(&request(&name, address("00000", "US"), 500)).await;
        assert!(matches!(result, Err(CarrierError::Undeliverable(_))), "{name}: {result:?}");
    }
    assert!(carrier.shipments().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_carrier_is_unavailable() {
    let (_dir, carrier) = simulator();
    let result = carrier.ship(&request("fedex", address("97201", "US"), 500)).await;
    assert!(matches!(result, Err(CarrierError::Unavailable(name)) if name == "fedex"));
}

#[tokio::test]
async fn a_retried_request_gets_the_same_shipment_and_buys_one_label() {
    let (_dir, carrier) = simulator();
    let parcel = request("northwind", address("97201", "US"), 500);
    let first = carrier.ship(&parcel).await.unwrap();
    assert_eq!(carrier.ship(&parcel).await.unwrap(), first);
    assert_eq!(carrier.shipments().await.unwrap().len(), 1);
    // The tracking number is the carrier's function of the key.
    assert_eq!(first.tracking_number, tracking_number(&CARRIERS[0], &parcel.idempotency_key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_buy_one_label() {
    let (_dir, carrier) = simulator();
    let parcel = request("contoso", address("97201", "US"), 500);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (carrier, parcel) = (carrier.clone(), parcel.clone());
            tokio::spawn(async move { carrier.ship(&parcel).await.unwrap() })
        })
        .collect();
    let mut shipments = Vec::new();
    for call in calls {
        shipments.push(call.await.unwrap());
    }
    assert!(shipments.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(carrier.shipments().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_that_already_bought_a_label_returns_it_even_from_another_carrier_or_during_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carrier.db");
    let parcel = request("northwind", address("97201", "US"), 500);
    let first = CarrierSimulator::open(&path, Durability::Full).unwrap().ship(&parcel).await.unwrap();

    // After a restart, with the carrier now down, the retry still finds its label.
    let restarted = CarrierSimulator::open(&path, Durability::Full).unwrap().with_outage("northwind").unwrap();
    assert_eq!(restarted.ship(&parcel).await.unwrap(), first);
    let elsewhere = ShipmentRequest { carrier: "contoso".to_owned(), ..parcel };
    assert_eq!(restarted.ship(&elsewhere).await.unwrap(), first);
    assert_eq!(restarted.shipments().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_label_is_a_pdf_showing_the_parcel() {
    let (_dir, carrier) = simulator();
    let parcel = request("northwind", address("97201", "US"), 1_250);
    let shipment = carrier.ship(&parcel).await.unwrap();
    assert!(shipment.label.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&shipment.label);
    for shown in [
        "Northwind Express",
        "GROUND",
        shipment.tracking_number.as_str(),
        "Ada Lovelace",
        "12 Market Street",
        "Portland OR 97201",
        "1.250 kg",
        parcel.order.as_str(),
    ] {
        assert!(text.contains(shown), "the label does not show {shown:?}");
    }
}

#[tokio::test]
async fn shipments_are_listed_for_the_local_api() {
    let (_dir, carrier) = simulator();
    let parcel = request("northwind", address("97201", "US"), 850);
    let shipment = carrier.ship(&parcel).await.unwrap();
    let listed = carrier.shipments().await.unwrap();
    assert_eq!(listed.len(), 1);
    let record = &listed[0];
    assert_eq!(record.tracking_number, shipment.tracking_number);
    assert_eq!(record.carrier_name, "Northwind Express");
    assert_eq!(record.service, "express");
    assert_eq!(record.order_id, parcel.order);
    assert_eq!(record.weight_grams, 850);
    assert_eq!(record.destination, parcel.destination);
    assert_eq!(record.label_bytes, shipment.label.len());

    let json = serde_json::to_value(record).unwrap();
    for member in ["trackingNumber", "carrier", "carrierName", "service", "orderId", "idempotencyKey", "weightGrams"] {
        assert!(json.get(member).is_some(), "missing {member}");
    }
    assert_eq!(json["destination"]["postalCode"], "97201");
}

#[tokio::test]
async fn the_shipment_bought_under_a_key_can_be_found_after_its_answer_was_lost() {
    let (_dir, carrier) = simulator();
    let parcel = request("northwind", address("97201", "US"), 500);
    assert_eq!(carrier.find(&parcel.idempotency_key).await.unwrap(), None);
    let bought = carrier.ship(&parcel).await.unwrap();
    let found = carrier.find(&parcel.idempotency_key).await.unwrap().unwrap();
    assert_eq!(found, bought);
    assert_eq!(found.destination, parcel.destination, "the label says where it sends the parcel");
    assert!(!found.voided);
}

#[tokio::test]
async fn a_voided_label_stays_voided_and_a_retried_purchase_does_not_buy_another() {
    let (_dir, carrier) = simulator();
    let parcel = request("northwind", address("97201", "US"), 500);
    carrier.ship(&parcel).await.unwrap();

    carrier.void(&parcel.idempotency_key).await.unwrap();
    carrier.void(&parcel.idempotency_key).await.unwrap();

    assert!(carrier.find(&parcel.idempotency_key).await.unwrap().unwrap().voided);
    assert!(carrier.ship(&parcel).await.unwrap().voided, "the key's shipment is the voided one");
    let listed = carrier.shipments().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].voided);
    assert_eq!(serde_json::to_value(&listed[0]).unwrap()["voided"], true);
}

#[tokio::test]
async fn voiding_a_key_that_bought_nothing_is_a_no_op() {
    let (_dir, carrier) = simulator();
    carrier.void("ord_nothing/ship").await.unwrap();
    assert!(carrier.shipments().await.unwrap().is_empty());
}
