use super::*;
use orderflow_port_contracts::fixtures::{address_in as address, order_id};

fn simulator() -> (tempfile::TempDir, CarrierSimulator) {
    let dir = tempfile::tempdir().unwrap();
    let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal).unwrap();
    (dir, carrier)
}

fn parcel(destination: PostalAddress, grams: u64) -> ShipmentRequest {
    let order = order_id();
    ShipmentRequest { idempotency_key: format!("{order}/ship"), order, destination, weight: Grams(grams) }
}

/// Opens a shipment for `parcel` and buys `carrier`'s label on it.
async fn ship(carrier: &CarrierSimulator, name: &str, parcel: &ShipmentRequest) -> Result<Shipment, CarrierError> {
    let reference = carrier.open(parcel).await?;
    carrier.ship(&reference, name).await
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
async fn ship_with_fallback(carrier: &CarrierSimulator, parcel: &ShipmentRequest) -> Result<Shipment, CarrierError> {
    let reference = carrier.open(parcel).await?;
    let mut last = None;
    for name in carrier.carriers() {
        match carrier.ship(&reference, &name).await {
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
    let northwind = ship(&carrier, "northwind", &parcel(address("97201", "US"), 800)).await.unwrap();
    assert!(is_ups_style(&northwind.tracking_number), "{}", northwind.tracking_number);
    assert_eq!(northwind.carrier, "northwind");
    let contoso = ship(&carrier, "contoso", &parcel(address("97201", "US"), 800)).await.unwrap();
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
        let shipment = ship(&carrier, name, &parcel(destination, grams)).await.unwrap();
        assert_eq!(shipment.service, service, "{name} {grams} g");
    }
}

#[tokio::test]
async fn a_parcel_the_primary_does_not_take_falls_back_to_the_second_carrier() {
    let (_dir, carrier) = simulator();
    let abroad = parcel(address("75001", "FR"), 500);
    let reference = carrier.open(&abroad).await.unwrap();
    assert!(
        matches!(carrier.ship(&reference, "northwind").await, Err(CarrierError::Unavailable(name)) if name == "northwind")
    );
    assert_eq!(ship_with_fallback(&carrier, &abroad).await.unwrap().carrier, "contoso");

    let heavy = parcel(address("97201", "US"), 45_000);
    assert_eq!(ship_with_fallback(&carrier, &heavy).await.unwrap().carrier, "contoso");

    let too_heavy_for_anyone = parcel(address("97201", "US"), 80_000);
    assert!(matches!(ship_with_fallback(&carrier, &too_heavy_for_anyone).await, Err(CarrierError::Unavailable(_))));
}

#[tokio::test]
async fn a_carrier_in_an_outage_is_unavailable_and_the_other_takes_the_parcel() {
    let dir = tempfile::tempdir().unwrap();
    let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal)
        .unwrap()
        .with_outage("Northwind")
        .unwrap();
    let small = parcel(address("97201", "US"), 500);
    assert!(
        matches!(ship(&carrier, "northwind", &small).await, Err(CarrierError::Unavailable(name)) if name == "northwind")
    );
    assert_eq!(ship_with_fallback(&carrier, &small).await.unwrap().carrier, "contoso");
}

#[test]
fn an_outage_of_an_unknown_carrier_is_refused() {
    let (_dir, carrier) = simulator();
    assert_eq!(carrier.with_outage("fedex").unwrap_err(), UnknownCarrier("fedex".to_owned()));
}

#[tokio::test]
async fn postal_code_00000_is_undeliverable_and_no_shipment_is_opened() {
    let (_dir, carrier) = simulator();
    let result = carrier.open(&parcel(address("00000", "US"), 500)).await;
    assert!(matches!(result, Err(CarrierError::Undeliverable(_))), "{result:?}");
    assert!(carrier.shipments().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_carrier_is_unavailable() {
    let (_dir, carrier) = simulator();
    let result = ship(&carrier, "fedex", &parcel(address("97201", "US"), 500)).await;
    assert!(matches!(result, Err(CarrierError::Unavailable(name)) if name == "fedex"));
}

#[tokio::test]
async fn a_shipment_the_simulator_never_opened_is_refused() {
    let (_dir, carrier) = simulator();
    assert!(matches!(carrier.ship("shp_unknown", "northwind").await, Err(CarrierError::Rejected(_))));
    assert!(matches!(carrier.find("shp_unknown").await, Err(CarrierError::Rejected(_))));
    assert!(matches!(carrier.void("shp_unknown").await, Err(CarrierError::Rejected(_))));
}

#[tokio::test]
async fn opening_again_under_a_key_names_the_same_shipment_and_the_tracking_number_follows_the_key() {
    let (_dir, carrier) = simulator();
    let small = parcel(address("97201", "US"), 500);
    let reference = carrier.open(&small).await.unwrap();
    assert!(reference.starts_with("shp_") && reference.len() == 28, "{reference}");
    assert_eq!(carrier.open(&small).await.unwrap(), reference);
    let first = carrier.ship(&reference, "northwind").await.unwrap();
    assert_eq!(carrier.shipments().await.unwrap().len(), 1);
    assert_eq!(first.tracking_number, tracking_number(&CARRIERS[0], &small.idempotency_key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purchases_on_one_shipment_buy_one_label() {
    let (_dir, carrier) = simulator();
    let reference = carrier.open(&parcel(address("97201", "US"), 500)).await.unwrap();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (carrier, reference) = (carrier.clone(), reference.clone());
            tokio::spawn(async move { carrier.ship(&reference, "contoso").await.unwrap() })
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
async fn a_shipment_with_a_label_gives_it_back_after_a_restart_even_from_another_carrier_or_during_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carrier.db");
    let small = parcel(address("97201", "US"), 500);
    let before = CarrierSimulator::open(&path, Durability::Full).unwrap();
    let reference = before.open(&small).await.unwrap();
    let first = before.ship(&reference, "northwind").await.unwrap();

    // After a restart, with the carrier now down, the retry still finds its label.
    let restarted = CarrierSimulator::open(&path, Durability::Full).unwrap().with_outage("northwind").unwrap();
    assert_eq!(restarted.ship(&reference, "northwind").await.unwrap(), first);
    assert_eq!(restarted.ship(&reference, "contoso").await.unwrap(), first);
    assert_eq!(restarted.shipments().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_label_bought_before_shipments_were_opened_first_is_on_a_shipment_named_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("carrier.db");
    let destination = serde_json::to_string(&address("97201", "US")).unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "application_id", SCHEMA.application_id).unwrap();
        for migration in &SCHEMA.migrations[..2] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO shipments (idempotency_key, tracking_number, carrier, service, order_id, weight_grams,
                                    destination, label, created_at)
             VALUES ('ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/ship', 'JJD000', 'contoso', 'express',
                     'ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB', 500, ?1, x'255044462D', '2026-03-01T12:00:00Z')",
            [destination],
        )
        .unwrap();
    }
    let carrier = CarrierSimulator::open(&path, Durability::Normal).unwrap();
    let retried = ShipmentRequest {
        order: OrderId::parse("ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB").unwrap(),
        idempotency_key: "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/ship".to_owned(),
        destination: address("97201", "US"),
        weight: Grams(500),
    };
    let reference = carrier.open(&retried).await.unwrap();
    assert_eq!(reference, retried.idempotency_key);
    assert_eq!(carrier.ship(&reference, "northwind").await.unwrap().tracking_number, "JJD000");
}

#[tokio::test]
async fn the_label_is_a_pdf_showing_the_parcel() {
    let (_dir, carrier) = simulator();
    let heavy = parcel(address("97201", "US"), 1_250);
    let shipment = ship(&carrier, "northwind", &heavy).await.unwrap();
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
        heavy.order.as_str(),
    ] {
        assert!(text.contains(shown), "the label does not show {shown:?}");
    }
}

#[tokio::test]
async fn shipments_are_listed_for_the_local_api() {
    let (_dir, carrier) = simulator();
    let small = parcel(address("97201", "US"), 850);
    let reference = carrier.open(&small).await.unwrap();
    let shipment = carrier.ship(&reference, "northwind").await.unwrap();
    let listed = carrier.shipments().await.unwrap();
    assert_eq!(listed.len(), 1);
    let record = &listed[0];
    assert_eq!(record.tracking_number, shipment.tracking_number);
    assert_eq!(record.carrier_name, "Northwind Express");
    assert_eq!(record.service, "express");
    assert_eq!(record.order_id, small.order);
    assert_eq!(record.reference, reference);
    assert_eq!(record.weight_grams, 850);
    assert_eq!(record.destination, small.destination);
    assert_eq!(record.label_bytes, shipment.label.len());
    assert_eq!(carrier.recent_shipments(10, None).await.unwrap()[0].1, *record);

    let json = serde_json::to_value(record).unwrap();
    for member in
        ["trackingNumber", "carrier", "carrierName", "service", "orderId", "reference", "idempotencyKey", "weightGrams"]
    {
        assert!(json.get(member).is_some(), "missing {member}");
    }
    assert_eq!(json["destination"]["postalCode"], "97201");
}

#[tokio::test]
async fn a_voided_label_is_listed_voided() {
    let (_dir, carrier) = simulator();
    let reference = carrier.open(&parcel(address("97201", "US"), 500)).await.unwrap();
    carrier.ship(&reference, "northwind").await.unwrap();
    carrier.void(&reference).await.unwrap();
    let listed = carrier.shipments().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(serde_json::to_value(&listed[0]).unwrap()["voided"], true);
}
