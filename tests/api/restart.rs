use orderflow_tests::{TestApp, order_body};
use serde_json::Value;

#[tokio::test]
async fn a_restart_on_the_same_data_directory_keeps_every_order() {
    let app = TestApp::with_workflows_paused().await;
    let mut placed = Vec::new();
    for _ in 0..20 {
        placed.push(app.place_order(&order_body()).await);
    }
    let key_order: Value = app.post_order_with_key(&order_body(), "before-restart").await.json().await.unwrap();

    let app = app.restart().await;

    for order in &placed {
        let read: Value = app.get_order(order["id"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(&read, order);
    }
    // Idempotency records survive too.
    let replayed = app.post_order_with_key(&order_body(), "before-restart").await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap()["id"], key_order["id"]);
    assert_eq!(app.all_orders().await.len(), 21);
}

#[tokio::test]
async fn stock_levels_survive_a_restart_without_being_reseeded() {
    use orderflow_domain::cart::Quantity;
    use orderflow_domain::catalog::Sku;
    use orderflow_domain::order::OrderId;

    let app = TestApp::with_workflows_paused().await;
    let order = app.place_order(&order_body()).await;
    let id = OrderId::parse(order["id"].as_str().unwrap()).unwrap();
    let mugs = [(Sku::parse("MUG-CLASSIC-WHT").unwrap(), Quantity::parse(3).unwrap())];
    app.state.inventory.reserve(&id, &mugs).await.unwrap();

    let app = app.restart().await;

    let mug: Value = app.get("/api/v0/products/MUG-CLASSIC-WHT").send().await.unwrap().json().await.unwrap();
    assert_eq!(mug["available"], 497);
}
