//! Safe by default: no listening beyond loopback without authentication, and the workflow's
//! internals are an operator's view, not a customer's.

use orderflow::Config;
use orderflow_tests::{TestApp, expect_problem, order_body};
use serde_json::Value;

/// The configuration from these settings, given as flags (`HOST` is `--host`), or the start-up
/// error's whole chain.
fn config_with(settings: &[(&str, &str)]) -> Result<Config, String> {
    let flags = settings.iter().map(|(name, value)| format!("--{}={value}", name.to_lowercase().replace('_', "-")));
    Config::from_args(std::iter::once("orderflow".to_owned()).chain(flags)).map_err(|error| format!("{error:#}"))
}

#[test]
fn listening_beyond_loopback_without_authentication_is_refused_naming_both_settings() {
    for host in ["0.0.0.0", "::", "192.168.1.20"] {
        let error = config_with(&[("HOST", host)]).unwrap_err();
        assert!(error.contains("HOST") && error.contains("AUTH_MODE"), "{error}");
    }
    let error = config_with(&[("HOST", "0.0.0.0"), ("AUTH_MODE", "none")]).unwrap_err();
    assert!(error.contains("HOST") && error.contains("AUTH_MODE"), "{error}");
}

#[test]
fn loopback_without_authentication_and_any_address_behind_a_gateway_are_accepted() {
    config_with(&[]).unwrap();
    config_with(&[("HOST", "::1")]).unwrap();
    config_with(&[("HOST", "0.0.0.0"), ("AUTH_MODE", "gateway-header:x-customer-id")]).unwrap();
}

#[tokio::test]
async fn a_customer_behind_the_gateway_does_not_get_the_execution_history_of_their_own_order() {
    let app = TestApp::spawn_with(|config| {
        config.auth = orderflow_api::AuthMode::GatewayHeader(http::HeaderName::from_static("x-customer-id"));
    })
    .await;
    let placed = app
        .client
        .post(app.url("/api/v0/orders"))
        .header("x-customer-id", "cus_ada")
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 202);
    let id = placed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let as_ada = app.get(&format!("/api/v0/orders/{id}")).header("x-customer-id", "cus_ada").send().await.unwrap();
    assert_eq!(as_ada.status(), 200, "the order itself is hers to see");
    assert!(as_ada.json::<Value>().await.unwrap().get("trace").is_none(), "tracing the workflow is for operators");
    let history =
        app.get(&format!("/api/v0/orders/{id}/execution")).header("x-customer-id", "cus_ada").send().await.unwrap();
    expect_problem(history, 404, "not-found").await;

    // The operator, on loopback, reads it from the local routes, once the workflow has started.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let operator = loop {
        let response = app.get(&format!("/_local/executions/{id}")).send().await.unwrap();
        if response.status() != 404 {
            break response;
        }
        assert!(std::time::Instant::now() < deadline, "the workflow never started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(operator.status(), 200);
    let execution: Value = operator.json().await.unwrap();
    assert_eq!(execution["execution"]["name"], id.as_str());
}

#[tokio::test]
async fn an_operator_reading_an_order_is_linked_to_its_trace_in_the_console() {
    let app = TestApp::spawn().await;
    let placed = app.place_order(&order_body()).await;
    let id = placed["id"].as_str().unwrap();

    let order: Value = app.get(&format!("/api/v0/orders/{id}")).send().await.unwrap().json().await.unwrap();

    let trace = order["trace"].as_str().expect("a link to the order's trace");
    assert_eq!(trace, format!("/_local/console/orders/{id}"));
    let page = app.get(trace).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(id));
}
