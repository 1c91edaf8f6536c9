//! Serving HTTP under load: the accept loop with its timeouts, and the guards around the
//! router that keep an overloaded server answering.
//!
//! - **Header-read timeout**, which is also the **idle timeout**: a connection has that long to
//!   send a request's headers, counted from when the server is ready to read them, so an idle
//!   keep-alive connection or a client that trickles its headers (slowloris) is closed.
//!   `axum::serve` does not expose it, hence this accept loop on hyper directly.
//! - **Concurrency limit**: at most so many requests are handled at once; one more is shed at
//!   once with `503` and `Retry-After`, instead of queueing until memory runs out.
//! - **Request timeout**: a request (its body included) that takes longer is answered `503`
//!   with `Retry-After`. Retrying is safe: a placed order is found by its `Idempotency-Key`.
//!
//! Shed and timed-out requests answer the same `service-unavailable` problem document as the
//! rest of the API, never a plain-text error.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use orderflow_api::problem::Problem;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How much the server takes on. See the README's configuration table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_REQUESTS_IN_FLIGHT`: requests handled at once; more are shed with `503`.
    pub max_requests_in_flight: usize,
    /// `REQUEST_TIMEOUT_SECONDS`: the longest a request may take, body included.
    pub request_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_SECONDS`: how long a connection may take to send a request's
    /// headers, or stay idle between requests.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_requests_in_flight: 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// How long a client told to come back should wait, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

/// `app` behind a concurrency limit that sheds the excess and a request timeout.
pub fn guarded(app: Router, limits: Limits) -> Router {
    let slots = Arc::new(Semaphore::new(limits.max_requests_in_flight.max(1)));
    let timeout = limits.request_timeout;
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        let slots = Arc::clone(&slots);
        async move {
            let Ok(_slot) = slots.try_acquire_owned() else {
                tracing::debug!("shedding a request: too many in flight");
                return unavailable(
                    "The server is handling as many requests as it can. Retry after Retry-After seconds.",
                );
            };
            if let Ok(response) = tokio::time::timeout(timeout, next.run(request)).await {
                response
            } else {
                tracing::warn!(timeout_ms = timeout.as_millis(), "a request took too long; answered 503");
                unavailable("The request took too long. Retry after Retry-After seconds.")
            }
        }
    }))
}

/// A `503 service-unavailable` problem with `Retry-After`.
fn unavailable(detail: &str) -> Response {
    let problem = Problem {
        problem_type: "/problems/service-unavailable".to_owned(),
        title: "Service unavailable".to_owned(),
        status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        detail: Some(detail.to_owned()),
        errors: Vec::new(),
    };
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets the
/// requests in flight finish and closes idle connections. Each request carries its peer's
/// address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: accepting again at once would spin.
                    tracing::warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = tower::util::MapRequest::new(app.clone(), move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
