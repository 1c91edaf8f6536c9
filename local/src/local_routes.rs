//! `/_local/...`: what only the local runtime has. The simulators' ledgers and the orders'
//! executions, so a person can see what moved, and the local twin of S3 presigned URLs.
//!
//! The ledgers and executions list every customer's addresses, emails and payments: they are
//! an operator's view and answer only connections from a loopback address (the peer of the TCP
//! connection, not a header a client could set); anyone else gets `404`, as for a route that is
//! not there. Document links stay reachable from anywhere: a customer opens them from an email,
//! and each carries its own signature and expiry.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orderflow_adapters_local::blobs::content_type_of;
use orderflow_adapters_local::mailer::EmailPosition;
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_api::ExecutionHistory;
use orderflow_api::problem::{ApiError, InvalidParam};
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::BlobStore;
use serde::{Deserialize, Serialize};

use crate::Runtime;
use crate::workflows::EngineWorkflows;

#[derive(Debug, Clone)]
struct Local {
    payments: PaymentSimulator,
    carrier: CarrierSimulator,
    blobs: FsBlobStore,
    mailer: EmlOutbox,
    workflows: EngineWorkflows,
}

/// The local routes of `runtime`. Serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without the peer's address, the
/// operator's routes answer nobody.
pub fn router(runtime: &Runtime) -> Router {
    let operator = Router::new()
        .route("/_local/payments", get(payments))
        .route("/_local/shipments", get(shipments))
        .route("/_local/emails", get(emails))
        .route("/_local/executions/{id}", get(execution))
        .route_layer(middleware::from_fn(loopback_only));
    Router::new()
        .route("/_local/blobs/{*key}", get(blob))
        .merge(operator)
        .with_state(Local {
            payments: runtime.payments.clone(),
            carrier: runtime.carrier.clone(),
            blobs: runtime.blobs.clone(),
            mailer: runtime.mailer.clone(),
            workflows: runtime.workflows.clone(),
        })
        .layer(axum::middleware::map_response(orderflow_api::problem::ensure_problem))
}

/// Lets through only requests whose connection comes from a loopback address.
pub(crate) async fn loopback_only(
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    request: Request,
    next: Next,
) -> Response {
    match peer {
        Ok(ConnectInfo(peer)) if peer.ip().to_canonical().is_loopback() => next.run(request).await,
        _ => ApiError::NotFound("route").into_response(),
    }
}

/// The order's workflow execution and its events: `GET /api/v0/orders/{id}/execution` for
/// the operator, whatever the API's authentication mode.
async fn execution(State(local): State<Local>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let order = OrderId::parse(&id).map_err(|_| ApiError::NotFound("order"))?;
    match local.workflows.execution(&order).await.map_err(ApiError::Unavailable)? {
        Some(execution) => Ok(Json(execution).into_response()),
        None => Err(ApiError::NotFound("execution")),
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Unavailable(Box::new(error))
}

/// Every charge the payment simulator made or declined, with its refunds.
async fn payments(State(local): State<Local>) -> Result<Response, ApiError> {
    Ok(Json(local.payments.ledger().await.map_err(unavailable)?).into_response())
}

/// The labels the carrier simulator sold, newest first, a page at a time (`?limit=`, at most
/// [`MAX_PAGE`]; `?before=` the `nextCursor` of the previous page). Label files are not read.
async fn shipments(
    State(local): State<Local>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    let before = page.cursor::<i64>()?;
    let found = local.carrier.recent_shipments(page.limit, before).await.map_err(unavailable)?;
    let next = (found.len() == page.limit).then(|| found.last().map(|(seq, _)| seq.to_string())).flatten();
    let shipments: Vec<_> = found.into_iter().map(|(_, shipment)| shipment).collect();
    Ok(Json(serde_json::json!({"shipments": shipments, "nextCursor": next})).into_response())
}

/// How many entries a `/_local` listing returns when not told.
const DEFAULT_PAGE: usize = 100;
/// The most entries a `/_local` listing returns at once.
pub const MAX_PAGE: usize = 1000;

/// `?limit=` and `?before=` of a listing.
struct Page {
    limit: usize,
    before: Option<String>,
}

impl Page {
    fn parse(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let limit = match query.get("limit") {
            None => DEFAULT_PAGE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| invalid("limit", "must be a whole number from 1 to 1000"))?,
        };
        Ok(Self { limit, before: query.get("before").cloned() })
    }

    /// `?before=` as the listing's own cursor type, if given.
    fn cursor<T: std::str::FromStr>(&self) -> Result<Option<T>, ApiError> {
        self.before
            .as_deref()
            .map(|raw| raw.parse().map_err(|_| invalid("before", "is not a cursor from a previous page")))
            .transpose()
    }
}

fn invalid(parameter: &str, detail: &str) -> ApiError {
    ApiError::InvalidParameters(vec![InvalidParam::parameter(parameter, detail)])
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmailView {
    key: String,
    order_id: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    file: String,
}

/// The emails in the outbox folder, newest first, a page at a time (`?limit=`, at most
/// [`MAX_PAGE`]; `?before=` the `nextCursor` of the previous page).
async fn emails(
    State(local): State<Local>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    let before = page.cursor::<EmailPosition>()?;
    let sent = local.mailer.recent(page.limit, before).await.map_err(unavailable)?;
    let next = (sent.len() == page.limit).then(|| sent.last().map(|(position, _)| position.to_string())).flatten();
    let emails: Vec<EmailView> = sent
        .into_iter()
        .map(|(_, email)| EmailView {
            key: email.key,
            order_id: email.order_id,
            to: email.to,
            subject: email.subject,
            file: email.path.display().to_string(),
        })
        .collect();
    Ok(Json(serde_json::json!({"emails": emails, "nextCursor": next})).into_response())
}

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

/// A document behind a signed, expiring link: `403` when the signature is wrong or expired.
async fn blob(
    State(local): State<Local>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
) -> Result<Response, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    local.blobs.verify(&key, signed.expires, &signed.signature, now).map_err(|e| ApiError::Forbidden(e.to_string()))?;
    let bytes = local.blobs.get(&key).await.map_err(unavailable)?.ok_or(ApiError::NotFound("document"))?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type_of(&key))], bytes).into_response())
}
