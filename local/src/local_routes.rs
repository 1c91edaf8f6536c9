//! `/_local/...`: what only the local runtime has. The simulators' ledgers, so a person can see
//! what moved, and the local twin of S3 presigned URLs.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orderflow_adapters_local::blobs::content_type_of;
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_api::problem::ApiError;
use orderflow_domain::ports::BlobStore;
use serde::{Deserialize, Serialize};

use crate::Runtime;

#[derive(Debug, Clone)]
struct Local {
    payments: PaymentSimulator,
    carrier: CarrierSimulator,
    blobs: FsBlobStore,
    mailer: EmlOutbox,
}

/// The local routes of `runtime`.
pub fn router(runtime: &Runtime) -> Router {
    Router::new()
        .route("/_local/payments", get(payments))
        .route("/_local/shipments", get(shipments))
        .route("/_local/emails", get(emails))
        .route("/_local/blobs/{*key}", get(blob))
        .with_state(Local {
            payments: runtime.payments.clone(),
            carrier: runtime.carrier.clone(),
            blobs: runtime.blobs.clone(),
            mailer: runtime.mailer.clone(),
        })
        .layer(axum::middleware::map_response(orderflow_api::problem::ensure_problem))
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Unavailable(Box::new(error))
}

/// Every charge the payment simulator made or declined, with its refunds.
async fn payments(State(local): State<Local>) -> Result<Response, ApiError> {
    Ok(Json(local.payments.ledger().await.map_err(unavailable)?).into_response())
}

/// Every label the carrier simulator sold.
async fn shipments(State(local): State<Local>) -> Result<Response, ApiError> {
    Ok(Json(serde_json::json!({"shipments": local.carrier.shipments().await.map_err(unavailable)?})).into_response())
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

/// Every email in the outbox folder.
async fn emails(State(local): State<Local>) -> Result<Response, ApiError> {
    let sent = local.mailer.sent().await.map_err(unavailable)?;
    let emails: Vec<EmailView> = sent
        .into_iter()
        .map(|email| EmailView {
            key: email.key,
            order_id: email.order_id,
            to: email.to,
            subject: email.subject,
            file: email.path.display().to_string(),
        })
        .collect();
    Ok(Json(serde_json::json!({"emails": emails})).into_response())
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
