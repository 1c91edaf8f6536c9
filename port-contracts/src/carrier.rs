//! What every `Carrier` guarantees. The carrier under test can take a parcel of under a kilo to
//! [`fixtures::address`](crate::fixtures::address) with the carrier it lists first.

use futures::future::join_all;
use orderflow_domain::catalog::Grams;
use orderflow_domain::ports::{Carrier, Shipment, ShipmentRequest};

use crate::fixtures::{address, order_id};

/// A parcel of 760 g to [`address`] with the preferred carrier, under a new order's one key.
pub fn shipment_request(carrier: &dyn Carrier) -> ShipmentRequest {
    let order = order_id();
    ShipmentRequest {
        idempotency_key: format!("{order}/ship"),
        order,
        carrier: carrier.carriers().first().expect("a carrier lists at least one carrier").clone(),
        destination: address(),
        weight: Grams(760),
    }
}

async fn ship(carrier: &dyn Carrier, request: &ShipmentRequest) -> Shipment {
    carrier.ship(request).await.expect("buying a label")
}

async fn find(carrier: &dyn Carrier, key: &str) -> Option<Shipment> {
    carrier.find(key).await.expect("looking a shipment up")
}

pub async fn a_label_is_a_pdf_for_the_requested_destination(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    let shipment = ship(carrier, &request).await;
    assert_eq!(shipment.carrier, request.carrier);
    assert_eq!(shipment.destination, request.destination, "the label sends the parcel where it was asked");
    assert!(shipment.label.starts_with(b"%PDF-"), "the label is a PDF");
    assert!(!shipment.tracking_number.is_empty());
    assert!(!shipment.voided);
}

pub async fn shipping_twice_with_the_same_key_buys_one_label(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    let first = ship(carrier, &request).await;
    assert_eq!(ship(carrier, &request).await, first);
    let racing = join_all((0..5).map(|_| carrier.ship(&request))).await;
    assert!(racing.iter().all(|s| s.as_ref().is_ok_and(|s| *s == first)), "{racing:?}");
}

pub async fn a_repeated_key_gets_its_shipment_back_whatever_the_request_says(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    let first = ship(carrier, &request).await;
    let other_carrier = carrier.carriers().last().expect("a carrier lists at least one carrier").clone();
    let changed = ShipmentRequest { carrier: other_carrier, weight: Grams(20_000), ..request.clone() };
    assert_eq!(ship(carrier, &changed).await, first);
}

pub async fn a_shipment_is_found_by_its_key_even_when_its_answer_was_lost(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    assert_eq!(find(carrier, &request.idempotency_key).await, None, "nothing was bought yet");
    let shipment = ship(carrier, &request).await;
    assert_eq!(find(carrier, &request.idempotency_key).await, Some(shipment));
}

pub async fn a_voided_label_is_found_voided(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    let shipment = ship(carrier, &request).await;
    carrier.void(&request.idempotency_key).await.expect("voiding the label");

    let voided = Shipment { voided: true, ..shipment };
    assert_eq!(find(carrier, &request.idempotency_key).await, Some(voided.clone()));
    assert_eq!(ship(carrier, &request).await, voided, "repeating the key buys no new label");
}

pub async fn voiding_again_or_a_key_that_bought_nothing_is_a_no_op(carrier: &dyn Carrier) {
    let request = shipment_request(carrier);
    carrier.void(&request.idempotency_key).await.expect("voiding a key that bought nothing");
    assert_eq!(find(carrier, &request.idempotency_key).await, None, "voiding bought nothing");

    ship(carrier, &request).await;
    carrier.void(&request.idempotency_key).await.expect("voiding the label");
    carrier.void(&request.idempotency_key).await.expect("voiding it again");
    assert!(find(carrier, &request.idempotency_key).await.is_some_and(|s| s.voided));
}
