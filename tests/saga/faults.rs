use futures::StreamExt;
use orderflow::faults::Faults;
use orderflow_tests::{TestApp, assert_guarantees, order_of};

/// Every Task state of the order machine, read from the machine itself so none is forgotten.
fn task_states() -> Vec<String> {
    let machine: serde_json::Value = serde_json::from_str(orderflow::saga::ORDER_STATE_MACHINE).unwrap();
    let states = machine["States"].as_object().unwrap();
    states.iter().filter(|(_, state)| state["Type"] == "Task").map(|(name, _)| name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_orders_through_transient_faults_before_and_after_every_step_all_ship_once() {
    // In every state, 10% of attempts fail before the task runs and 10% after its side effect,
    // answer lost: the case idempotency exists for.
    let spec: Vec<String> = task_states()
        .iter()
        .flat_map(|state| [format!("{state}:Transient:0.1"), format!("{state}:Transient:0.1:after")])
        .collect();
    let app = TestApp::spawn_with(|config| config.faults = Faults::parse(&spec.join(","), 2026).unwrap()).await;
    let skus = ["MUG-CLASSIC-WHT", "BEANS-ETH-250", "NOTEBOOK-A5-DOT", "SOCKS-WOOL-3PK"];
    let mut initial = Vec::new();
    for sku in skus {
        initial.push((sku, app.available(sku).await));
    }

    let placed: Vec<serde_json::Value> = futures::stream::iter(0..200)
        .map(|i| {
            let body = order_of(skus[i % skus.len()], 1, "pm_card_visa");
            let app = &app;
            async move { app.place_order(&body).await }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    for order in &placed {
        let settled = app.settled_order(order["id"].as_str().unwrap()).await;
        assert_eq!(settled["status"], "shipped", "{settled}");
    }

    let charges = app.charges().await;
    assert_eq!(charges.len(), 200, "every order is charged exactly once");
    assert_guarantees(&app, &initial).await;
}
