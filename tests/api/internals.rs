//! What a customer sees carries no internals: the causes of failures stay in the logs and in the
//! operator's execution history, never in the order's history.

use orderflow::faults::Faults;
use orderflow_tests::{TestApp, order_body};

/// The cause the fault injector gives its failures: internal text a customer must not see.
const INTERNAL_CAUSE: &str = "injected fault";

#[tokio::test]
async fn an_order_stopped_by_an_unexpected_error_shows_no_cause_to_the_customer() {
    let app =
        TestApp::spawn_with(|config| config.faults = Faults::parse("PriceOrder:UnexpectedFailure:1.0", 1).unwrap())
            .await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();

    let order = app.settled_order(&id).await;

    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellation"]["reason"], "internal_error");
    assert!(!order.to_string().contains(INTERNAL_CAUSE), "the order shows an internal cause: {}", order["history"]);
    // The operator's view keeps it.
    assert!(app.execution(&id).await.to_string().contains(INTERNAL_CAUSE));
}
