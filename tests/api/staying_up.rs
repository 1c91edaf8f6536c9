//! Under more load than the server takes: requests beyond the limit, requests that take too
//! long and connections that send nothing are answered or closed, never left to pile up.

use std::time::Duration;

use futures::channel::mpsc;
use orderflow_tests::{TestApp, expect_problem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Chunks = mpsc::UnboundedSender<Result<Vec<u8>, std::io::Error>>;

/// Starts a `POST /api/v0/orders` whose body never ends until the returned sender is dropped:
/// a slow client holding a request in flight.
fn slow_post(app: &TestApp) -> (Chunks, tokio::task::JoinHandle<reqwest::Response>) {
    let (chunks, body) = mpsc::unbounded();
    chunks.unbounded_send(Ok(b"{\"customer\":".to_vec())).unwrap();
    let request = app
        .client
        .post(app.url("/api/v0/orders"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(body));
    (chunks, tokio::spawn(async move { request.send().await.unwrap() }))
}

fn assert_retry_after(response: &reqwest::Response) {
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    assert!(retry_after.is_some_and(|s| s.parse::<u32>().is_ok()), "{:?}", response.headers());
}

#[tokio::test]
async fn a_request_beyond_the_concurrency_limit_is_shed_with_503_and_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.limits.max_requests_in_flight = 1;
    })
    .await;
    let (chunks, slow) = slow_post(&app);

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let shed = loop {
        let response = app.get("/api/v0/products").send().await.unwrap();
        if response.status() == 503 {
            break response;
        }
        assert!(std::time::Instant::now() < deadline, "no request was ever shed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_retry_after(&shed);
    expect_problem(shed, 503, "service-unavailable").await;

    drop(chunks);
    slow.await.unwrap();
    assert_eq!(app.get("/api/v0/products").send().await.unwrap().status(), 200, "the slot is free again");
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_503_with_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.limits.request_timeout = Duration::from_millis(200);
    })
    .await;
    let (chunks, slow) = slow_post(&app);

    let response =
        tokio::time::timeout(Duration::from_secs(30), slow).await.expect("the server never answered").unwrap();
    assert_retry_after(&response);
    expect_problem(response, 503, "service-unavailable").await;
    drop(chunks);
}

/// Reads until the server closes the connection; fails the test if it never does.
async fn closed_by_the_server(mut stream: tokio::net::TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    received
}

#[tokio::test]
async fn a_connection_that_trickles_its_headers_is_closed() {
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.limits.header_read_timeout = Duration::from_millis(200);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n").await.unwrap();
    closed_by_the_server(stream).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = TestApp::spawn_with(|config| {
        config.workflows_paused = true;
        config.limits.header_read_timeout = Duration::from_millis(200);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.unwrap();
    let received = closed_by_the_server(stream).await;
    assert!(received.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received));
}

/// Every page of `path` at `limit` entries, following `nextCursor`.
async fn pages(app: &TestApp, path: &str, field: &str, limit: usize) -> Vec<Vec<serde_json::Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(before) => format!("{path}?limit={limit}&before={before}"),
            None => format!("{path}?limit={limit}"),
        };
        let page: serde_json::Value = app.get(&url).send().await.unwrap().json().await.unwrap();
        pages.push(page[field].as_array().unwrap().clone());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn the_local_ledgers_of_labels_and_emails_are_listed_a_bounded_page_at_a_time() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    // One after the other, so the labels are bought in the order the orders were placed.
    for _ in 0..3 {
        let id = app.place_order(&orderflow_tests::order_body()).await["id"].as_str().unwrap().to_owned();
        assert_eq!(app.settled_order(&id).await["status"], "shipped");
        ids.push(id);
    }

    let shipments = pages(&app, "/_local/shipments", "shipments", 1).await;
    assert!(shipments.iter().all(|page| page.len() <= 1), "{shipments:?}");
    let shipped: Vec<String> = shipments.concat().iter().map(|s| s["orderId"].as_str().unwrap().to_owned()).collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(shipped, newest_first, "every label once, newest first");

    let emails = pages(&app, "/_local/emails", "emails", 5).await;
    assert!(emails.iter().all(|page| page.len() <= 5), "{emails:?}");
    let mut keys: Vec<String> = emails.concat().iter().map(|e| e["key"].as_str().unwrap().to_owned()).collect();
    assert_eq!(keys.len(), 12, "four emails per order: {keys:?}");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 12, "no email on two pages");

    for path in ["/_local/emails?limit=100000", "/_local/shipments?limit=0", "/_local/emails?before=nonsense"] {
        expect_problem(app.get(path).send().await.unwrap(), 400, "invalid-parameters").await;
    }
}
