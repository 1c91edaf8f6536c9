//! The saga with EasyPost as the carrier (`CARRIER=easypost`), against the stateful fake EasyPost:
//! the fallback down the preference list, an address EasyPost cannot verify, a customer's
//! cancellation after a label was bought, and the label kept in our own blob store.

use orderflow::Shipping;
use orderflow_adapters_easypost::fake::{FakeEasyPost, KEY, LABEL_PDF};
use orderflow_domain::Secret;
use orderflow_tests::{TestApp, assert_guarantees, order_body};
use serde_json::json;

const WAREHOUSE: &str = r#"{"name":"Orderflow Warehouse","line1":"1 Dock Road","city":"Portland","region":"OR","postalCode":"97214","country":"US"}"#;

async fn app(easypost: &FakeEasyPost) -> TestApp {
    let api_base = easypost.uri();
    TestApp::spawn_with(|config| {
        config.shipping = Shipping::EasyPost {
            api_base,
            key: Secret::new(KEY),
            carriers: "DHLExpress, FedEx:FEDEX_GROUND".to_owned(),
            ship_from: WAREHOUSE.to_owned(),
        };
    })
    .await
}

#[tokio::test]
async fn an_order_ships_with_the_preferred_carrier_and_its_label_is_served_by_us() {
    let easypost = FakeEasyPost::start().await;
    let app = app(&easypost).await;
    let before = app.available("MUG-CLASSIC-WHT").await;

    let placed = app.place_order(&order_body()).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "shipped", "{order}");
    assert_eq!(order["shipment"]["carrier"], "DHLExpress");
    assert_eq!(order["shipment"]["service"], "ExpressWorldwideNonDoc");
    assert!(order["shipment"]["trackingNumber"].as_str().unwrap().starts_with("EZ"));
    let label_url = order["shipment"]["labelUrl"].as_str().unwrap();
    assert!(label_url.starts_with(&app.url("/")), "{label_url} is ours, not EasyPost's");
    assert_eq!(app.document(label_url).await, LABEL_PDF);
    assert_eq!(easypost.labels_sold(), 1);
    let sold: i64 = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["sku"] == "MUG-CLASSIC-WHT")
        .map(|l| l["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before - sold, "the stock left the warehouse");
}

#[tokio::test]
async fn a_preferred_carrier_without_a_rate_falls_back_to_the_next_one() {
    let easypost = FakeEasyPost::start().await;
    easypost.without_rates_from("DHLExpress");
    let app = app(&easypost).await;

    let placed = app.place_order(&order_body()).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "shipped", "{order}");
    assert_eq!(order["shipment"]["carrier"], "FedEx");
    assert_eq!(order["shipment"]["service"], "FEDEX_GROUND", "the service the preference list names");
    assert_eq!(easypost.labels_sold(), 1);
}

#[tokio::test]
async fn when_no_carrier_has_a_rate_the_order_is_cancelled_and_refunded() {
    let easypost = FakeEasyPost::start().await;
    easypost.without_rates_from("DHLExpress");
    easypost.without_rates_from("FedEx");
    let app = app(&easypost).await;
    let before = app.available("MUG-CLASSIC-WHT").await;

    let placed = app.place_order(&order_body()).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["cancellation"]["reason"], "carrier_unavailable");
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(easypost.labels_sold(), 0);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn an_address_easypost_cannot_verify_cancels_the_order_and_refunds_it() {
    let easypost = FakeEasyPost::start().await;
    let app = app(&easypost).await;
    let mut body = order_body();
    body["shippingAddress"]["postalCode"] = json!("00000");

    let placed = app.place_order(&body).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;

    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["cancellation"]["reason"], "address_undeliverable");
    assert_eq!(order["payment"]["status"], "refunded");
    assert_eq!(easypost.labels_sold(), 0);
}
