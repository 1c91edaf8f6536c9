//! What every `Carrier` guarantees. The carrier under test can take a parcel of under a kilo to
//! [`fixtures::address`](crate::fixtures::address) with the carrier it lists first.

use futures::future::join_all;
use orderflow_domain::catalog::Grams;
use orderflow_domain::ports::{Carrier, Shipment, ShipmentRequest};

use crate::fixtures::{address, order_id};

/// A parcel of 760 g to [`address`], under a new order's one key.
pub fn shipment_request() -> ShipmentRequest {
    let order = order_id();
    ShipmentRequest { idempotency_key: format!("{order}/ship"), order, destination: address(), weight: Grams(760) }
}

/// The carrier listed first, and the one listed last.
fn preferred_and_last(carrier: &dyn Carrier) -> (String, String) {
    let carriers = carrier.carriers();
    let first = carriers.first().expect("a carrier lists at least one carrier").clone();
    let last = carriers.last().expect("a carrier lists at least one carrier").clone();
    (first, last)
}

/// Opens a shipment for a new order's parcel.
async fn open(carrier: &dyn Carrier) -> (ShipmentRequest, String) {
    let request = shipment_request();
    let reference = carrier.open(&request).await.expect("opening a shipment");
    (request, reference)
}

async fn ship(carrier: &dyn Carrier, reference: &str) -> Shipment {
    let (preferred, _) = preferred_and_last(carrier);
    carrier.ship(reference, &preferred).await.expect("buying a label")
}

async fn find(carrier: &dyn Carrier, reference: &str) -> Option<Shipment> {
    carrier.find(reference).await.expect("looking a shipment up")
}

pub async fn a_label_is_a_pdf_from_the_carrier_named(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    let shipment = ship(carrier, &reference).await;
    let preferred = preferred_and_last(carrier).0;
    assert_eq!(shipment.carrier, preferred.split(':').next().unwrap_or_default(), "{preferred} sold the label");
    assert!(shipment.label.starts_with(b"%PDF-"), "the label is a PDF");
    assert!(!shipment.tracking_number.is_empty());
    assert!(!shipment.voided);
}

pub async fn opening_a_shipment_buys_nothing(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    assert_eq!(find(carrier, &reference).await, None);
}

pub async fn buying_twice_on_a_shipment_buys_one_label(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    let first = ship(carrier, &reference).await;
    assert_eq!(ship(carrier, &reference).await, first);
    let preferred = preferred_and_last(carrier).0;
    let racing = join_all((0..5).map(|_| carrier.ship(&reference, &preferred))).await;
    assert!(racing.iter().all(|s| s.as_ref().is_ok_and(|s| *s == first)), "{racing:?}");
}

pub async fn a_shipment_with_a_label_gives_it_back_whichever_carrier_is_named(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    let first = ship(carrier, &reference).await;
    let (_, last) = preferred_and_last(carrier);
    assert_eq!(carrier.ship(&reference, &last).await.expect("buying again"), first);
}

pub async fn a_label_is_found_by_its_shipment_even_when_its_answer_was_lost(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    let shipment = ship(carrier, &reference).await;
    assert_eq!(find(carrier, &reference).await, Some(shipment));
}

pub async fn a_voided_label_is_found_voided(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    let shipment = ship(carrier, &reference).await;
    carrier.void(&reference).await.expect("voiding the label");

    let voided = Shipment { voided: true, ..shipment };
    assert_eq!(find(carrier, &reference).await, Some(voided.clone()));
    assert_eq!(ship(carrier, &reference).await, voided, "buying again on the shipment buys no new label");
}

pub async fn voiding_again_or_a_shipment_without_a_label_is_a_no_op(carrier: &dyn Carrier) {
    let (_, reference) = open(carrier).await;
    carrier.void(&reference).await.expect("voiding a shipment without a label");
    assert_eq!(find(carrier, &reference).await, None, "voiding bought nothing");

    ship(carrier, &reference).await;
    carrier.void(&reference).await.expect("voiding the label");
    carrier.void(&reference).await.expect("voiding it again");
    assert!(find(carrier, &reference).await.is_some_and(|s| s.voided));
}
