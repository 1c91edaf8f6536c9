use orderflow_tests::{TestApp, expect_problem};
use serde_json::Value;

#[tokio::test]
async fn the_catalog_lists_at_least_twenty_products_with_available_stock() {
    let app = TestApp::with_workflows_paused().await;
    let catalog: Value = app.get("/api/v0/products").send().await.unwrap().json().await.unwrap();
    let products = catalog["products"].as_array().unwrap();
    assert!(products.len() >= 20);
    let mug = products.iter().find(|p| p["sku"] == "MUG-CLASSIC-WHT").unwrap();
    assert_eq!(mug["unitPrice"], 1400);
    assert_eq!(mug["currency"], "USD");
    assert_eq!(mug["available"], 500);
}

#[tokio::test]
async fn one_product_reads_by_sku_and_an_unknown_one_is_404() {
    let app = TestApp::with_workflows_paused().await;
    let tent: Value = app.get("/api/v0/products/tent-2p-ultra").send().await.unwrap().json().await.unwrap();
    assert_eq!(tent["sku"], "TENT-2P-ULTRA");
    assert_eq!(tent["available"], 12);
    expect_problem(app.get("/api/v0/products/NOPE-404").send().await.unwrap(), 404, "not-found").await;
}

#[tokio::test]
async fn health_answers_ok() {
    let app = TestApp::with_workflows_paused().await;
    let response = app.get("/health").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_route() {
    let app = TestApp::with_workflows_paused().await;
    let document: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = &document["paths"];
    for (path, methods) in [
        ("/api/v0/orders", &["post", "get"][..]),
        ("/api/v0/orders/{id}", &["get", "patch", "delete"][..]),
        ("/api/v0/products", &["get"][..]),
        ("/api/v0/products/{sku}", &["get"][..]),
        ("/health", &["get"][..]),
    ] {
        for method in methods {
            assert!(paths[path][method].is_object(), "{method} {path} is not documented");
        }
    }
    assert!(document["components"]["schemas"]["PlaceOrder"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn every_documented_response_has_the_description_openapi_requires() {
    let app = TestApp::with_workflows_paused().await;
    let document: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();

    let mut missing = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if response["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }

    assert!(missing.is_empty(), "responses without a description: {missing:?}");
}

#[tokio::test]
async fn the_execution_history_is_documented_by_its_schema() {
    let app = TestApp::with_workflows_paused().await;
    let document: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();

    let answer = &document["paths"]["/api/v0/orders/{id}/execution"]["get"]["responses"]["200"];
    assert_eq!(answer["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Execution");
    let schemas = &document["components"]["schemas"];
    let event = &schemas["ExecutionEvent"]["properties"];
    for member in ["id", "timestamp", "type", "stateName", "input", "output", "error", "cause"] {
        assert!(event[member].is_object(), "events have no `{member}`");
    }
    assert_eq!(schemas["ExecutionDescription"]["properties"]["status"]["$ref"], "#/components/schemas/ExecutionStatus");
}

#[tokio::test]
async fn every_order_route_documents_the_401_of_a_request_that_names_no_caller() {
    let app = TestApp::with_workflows_paused().await;
    let document: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();

    for (path, method) in [
        ("/api/v0/orders", "post"),
        ("/api/v0/orders", "get"),
        ("/api/v0/orders/{id}", "get"),
        ("/api/v0/orders/{id}", "patch"),
        ("/api/v0/orders/{id}", "delete"),
        ("/api/v0/orders/{id}/execution", "get"),
    ] {
        let unauthorized = &document["paths"][path][method]["responses"]["401"];
        assert_eq!(
            unauthorized["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
            "{method} {path}"
        );
    }
    assert!(document["paths"]["/api/v0/products"]["get"]["responses"]["401"].is_null(), "the catalog is public");
}
