//! `/_local/console`: the local twin of the Step Functions console, for people who would
//! rather look than read JSON. Server-rendered HTML, loopback only like the rest of `/_local`.
//!
//! - `/_local/console`: the orders, newest first, filtered by status and customer, kept up to
//!   date while orders move.
//! - `/_local/console/orders/{id}`: one order: its facts, its execution drawn on the graph of the
//!   machine that runs it with the event table below, and what the partners did for it.
//! - `/_local/console/machines/order`: the order machine's graph alone.
//!
//! # Layout
//!
//! - [`graph`]: a state machine's states and transitions, laid out by `layout-rs`.
//! - [`trace`]: what an execution did in each state, from its history.
//! - [`pages`]: the HTML (maud, which escapes every value), with its stylesheet and the small
//!   script that refreshes live parts of a page and marks the selected state.

pub mod graph;
pub mod pages;
pub mod trace;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use asl_engine::{Engine, EngineError};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use mail_parser::{MessageParser, MimeHeaders};
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_api::problem::ApiError;
use orderflow_domain::customer::CustomerId;
use orderflow_domain::order::{OrderId, OrderStatus};
use orderflow_domain::ports::{BlobStore, OrderQuery, OrderStore};
use serde::Deserialize;

use crate::Runtime;
use crate::local_routes::loopback_only;
use graph::MachineGraph;
use pages::{Email, OrderPage, Partners};
use trace::Trace;

/// How long the document links the console shows work: long enough to read a page.
const LINK_TTL: std::time::Duration = std::time::Duration::from_hours(1);
/// How many orders the list shows.
const LIST_LIMIT: usize = 100;

/// What the console reads: the stores of the runtime, never its own copy of anything.
#[derive(Debug, Clone)]
struct Console {
    orders: Arc<dyn OrderStore>,
    engine: Engine,
    payments: PaymentSimulator,
    carrier: CarrierSimulator,
    blobs: FsBlobStore,
    mailer: EmlOutbox,
    /// The graph of each machine the engine runs, laid out once: a layout depends on the
    /// definition only.
    machines: Arc<HashMap<String, Arc<MachineGraph>>>,
}

/// The console's routes, for loopback peers only.
pub fn router(runtime: &Runtime) -> anyhow::Result<Router> {
    let order_machine = MachineGraph::from_definition(crate::saga::ORDER_STATE_MACHINE)
        .context("cannot draw the order state machine")?;
    let console = Console {
        orders: Arc::clone(&runtime.state.orders),
        engine: runtime.engine.clone(),
        payments: runtime.payments.clone(),
        carrier: runtime.carrier.clone(),
        blobs: runtime.blobs.clone(),
        mailer: runtime.mailer.clone(),
        machines: Arc::new(HashMap::from([(crate::saga::MACHINE.to_owned(), Arc::new(order_machine))])),
    };
    Ok(Router::new()
        .route("/_local/console", get(orders))
        .route("/_local/console/orders/{id}", get(order))
        .route("/_local/console/machines/{name}", get(machine))
        .route("/_local/console/attachment", get(attachment))
        .route_layer(middleware::from_fn(loopback_only))
        .with_state(console))
}

/// The page that draws the state machine `source` (ASL JSON) on its own, titled `title`: what
/// `/_local/console/machines/{name}` serves, for any machine.
pub fn machine_page(title: &str, source: &str) -> anyhow::Result<String> {
    let graph = MachineGraph::from_definition(source)?;
    Ok(pages::machine(title, &graph).into_string())
}

fn unavailable(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    ApiError::Unavailable(error.into())
}

#[derive(Debug, Deserialize)]
struct ListFilter {
    status: Option<String>,
    customer: Option<String>,
}

/// The orders, newest first.
async fn orders(State(console): State<Console>, Query(filter): Query<ListFilter>) -> Result<Response, ApiError> {
    let status = filter.status.as_deref().filter(|s| !s.is_empty());
    let customer = filter.customer.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let query = OrderQuery {
        status: status.and_then(|s| s.parse::<OrderStatus>().ok()),
        customer: customer.and_then(|c| CustomerId::parse(c).ok()),
        before: None,
        limit: LIST_LIMIT,
    };
    // A filter that names no status or customer there can be matches nothing.
    let impossible = (status.is_some() && query.status.is_none()) || (customer.is_some() && query.customer.is_none());
    let found = if impossible { Vec::new() } else { console.orders.list(&query).await.map_err(unavailable)?.orders };
    let now = time::OffsetDateTime::now_utc();
    Ok(Html(pages::orders(&found, status, customer, now).into_string()).into_response())
}

/// One order: facts, execution, partners.
async fn order(State(console): State<Console>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = OrderId::parse(&id).map_err(|_| ApiError::NotFound("order"))?;
    let order = console.orders.get(&id).await.map_err(unavailable)?.ok_or(ApiError::NotFound("order"))?;

    let execution = match console.engine.describe(id.as_str()).await {
        Ok(description) => {
            let events = console.engine.history(id.as_str()).await.map_err(unavailable)?;
            let graph = console.machines.get(&description.machine).cloned();
            let current = description.current_state.as_deref();
            let trace = graph.as_ref().map(|graph| Trace::follow(graph, &events, description.status, current));
            Some(pages::Execution { description, events, graph, trace })
        }
        Err(EngineError::UnknownExecution(_)) => None,
        Err(error) => return Err(unavailable(error)),
    };

    let charges = console.payments.ledger_of(&id).await.map_err(unavailable)?.charges;
    let shipments = console
        .carrier
        .shipments()
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|shipment| shipment.order_id == id)
        .collect();
    let emails = emails_of(&console.mailer, &id).await.map_err(unavailable)?;
    let invoice = order.invoice.as_ref();
    let documents = pages::Documents {
        invoice: link(&console.blobs, invoice.map(|invoice| invoice.document_key.as_str()))
            .await?
            .zip(invoice.map(|invoice| invoice.number.clone()))
            .map(|(link, number)| (number, link)),
        credit_note: link(&console.blobs, invoice.and_then(|invoice| invoice.credit_note_key.as_deref())).await?,
        label: link(&console.blobs, order.shipment.as_ref().map(|shipment| shipment.label_key.as_str())).await?,
    };
    let page = OrderPage {
        order: &order,
        execution: execution.as_ref(),
        partners: Partners { charges, shipments, emails, documents },
        now: time::OffsetDateTime::now_utc(),
    };
    Ok(Html(pages::order(&page).into_string()).into_response())
}

/// A signed link to the document at `key`, if there is one.
async fn link(blobs: &FsBlobStore, key: Option<&str>) -> Result<Option<String>, ApiError> {
    match key {
        Some(key) => Ok(Some(blobs.link(key, LINK_TTL).await.map_err(unavailable)?)),
        None => Ok(None),
    }
}

/// The emails sent about `order`, oldest first, parsed as a mail client would.
async fn emails_of(mailer: &EmlOutbox, order: &OrderId) -> std::io::Result<Vec<Email>> {
    let mut emails = Vec::new();
    for sent in mailer.sent().await?.into_iter().filter(|sent| sent.order_id.as_deref() == Some(order.as_str())) {
        let Some(bytes) = mailer.message(&sent.key).await? else { continue };
        let Some(message) = MessageParser::default().parse(&bytes) else { continue };
        emails.push(Email {
            key: sent.key.clone(),
            to: sent.to.clone(),
            subject: message.subject().map(str::to_owned),
            html: message.body_html(0).map(std::borrow::Cow::into_owned),
            text: message.body_text(0).map(std::borrow::Cow::into_owned),
            attachments: message
                .attachments()
                .map(|part| {
                    let name = part.attachment_name().unwrap_or("attachment").to_owned();
                    (name, part.contents().len())
                })
                .collect(),
        });
    }
    Ok(emails)
}

#[derive(Debug, Deserialize)]
struct AttachmentOf {
    /// The key the email was sent under.
    email: String,
    /// Which attachment, from 0.
    index: u32,
}

/// An attachment of an email, as the customer would open it. Served as a download in a
/// sandbox: whatever it holds cannot run as the console.
async fn attachment(State(console): State<Console>, Query(of): Query<AttachmentOf>) -> Result<Response, ApiError> {
    let bytes = console.mailer.message(&of.email).await.map_err(unavailable)?.ok_or(ApiError::NotFound("email"))?;
    let message = MessageParser::default().parse(&bytes).ok_or(ApiError::NotFound("email"))?;
    let part = message.attachment(of.index).ok_or(ApiError::NotFound("attachment"))?;
    let content_type = part.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        |ct| match ct.subtype() {
            Some(subtype) => format!("{}/{subtype}", ct.ctype()),
            None => ct.ctype().to_owned(),
        },
    );
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    Ok((StatusCode::OK, headers, part.contents().to_vec()).into_response())
}

/// A machine's graph on its own.
async fn machine(State(console): State<Console>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let graph = console.machines.get(&name).ok_or(ApiError::NotFound("state machine"))?;
    Ok(Html(pages::machine(&name, graph).into_string()).into_response())
}
