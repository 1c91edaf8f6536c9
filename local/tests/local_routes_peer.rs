//! `/_local/*` answers operators on loopback only, judged by the connection's peer address.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use http::Request;
use orderflow::{Config, Runtime, local_routes};
use tower::ServiceExt;

async fn status_from(peer: SocketAddr, path: &str) -> (u16, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(&Config::for_tests(dir.path()), "http://127.0.0.1:1").await.unwrap();
    let router = local_routes::router(&runtime).layer(MockConnectInfo(peer));
    let request = Request::get(path).header("x-forwarded-for", "127.0.0.1").body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), content_type)
}

#[tokio::test]
async fn the_ledgers_answer_a_peer_beyond_loopback_404_whatever_its_headers_say() {
    let stranger = SocketAddr::from(([192, 168, 1, 20], 51000));
    for path in
        ["/_local/payments", "/_local/shipments", "/_local/emails", "/_local/executions/ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB"]
    {
        let (status, content_type) = status_from(stranger, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{path}");
    }
}

#[tokio::test]
async fn the_ledgers_answer_a_loopback_peer() {
    for peer in [SocketAddr::from(([127, 0, 0, 1], 51000)), "[::1]:51000".parse().unwrap()] {
        assert_eq!(status_from(peer, "/_local/payments").await.0, 200, "{peer}");
    }
}
