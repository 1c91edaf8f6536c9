use orderflow_tests::{TestApp, assert_guarantees, order_body, pdf_text};
use serde_json::Value;

#[tokio::test]
async fn an_order_is_priced_reserved_invoiced_charged_shipped_and_mailed() {
    let app = TestApp::spawn().await;
    let before = app.available("MUG-CLASSIC-WHT").await;

    let placed = app.place_order(&order_body()).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;
    let id = order["id"].as_str().unwrap();

    assert_eq!(order["status"], "shipped");
    let statuses: Vec<&str> =
        order["history"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "confirmed", "invoiced", "paid", "shipped"]);
    assert_eq!(order["payment"]["status"], "succeeded");
    assert_eq!(order["payment"]["amount"], order["pricing"]["total"]);

    // The invoice is a real PDF with its number and the total.
    let invoice_number = order["invoice"]["number"].as_str().unwrap();
    assert!(invoice_number.starts_with("INV-"), "{invoice_number}");
    let pdf = app.document(order["invoice"]["url"].as_str().unwrap()).await;
    let text = pdf_text(&pdf);
    assert!(text.contains(invoice_number), "the invoice PDF does not show its number:\n{text}");
    assert!(text.contains("36.02"), "the invoice PDF does not show the total:\n{text}");

    // A tracking number in the primary carrier's format, and a label.
    let tracking = order["shipment"]["trackingNumber"].as_str().unwrap();
    assert!(tracking.starts_with("1Z"), "{tracking}");
    assert_eq!(order["shipment"]["carrier"], "northwind");
    assert!(app.document(order["shipment"]["labelUrl"].as_str().unwrap()).await.starts_with(b"%PDF"));

    assert_eq!(app.emails_of(id).await, ["confirmed", "invoiced", "paid", "shipped"]);
    assert_eq!(app.available("MUG-CLASSIC-WHT").await, before - 2);
    assert_guarantees(&app, &[("MUG-CLASSIC-WHT", before)]).await;
}

#[tokio::test]
async fn the_execution_history_speaks_step_functions() {
    let app = TestApp::spawn().await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();
    app.settled_order(id).await;

    let execution = app.execution(id).await;

    assert_eq!(execution["execution"]["status"], "SUCCEEDED");
    assert_eq!(execution["execution"]["name"], id);
    let events: Vec<&str> =
        execution["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"ExecutionStarted"));
    assert_eq!(events.last(), Some(&"ExecutionSucceeded"));
    let charged = execution["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e: &Value| e["type"] == "TaskSucceeded" && e["stateName"] == "ChargePayment");
    assert!(charged, "no TaskSucceeded for ChargePayment in {events:?}");
    assert_guarantees(&app, &[]).await;
}

#[tokio::test]
async fn documents_links_refuse_a_tampered_signature() {
    let app = TestApp::spawn().await;
    let placed = app.place_order(&order_body()).await;
    let order = app.settled_order(placed["id"].as_str().unwrap()).await;
    let url = order["invoice"]["url"].as_str().unwrap().replace("invoices/INV", "invoices/INX");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_guarantees(&app, &[]).await;
}

#[tokio::test]
async fn orders_placed_while_workflows_are_paused_are_processed_once_they_run() {
    let app = TestApp::with_workflows_paused().await;
    let body = order_body();
    let placed = futures::future::join_all((0..5).map(|_| app.place_order(&body))).await;
    let ids: Vec<String> = placed.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    let mut config = app.config.clone();
    config.workflows_paused = false;

    let app = app.restart_with(config).await;

    for id in &ids {
        assert_eq!(app.settled_order(id).await["status"], "shipped");
    }
    assert_guarantees(&app, &[]).await;
}
