//! `/api/v0/orders`: place, read, list, change and cancel orders.

pub mod request;
pub mod view;

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orderflow_domain::CauseChain;
use orderflow_domain::customer::{CustomerId, EmailAddress};
use orderflow_domain::idempotency::RequestFingerprint;
use orderflow_domain::order::{CancellationRequest, Order, OrderId, OrderStatus};
use orderflow_domain::ports::{NewOrder, OrderQuery, Placement};
use orderflow_domain::pricing::{Pricer, PricingError};
use serde::Deserialize;
use utoipa::IntoParams;

use self::request::{AddressInput, Errors, OrderPatch, PlaceOrder};
use self::view::{DocumentLinks, OrderList, OrderSummary, OrderView};
use crate::AppState;
use crate::auth::Caller;
use crate::extract::{IfMatch, JsonBody, LimitedBody, MaybeIdempotencyKey, PathParam, QueryParams, etag, parse_json};
use crate::problem::{ApiError, InvalidParam, Problem};

const TAG: &str = "orders";

fn pricing_error(error: PricingError) -> ApiError {
    match error {
        PricingError::UnknownSkus(unknown) => ApiError::Validation(
            unknown
                .into_iter()
                .map(|(line, sku)| {
                    InvalidParam::at(format!("/items/{line}/sku"), format!("`{sku}` is not in the catalog"))
                })
                .collect(),
        ),
        PricingError::Promotion(error) => ApiError::validation_at("/promoCode", error.to_string()),
        PricingError::Overflow(_) => ApiError::validation_at("/items", "the order's amounts are too large to compute"),
    }
}

/// An order response for `caller`: the view, its `ETag`, and the given status.
async fn order_response(state: &AppState, caller: &Caller, status: StatusCode, order: &Order) -> Response {
    let links = DocumentLinks {
        invoice: link(state, order.invoice.as_ref().map(|invoice| invoice.document_key.as_str())).await,
        label: link(state, order.shipment.as_ref().map(|shipment| shipment.label_key.as_str())).await,
        trace: matches!(caller, Caller::Operator).then(|| state.executions.trace_link(&order.id)).flatten(),
    };
    let mut response = (status, Json(OrderView::of(order, links))).into_response();
    response.headers_mut().insert(ETAG, etag(order.version));
    response
}

/// A short-lived link to the document at `key`. A link that cannot be signed leaves the order
/// readable without it: the order matters more than its PDF.
async fn link(state: &AppState, key: Option<&str>) -> Option<String> {
    match state.documents.link(key?, state.link_ttl).await {
        Ok(link) => Some(link),
        Err(error) => {
            tracing::warn!(key, error = %CauseChain(&error), "cannot sign a document link; the order is shown without it");
            None
        }
    }
}

/// Loads an order the caller may see; another customer's order is "not found", not "forbidden",
/// so ids cannot be probed.
pub(crate) async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Order, ApiError> {
    let id = OrderId::parse(id).map_err(|_| ApiError::NotFound("order"))?;
    match state.orders.get(&id).await? {
        Some(order) if caller.may_act_for(&order.customer.id) => Ok(order),
        _ => Err(ApiError::NotFound("order")),
    }
}

/// Place an order.
///
/// The cart is priced from the catalog, the order stored as `pending` with its workflow queued,
/// durably, before the answer. Send an `Idempotency-Key` to make retries safe: the same key with
/// the same body returns the same order (with `Idempotent-Replayed: true`); with a different
/// body it is refused.
#[utoipa::path(
    post,
    path = "/api/v0/orders",
    tag = TAG,
    request_body = PlaceOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe; 1 to 255 visible ASCII characters",
        max_length = 255, pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 202, description = "Accepted: stored, with its workflow queued to start", body = OrderView,
            headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Malformed JSON or an invalid header", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not order for this customer", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or an Idempotency-Key reused for another request", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    MaybeIdempotencyKey(key): MaybeIdempotencyKey,
    JsonBody(body): JsonBody<PlaceOrder>,
) -> Result<Response, ApiError> {
    let request = body.parse().map_err(ApiError::Validation)?;
    if !caller.may_act_for(&request.customer.id) {
        return Err(ApiError::Forbidden(request.customer.id.to_string()));
    }
    let idempotency = key.map(|key| (key, RequestFingerprint::of(&request)));
    // A retry is answered with the order it made before anything is priced: the promotion may
    // have expired or a product left the catalog since, and the first order stands regardless.
    if let Some((key, fingerprint)) = &idempotency
        && let Some(earlier) = state.orders.placed_under(&request.customer.id, key).await?
    {
        if earlier.fingerprint != *fingerprint {
            return Err(ApiError::IdempotencyKeyReused(earlier.order.id.to_string()));
        }
        return placed_response(&state, &caller, &earlier.order, true).await;
    }

    let now = state.clock.now();
    let quote = state
        .pricer()
        .quote(&request.cart, &request.shipping_address, request.promo_code.as_ref(), now)
        .map_err(pricing_error)?;
    let order = Order::place(state.next_order_id(), request, quote, now);

    // Two first requests with one key can race past the read above: `place` checks the key
    // again, atomically with the insert.
    match state.orders.place(NewOrder { order, idempotency }).await? {
        Placement::Created(order) => {
            tracing::info!(order_id = %order.id, total = %order.pricing.total, "order placed");
            start_workflow(&state, &order.id).await;
            placed_response(&state, &caller, &order, false).await
        }
        Placement::Replayed(order) => placed_response(&state, &caller, &order, true).await,
    }
}

/// Starts the workflow of an order just stored. The order is already durable with its outbox
/// entry, so a start that fails (or a request dropped before it) loses nothing: the sweeper
/// starts the order later. Hence the `202` either way.
async fn start_workflow(state: &AppState, order: &OrderId) {
    let Some(workflows) = &state.workflows else { return };
    if let Err(error) = workflows.start(order).await {
        tracing::warn!(order_id = %order, error = %CauseChain(error.as_ref()), "cannot start the order's workflow yet; the sweeper will");
        return;
    }
    if let Err(error) = state.outbox.mark_started(std::slice::from_ref(order)).await {
        tracing::warn!(order_id = %order, error = %CauseChain(&error), "cannot mark the workflow started; the sweeper will start it again");
    }
}

/// The `202` of a placed order, with its `Location`; `Idempotent-Replayed: true` when it was
/// placed by an earlier request with the same key.
async fn placed_response(
    state: &AppState,
    caller: &Caller,
    order: &Order,
    replayed: bool,
) -> Result<Response, ApiError> {
    let mut response = order_response(state, caller, StatusCode::ACCEPTED, order).await;
    let location =
        HeaderValue::from_str(&format!("/api/v0/orders/{}", order.id)).map_err(|e| ApiError::Internal(e.into()))?;
    response.headers_mut().insert(LOCATION, location);
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Get an order: its status, lines, pricing, documents, shipment and history.
#[utoipa::path(
    get,
    path = "/api/v0/orders/{id}",
    tag = TAG,
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order", body = OrderView, headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 404, description = "No such order, or another customer's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let order = load(&state, &caller, &id).await?;
    let current = etag(order.version);
    let unchanged = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == current || tag.trim() == "*");
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, current)]).into_response());
    }
    Ok(order_response(&state, &caller, StatusCode::OK, &order).await)
}

/// The query of `GET /api/v0/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this customer's orders.
    pub customer_id: Option<String>,
    /// Only orders with this status.
    pub status: Option<String>,
    /// 1 to 100; 20 when absent.
    pub limit: Option<String>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

fn encode_cursor(before: &OrderId) -> String {
    URL_SAFE_NO_PAD.encode(before.as_str())
}

fn decode_cursor(cursor: &str) -> Option<OrderId> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    OrderId::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

/// List orders, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v0/orders",
    tag = TAG,
    params(ListParams),
    responses(
        (status = 200, description = "A page of orders, newest first", body = OrderList),
        (status = 400, description = "An invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not list this customer's orders", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Response, ApiError> {
    let mut invalid = Vec::new();
    let mut customer = params.customer_id.as_deref().and_then(|raw| {
        CustomerId::parse(raw).map_err(|e| invalid.push(InvalidParam::parameter("customerId", e.reason()))).ok()
    });
    if let Caller::Customer(own) = &caller {
        match &customer {
            Some(asked) if asked != own => return Err(ApiError::Forbidden(asked.to_string())),
            _ => customer = Some(own.clone()),
        }
    }
    let status = params.status.as_deref().and_then(|raw| {
        raw.parse::<OrderStatus>().map_err(|e| invalid.push(InvalidParam::parameter("status", e.reason()))).ok()
    });
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => 20,
        Some(Ok(limit @ 1..=100)) => limit,
        Some(_) => {
            invalid.push(InvalidParam::parameter("limit", "must be a whole number from 1 to 100"));
            20
        }
    };
    let before = params.cursor.as_deref().and_then(|raw| {
        decode_cursor(raw).or_else(|| {
            invalid.push(InvalidParam::parameter("cursor", "is not a cursor this API returned"));
            None
        })
    });
    if !invalid.is_empty() {
        return Err(ApiError::InvalidParameters(invalid));
    }

    let page = state.orders.list(&OrderQuery { customer, status, before, limit }).await?;
    let next_cursor = page.next.as_ref().map(encode_cursor);
    let mut response = Json(OrderList {
        orders: page.orders.iter().map(OrderSummary::of).collect(),
        next_cursor: next_cursor.clone(),
    })
    .into_response();
    if let Some(cursor) = next_cursor {
        let mut next = format!("/api/v0/orders?limit={limit}&cursor={cursor}");
        if let Some(customer) = &params.customer_id {
            let _ = write!(next, "&customerId={customer}");
        }
        if let Some(status) = status {
            let _ = write!(next, "&status={status}");
        }
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(LINK, link);
        }
    }
    Ok(response)
}

/// Applies an RFC 7396 merge patch of scalar members to `target`.
fn merge(target: &mut serde_json::Map<String, serde_json::Value>, patch: serde_json::Map<String, serde_json::Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.remove(&key);
        } else {
            target.insert(key, value);
        }
    }
}

/// Change the shipping address or email of an order that has not shipped.
///
/// The body is a JSON Merge Patch (RFC 7396) of `shippingAddress` members and
/// `customer.email`. `If-Match` with the order's ETag is required. A new address that would
/// change tax or shipping is refused: cancel and order again.
#[utoipa::path(
    patch,
    path = "/api/v0/orders/{id}",
    tag = TAG,
    params(
        ("id" = String, Path, description = "The order id"),
        ("If-Match" = String, Header, description = "The ETag of the order as last read"),
    ),
    request_body(content = OrderPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed order", body = OrderView, headers(("ETag" = String))),
        (status = 400, description = "A malformed If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or another customer's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Shipped or cancelled, or the price would change", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "The order changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/merge-patch+json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid email or address, or an unknown member", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_order(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    if_match: IfMatch,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Result<Response, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/merge-patch+json")
        && !essence.eq_ignore_ascii_case("application/json")
    {
        return Err(ApiError::UnsupportedMediaType("application/merge-patch+json"));
    }
    if matches!(if_match, IfMatch::Absent) {
        return Err(ApiError::PreconditionRequired);
    }
    let patch: OrderPatch = parse_json(&body)?;

    let mut order = load(&state, &caller, &id).await?;
    if !if_match.matches(order.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let now = state.clock.now();
    let not_modifiable = |e: orderflow_domain::order::NoLongerModifiable| ApiError::NotModifiable(e.to_string());

    let mut errors = Errors::default();
    let email =
        patch.customer.and_then(|c| c.email).and_then(|raw| errors.check("/customer/email", EmailAddress::parse(&raw)));
    let address = match patch.shipping_address {
        None => None,
        Some(members) => {
            let serde_json::Value::Object(mut current) =
                serde_json::to_value(AddressInput::from(&order.shipping_address))
                    .map_err(|e| ApiError::Internal(e.into()))?
            else {
                return Err(ApiError::Internal("an address did not serialize to an object".into()));
            };
            merge(&mut current, members);
            let merged: AddressInput = parse_json(
                &serde_json::to_vec(&current).map_err(|e| ApiError::Internal(e.into()))?,
            )
            .map_err(|error| match error {
                ApiError::Validation(errors) => ApiError::Validation(
                    errors
                        .into_iter()
                        .map(|e| {
                            InvalidParam::at(format!("/shippingAddress{}", e.pointer.unwrap_or_default()), e.detail)
                        })
                        .collect(),
                ),
                other => other,
            })?;
            merged.parse("/shippingAddress", &mut errors)
        }
    };
    if !errors.0.is_empty() {
        return Err(ApiError::Validation(errors.0));
    }

    if let Some(address) = address {
        let cart =
            order.lines.iter().map(|l| orderflow_domain::cart::CartLine { sku: l.sku.clone(), quantity: l.quantity });
        let cart = orderflow_domain::cart::Cart::new(cart.collect()).map_err(|e| ApiError::Internal(e.into()))?;
        // Priced as of the order's creation, so a promotion that has expired since still holds.
        let requote = state.pricer().quote(&cart, &address, order.promo_code.as_ref(), order.created_at);
        match requote {
            Ok(quote) if quote.pricing == order.pricing => {}
            _ => {
                return Err(ApiError::PriceWouldChange(
                    "the new address changes tax or shipping; cancel the order and place a new one".to_owned(),
                ));
            }
        }
        order.change_shipping_address(address, now).map_err(not_modifiable)?;
    }
    if let Some(email) = email {
        order.change_email(email, now).map_err(not_modifiable)?;
    }
    let saved = state.orders.save(&order).await?;
    Ok(order_response(&state, &caller, StatusCode::OK, &saved).await)
}

/// Ask to cancel an order.
///
/// Allowed until the order ships: the order's next step stops it and undoes what was done
/// (refund, stock released, invoice voided), so the answer is `202`; follow the order to see it
/// become `cancelled`. `If-Match` is optional.
#[utoipa::path(
    delete,
    path = "/api/v0/orders/{id}",
    tag = TAG,
    params(
        ("id" = String, Path, description = "The order id"),
        ("If-Match" = Option<String>, Header, description = "Cancel only if the order is still at this ETag"),
    ),
    responses(
        (status = 202, description = "Cancellation requested (or already requested)", body = OrderView),
        (status = 400, description = "A malformed If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or another customer's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order has shipped", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The order changed since that ETag", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    let id = OrderId::parse(&id).map_err(|_| ApiError::NotFound("order"))?;
    let now = state.clock.now();
    // A step of the workflow may write between our read and our write: the update reads again,
    // and the ETag and the caller are checked on every copy it reads.
    let order = state
        .orders
        .update(&id, |order| {
            if !caller.may_act_for(&order.customer.id) {
                return Err(ApiError::NotFound("order"));
            }
            if !if_match.matches(order.version) {
                return Err(ApiError::PreconditionFailed);
            }
            let request = order.request_cancellation(now).map_err(|e| ApiError::NotModifiable(e.to_string()))?;
            Ok(request != CancellationRequest::AlreadyRequested)
        })
        .await?;
    Ok(order_response(&state, &caller, StatusCode::ACCEPTED, &order).await)
}

impl AppState {
    fn pricer(&self) -> Pricer<'_> {
        Pricer { catalog: &self.catalog, tax: self.tax.as_ref(), shipping: &self.shipping }
    }
}
