//! Every error is an `application/problem+json` document with the status it answers with, and
//! never a 5xx: whatever the route, method, path, query, headers or body.

use orderflow_tests::{TestApp, expect_problem, order_body};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// Checks one answer: a success, or a problem document of its own status below 500.
async fn assert_problem_if_error(response: Response, what: &str) {
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        return;
    }
    assert!(status.is_client_error(), "{what}: answered {status}");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(content_type, "application/problem+json", "{what}: answered {status} as {content_type:?}");
    let head = what.starts_with("HEAD ");
    let body = response.bytes().await.unwrap();
    if head {
        return;
    }
    let problem: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
    assert_eq!(problem["status"], status.as_u16(), "{what}: {problem}");
    assert!(problem["type"].is_string() && problem["title"].is_string(), "{what}: {problem}");
}

/// Every route template the server has: those its OpenAPI document describes and the others.
async fn routes(app: &TestApp) -> Vec<String> {
    let document: Value = app.get("/openapi.json").send().await.unwrap().json().await.unwrap();
    let mut routes: Vec<String> = document["paths"].as_object().unwrap().keys().cloned().collect();
    routes.extend(
        [
            "/openapi.json",
            "/problems/{slug}",
            "/_local/payments",
            "/_local/shipments",
            "/_local/emails",
            "/_local/blobs/{key}",
            "/no/such/route",
        ]
        .map(str::to_owned),
    );
    routes
}

/// `template` with each `{parameter}` replaced by `value`.
fn fill(template: &str, value: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        path.push_str(&rest[..start]);
        path.push_str(value);
        rest = &rest[end..];
    }
    path.push_str(rest);
    path
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[tokio::test]
async fn every_route_answers_malformed_requests_with_problem_documents() {
    let app = TestApp::with_workflows_paused().await;
    let order = app.place_order(&order_body()).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let send = |method: &str, path: &str, headers: &[(&str, &[u8])], body: Option<Vec<u8>>| {
        let mut request = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path));
        for (name, value) in headers {
            request = request
                .header(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_bytes(value).unwrap());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send()
    };

    let segments = [id.as_str(), "%FF", "%00", "%ZZ", "ord_%E2%82", "..%2F..%2Fetc", "%20", &"x".repeat(3000)];
    let queries = [
        "?limit=1&limit=2",
        "?limit=abc",
        "?limit=0",
        "?cursor=%FF",
        "?status=nope&customerId=%20",
        "?%FF=%FF",
        "?expires=x&signature=y",
        "?expires=1&expires=2",
        "?a",
        "?=&&=",
    ];
    let headers: [(&str, &[u8]); 10] = [
        ("if-match", b"\"stale\""),
        ("if-match", b"garbage"),
        ("if-match", b"W/\"1\""),
        ("if-match", b"\"1\" \"2\""),
        ("if-none-match", b"garbage"),
        ("if-match", b"\"\xFF\""),
        ("idempotency-key", b"has space"),
        ("idempotency-key", b"\xFF"),
        ("content-type", b"application/json; charset=\xFF"),
        ("accept", b"text/html"),
    ];
    let json = ("content-type", b"application/json".as_slice());
    let merge_patch = ("content-type", b"application/merge-patch+json".as_slice());
    let too_large = || format!("{{\"customer\": \"{}\"}}", "x".repeat(3 * 1024 * 1024)).into_bytes();
    let bodies: [(&str, Vec<u8>); 6] = [
        ("truncated", b"{\"customer\": ".to_vec()),
        ("an array", b"[]".to_vec()),
        ("not UTF-8", b"\xFF\xFE".to_vec()),
        ("wrong types", br#"{"customer": 1, "items": "x", "shippingAddress": null}"#.to_vec()),
        ("a valid order", order_body().to_string().into_bytes()),
        (
            "an order with extra members",
            json!({"shippingAddress": {"line1": 5}, "status": "shipped"}).to_string().into_bytes(),
        ),
    ];

    let mut requests = 0;
    for route in routes(&app).await {
        for method in METHODS {
            for segment in segments {
                let path = fill(&route, segment);
                let what = format!("{method} {path}");
                assert_problem_if_error(send(method, &path, &[], None).await.unwrap(), &what).await;
                requests += 1;
            }
            let path = fill(&route, &id);
            for query in queries {
                let what = format!("{method} {path}{query}");
                assert_problem_if_error(send(method, &format!("{path}{query}"), &[], None).await.unwrap(), &what).await;
            }
            for header in headers {
                let what = format!("{method} {path} with {}: {}", header.0, String::from_utf8_lossy(header.1));
                assert_problem_if_error(
                    send(method, &path, &[header, json], Some(b"{}".to_vec())).await.unwrap(),
                    &what,
                )
                .await;
            }
            for (content_type, (name, body)) in
                [json, merge_patch].into_iter().flat_map(|t| bodies.iter().map(move |b| (t, b)))
            {
                let what = format!("{method} {path} with {name} as {}", String::from_utf8_lossy(content_type.1));
                assert_problem_if_error(send(method, &path, &[content_type], Some(body.clone())).await.unwrap(), &what)
                    .await;
            }
            if matches!(method, "POST" | "PATCH" | "PUT") {
                let what = format!("{method} {path} with 3 MiB");
                assert_problem_if_error(send(method, &path, &[json], Some(too_large())).await.unwrap(), &what).await;
            }
            requests += queries.len() + headers.len() + 2 * bodies.len();
        }
    }
    assert!(requests > 1000, "the walk sent only {requests} requests");
}

#[tokio::test]
async fn a_query_parameter_given_twice_is_a_400_problem_naming_it() {
    let app = TestApp::with_workflows_paused().await;

    let problem =
        expect_problem(app.get("/api/v0/orders?limit=1&limit=2").send().await.unwrap(), 400, "invalid-parameters")
            .await;

    assert_eq!(problem["errors"][0]["parameter"], "limit");
}

#[tokio::test]
async fn a_path_that_is_not_utf8_names_no_order() {
    let app = TestApp::with_workflows_paused().await;
    for path in ["/api/v0/orders/%FF", "/api/v0/orders/%FF/execution", "/api/v0/products/%FF"] {
        expect_problem(app.get(path).send().await.unwrap(), 404, "not-found").await;
    }
    let delete = app.client.delete(app.url("/api/v0/orders/%FF")).send().await.unwrap();
    expect_problem(delete, 404, "not-found").await;
}

#[tokio::test]
async fn a_patch_body_has_the_64_kib_limit_of_a_post() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    for size in [70 * 1024, 3 * 1024 * 1024] {
        let body = json!({"customer": {"email": format!("{}@example.com", "a".repeat(size))}});
        let response = app
            .client
            .patch(app.url(&format!("/api/v0/orders/{id}")))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"1\"")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        expect_problem(response, 413, "payload-too-large").await;
    }
}

#[tokio::test]
async fn a_document_link_without_its_signature_is_a_400_problem() {
    let app = TestApp::with_workflows_paused().await;

    let problem =
        expect_problem(app.get("/_local/blobs/invoices/x.pdf").send().await.unwrap(), 400, "invalid-parameters").await;

    assert_eq!(problem["errors"][0]["parameter"], "expires");
}

#[tokio::test]
async fn a_well_formed_entity_tag_that_does_not_match_is_412_and_a_malformed_one_400() {
    let app = TestApp::with_workflows_paused().await;
    let id = app.place_order(&order_body()).await["id"].as_str().unwrap().to_owned();
    let url = app.url(&format!("/api/v0/orders/{id}"));
    let patch = |if_match: &'static str| {
        app.client
            .patch(&url)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", if_match)
            .body(r#"{"customer": {"email": "ada@example.org"}}"#)
            .send()
    };

    for stale in ["\"stale\"", "\"01\"", "W/\"1\"", "\"2\", \"a,b\""] {
        expect_problem(patch(stale).await.unwrap(), 412, "precondition-failed").await;
    }
    for malformed in ["stale", "\"1", "\"1\" \"2\""] {
        expect_problem(patch(malformed).await.unwrap(), 400, "invalid-parameters").await;
    }
    let cancel = app.client.delete(&url).header("if-match", "\"stale\"").send().await.unwrap();
    expect_problem(cancel, 412, "precondition-failed").await;
    assert_eq!(patch("\"0\", \"1\"").await.unwrap().status(), 200);
}
