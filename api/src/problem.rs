//! The one place where failures become HTTP responses: RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`; each variant documents its status and its stable
//! problem `type`. Internal failures are logged with their whole cause chain and answered with a
//! body that reveals nothing of them.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderflow_domain::CauseChain;
use orderflow_domain::ports::{BoxError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input, located by a JSON pointer into the body, or by a query parameter or header
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvalidParam {
    /// RFC 6901 JSON pointer to the invalid member of the request body: `/items/0/quantity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The invalid query parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The invalid request header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// What is wrong with it.
    pub detail: String,
}

impl InvalidParam {
    pub fn at(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: Some(pointer.into()), parameter: None, header: None, detail: detail.into() }
    }

    pub fn parameter(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: None, parameter: Some(name.into()), header: None, detail: detail.into() }
    }

    pub fn header(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: None, parameter: None, header: Some(name.into()), detail: detail.into() }
    }
}

/// An RFC 9457 problem details document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A stable identifier of the kind of problem; clients branch on it, not on `title`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Each invalid input, for `validation` problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InvalidParam>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `malformed-json`: the body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400 `invalid-parameters`: a query parameter or header is wrong.
    #[error("invalid query parameters or headers")]
    InvalidParameters(Vec<InvalidParam>),
    /// 401 `unauthorized`: the request carries no identity the API accepts (no JWT claims from
    /// the gateway, or none naming a customer).
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `forbidden`: the caller may not act for this customer.
    #[error("the caller may not act for customer {0}")]
    Forbidden(String),
    /// 404 `not-found`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405 `method-not-allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `order-not-modifiable`: the order has shipped or was cancelled.
    #[error("{0}")]
    NotModifiable(String),
    /// 409 `price-would-change`: the new address changes tax or shipping.
    #[error("{0}")]
    PriceWouldChange(String),
    /// 412 `precondition-failed`: `If-Match` names an old version.
    #[error("the order has changed since the version in If-Match")]
    PreconditionFailed,
    /// 413 `payload-too-large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported-media-type`.
    #[error("the request body must be {0}")]
    UnsupportedMediaType(&'static str),
    /// 422 `validation`: the body is JSON but some fields are invalid.
    #[error("some fields are invalid")]
    Validation(Vec<InvalidParam>),
    /// 422 `idempotency-key-reused`: the key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request (order {0})")]
    IdempotencyKeyReused(String),
    /// 428 `precondition-required`: `If-Match` is missing.
    #[error("this request needs an If-Match header with the order's ETag")]
    PreconditionRequired,
    /// 503 `service-unavailable`: a backing service failed; the request may be retried.
    #[error("a backing service is unavailable")]
    Unavailable(#[source] BoxError),
    /// 500 `internal`: a bug.
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// Any other error status, answered by a layer rather than a handler (a timeout, say):
    /// `about:blank`, which RFC 9457 §4.2.1 means as "the status code says it all".
    #[error("{1}")]
    Other(StatusCode, String),
}

/// The order store's errors, as every handler answers them.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("order"),
            StoreError::VersionConflict { .. } => Self::PreconditionFailed,
            StoreError::IdempotencyKeyReused { existing } => Self::IdempotencyKeyReused(existing.to_string()),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

impl ApiError {
    pub fn validation_at(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation(vec![InvalidParam::at(pointer, detail)])
    }

    fn status_and_type(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "The request body is not valid JSON"),
            Self::InvalidParameters(_) => {
                (StatusCode::BAD_REQUEST, "invalid-parameters", "Invalid query parameters or headers")
            }
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            Self::NotModifiable(_) => {
                (StatusCode::CONFLICT, "order-not-modifiable", "The order can no longer be changed")
            }
            Self::PriceWouldChange(_) => {
                (StatusCode::CONFLICT, "price-would-change", "The change would alter the price")
            }
            Self::PreconditionFailed => {
                (StatusCode::PRECONDITION_FAILED, "precondition-failed", "The order has changed")
            }
            Self::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The request body is too large")
            }
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "Your request is not valid"),
            Self::IdempotencyKeyReused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with another request",
            ),
            Self::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition-required", "If-Match is required")
            }
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "service-unavailable", "Service unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            Self::Other(status, _) => (*status, "", status.canonical_reason().unwrap_or("Error")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.status_and_type();
        let detail = match &self {
            Self::Unavailable(_) | Self::Internal(_) => {
                tracing::error!(error = %CauseChain(&self), "request failed");
                None
            }
            Self::Other(status, text) if status.is_server_error() => {
                tracing::error!(status = status.as_u16(), error = %text, "request failed");
                None
            }
            Self::Other(_, text) if text.is_empty() => None,
            Self::Validation(_) | Self::InvalidParameters(_) => Some(self.to_string()),
            other => Some(other.to_string()),
        };
        let errors = match self {
            Self::Validation(errors) | Self::InvalidParameters(errors) => errors,
            _ => Vec::new(),
        };
        let problem = Problem {
            problem_type: if slug.is_empty() { "about:blank".to_owned() } else { format!("/problems/{slug}") },
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if matches!(status, StatusCode::UNAUTHORIZED) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(status, StatusCode::SERVICE_UNAVAILABLE) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Whether `headers` describe a problem document.
/// The media type of `/health`'s report (the IETF health-check format), which a load balancer
/// reads whatever its status.
pub const HEALTH_JSON: &str = "application/health+json";

/// Whether the response is already a problem document, or a health report, which answers `503`
/// by design and is no error to rewrite.
fn is_problem(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|essence| {
            let essence = essence.trim();
            essence.eq_ignore_ascii_case("application/problem+json") || essence.eq_ignore_ascii_case(HEALTH_JSON)
        })
    })
}

/// The most text of a rejection's body read to describe it.
const REJECTION_TEXT_BYTES: usize = 4 * 1024;

/// Makes every error answer a problem document, whoever made it: a 4xx or 5xx response whose
/// body is not `application/problem+json` (one of axum's own rejections, a layer's 408 or 413)
/// becomes the problem of its status, keeping its status and its headers (`Allow`,
/// `Retry-After`). Handlers still answer with a typed [`ApiError`] where they can name what is
/// wrong; this is the net under them.
///
/// Use it as the outermost layer of every router:
/// `.layer(axum::middleware::map_response(problem::ensure_problem))`.
pub async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::BAD_REQUEST if text.starts_with("Failed to deserialize query string") => {
            ApiError::InvalidParameters(vec![crate::extract::invalid_query(&text)])
        }
        StatusCode::BAD_REQUEST => ApiError::InvalidParameters(vec![InvalidParam {
            pointer: None,
            parameter: None,
            header: None,
            detail: if text.is_empty() { "the request is malformed".to_owned() } else { text },
        }]),
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(text),
        StatusCode::NOT_FOUND => ApiError::NotFound("resource"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PRECONDITION_FAILED => ApiError::PreconditionFailed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(crate::extract::MAX_BODY_BYTES),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType("application/json"),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::Validation(vec![InvalidParam { pointer: None, parameter: None, header: None, detail: text }])
        }
        StatusCode::PRECONDITION_REQUIRED => ApiError::PreconditionRequired,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(text.into()),
        StatusCode::INTERNAL_SERVER_ERROR => ApiError::Internal(text.into()),
        other => ApiError::Other(other, text),
    };
    let mut problem = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    // The problem's own headers win only where the original had none (its `Retry-After` stays).
    for (name, value) in problem.headers() {
        if name == header::CONTENT_TYPE || !parts.headers.contains_key(name) {
            parts.headers.insert(name.clone(), value.clone());
        }
    }
    *problem.headers_mut() = parts.headers;
    problem
}

/// What each problem `type` means, served at `GET /problems/{slug}` so a `type` URI resolves.
pub fn describe(slug: &str) -> Option<&'static str> {
    Some(match slug {
        "malformed-json" => "The request body could not be parsed as JSON. Fix the syntax and send it again.",
        "invalid-parameters" => "A query parameter or header is invalid; `errors` names each one.",
        "unauthorized" => "The request carries no identity: send a valid bearer token naming a customer.",
        "forbidden" => "The authenticated caller may not act for the customer named in the request.",
        "not-found" => "There is no such resource, or it belongs to another customer.",
        "method-not-allowed" => "The resource does not support this HTTP method.",
        "order-not-modifiable" => "The order has shipped or was cancelled; it can no longer be changed or cancelled.",
        "price-would-change" => {
            "The change (usually a new shipping address) would alter tax or shipping. Cancel the order and place a new one."
        }
        "precondition-failed" => "The order changed since you read it. GET it again and retry with the new ETag.",
        "payload-too-large" => "The request body is larger than 64 KiB.",
        "unsupported-media-type" => "Send the body as application/json (or application/merge-patch+json for PATCH).",
        "validation" => "The body is JSON but some fields are invalid; `errors` lists each with a JSON pointer.",
        "idempotency-key-reused" => {
            "The Idempotency-Key was already used with a different request body. Use a new key."
        }
        "precondition-required" => "Send If-Match with the ETag from your last GET of the order.",
        "service-unavailable" => "A backing service failed. Nothing was changed; retry after Retry-After seconds.",
        "internal" => "An unexpected error. It has been logged.",
        _ => return None,
    })
}
