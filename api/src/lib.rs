//! The order REST API: one axum [`Router`] built by [`app`], served by `axum::serve` locally and
//! by `lambda_http` on AWS.
//!
//! # Layout
//!
//! - [`orders`]: `/api/v0/orders`: place, get, list, patch, cancel; request bodies in
//!   `orders::request`, response bodies in `orders::view`.
//! - [`products`]: `/api/v0/products`: the catalog with available stock.
//! - [`executions`]: `GET /api/v0/orders/{id}/execution`, the workflow's event history.
//! - [`health`]: `GET /health`.
//! - [`outbox`]: one round of the sweeper that starts the workflows whose start failed.
//! - [`auth`]: who is calling ([`Caller`]) and how the API learns it ([`AuthMode`]).
//! - [`extract`]: request extractors (JSON bodies with pointer-precise errors, `Idempotency-Key`,
//!   `If-Match`).
//! - [`problem`]: `ApiError`, the one mapping of failures to RFC 9457 problem responses, and
//!   `ensure_problem`, the layer that makes any other error response (axum's rejections, a
//!   layer's) one too.
//!
//! Every route is described in the OpenAPI 3.1 document served at `GET /openapi.json`,
//! generated from the handlers' annotations.

pub mod auth;
pub mod executions;
pub mod extract;
pub mod health;
pub mod orders;
pub mod outbox;
pub mod problem;
pub mod products;
pub mod webhooks;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orderflow_domain::catalog::Catalog;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{BlobStore, Clock, Inventory, OrderStore, WorkflowOutbox, WorkflowStarter};
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::TaxPolicy;
use parking_lot::Mutex;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{AuthMode, Caller, GatewayClaims};
pub use executions::ExecutionHistory;
use problem::ApiError;

/// What the handlers need: the ports and the pricing rules.
#[derive(Debug)]
pub struct Services {
    pub orders: Arc<dyn OrderStore>,
    pub inventory: Arc<dyn Inventory>,
    pub catalog: Arc<Catalog>,
    pub tax: Arc<dyn TaxPolicy>,
    pub shipping: ShippingRates,
    pub clock: Arc<dyn Clock>,
    pub auth: AuthMode,
    /// Where invoices and labels are, to link them in the order view.
    pub documents: Arc<dyn BlobStore>,
    /// How long those links work.
    pub link_ttl: Duration,
    /// Starts each order's workflow as it is placed; `None` while workflows are paused, when
    /// orders wait in the outbox.
    pub workflows: Option<Arc<dyn WorkflowStarter>>,
    /// Where an order whose workflow has started is marked so; the rest are swept up later.
    pub outbox: Arc<dyn WorkflowOutbox>,
    /// The orders' workflow executions.
    pub executions: Arc<dyn ExecutionHistory>,
    /// What `/health` asks about besides the order store (the workflow engine).
    pub probes: Vec<Arc<dyn health::Probe>>,
    /// The signing secret of the Stripe webhook endpoint; `None`: `/webhooks/stripe` is `404`.
    pub stripe_webhook: Option<webhooks::WebhookSecret>,
}

/// The state shared by every handler: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    services: Arc<Services>,
    ids: Arc<Mutex<ulid::Generator>>,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        Self { services: Arc::new(services), ids: Arc::new(Mutex::new(ulid::Generator::new())) }
    }

    /// A new order id, strictly increasing within this process so that orders placed in the same
    /// millisecond still list in the order they were placed.
    fn next_order_id(&self) -> OrderId {
        let mut ids = self.ids.lock();
        let ulid = ids.generate().unwrap_or_else(|_| ulid::Ulid::generate());
        OrderId::from_ulid(ulid)
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Orderflow",
        description = "Place orders and follow them as they are priced, invoiced, charged, shipped and mailed.\n\n\
            Amounts are integer minor units (cents) of the order's currency. Errors are RFC 9457 \
            `application/problem+json` documents whose `type` names the problem.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(problem::Problem, problem::InvalidParam)),
    tags(
        (name = "orders", description = "Orders and their lifecycle"),
        (name = "products", description = "The catalog"),
        (name = "health", description = "Service health"),
        (name = "webhooks", description = "Events from the partners"),
    )
)]
struct ApiDoc;

/// Routes and their OpenAPI description, before state is attached.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(orders::place_order, orders::list_orders))
        .routes(routes!(orders::get_order, orders::patch_order, orders::cancel_order))
        .routes(routes!(executions::get_execution))
        .routes(routes!(products::list_products))
        .routes(routes!(products::get_product))
        .routes(routes!(health::health))
        .routes(routes!(webhooks::stripe_webhook))
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    valid(with_unauthorized(routes().into_openapi()))
}

/// `document` with the `401` every order route answers when the API runs behind a gateway and a
/// request names no caller (no customer header, no JWT claims). The routes take the caller as an
/// extractor, so the answer is written down once here rather than on each route.
fn with_unauthorized(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let unauthorized = ResponseBuilder::new()
        .description(
            "Behind a gateway, the request names no caller: no customer header, or no claims from \
             the JWT authorizer",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build();
    for (path, item) in &mut document.paths.paths {
        if !path.starts_with("/api/v0/orders") {
            continue;
        }
        let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            operation.responses.responses.entry("401".to_owned()).or_insert_with(|| unauthorized.clone().into());
        }
    }
    document
}

/// `document` with a `description` on every response, which OpenAPI requires and validators and
/// client generators enforce: a route that documents a status without one gets the status's
/// reason phrase rather than making the whole document invalid.
fn valid(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let utoipa::openapi::RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason());
                    reason.unwrap_or("The answer").clone_into(&mut response.description);
                }
            }
        }
    }
    document
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let (router, api) = routes().split_for_parts();
    let document = valid(with_unauthorized(api)).to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    router
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document) }),
        )
        .route("/problems/{slug}", get(problem_description))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        // Whatever reads a body reads at most what `JsonBody` does.
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal("a handler panicked".into()).into_response()))
        .layer(axum::middleware::map_response(problem::ensure_problem))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_request(())
                .on_response(
                    |response: &Response, latency: std::time::Duration, _span: &tracing::Span| {
                        tracing::debug!(status = response.status().as_u16(), latency_us = latency.as_micros(), "answered");
                    },
                ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RequestIds::default()))
}

/// Request ids for requests that come without one: a prefix unique to this process and a
/// counter, so making one costs no system call (a UUID per request costs a `getrandom`).
#[derive(Debug, Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self { prefix: ulid::Ulid::generate().to_string().into(), next: Arc::default() }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(RequestId::new)
    }
}

async fn problem_description(extract::PathParam(slug): extract::PathParam) -> Result<Response, ApiError> {
    let text = problem::describe(&slug).ok_or(ApiError::NotFound("problem type"))?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
