//! The console's HTML. Every value goes through maud, which escapes it; an email's HTML is shown
//! only inside a sandboxed frame (`srcdoc`, no scripts, no same origin).

use std::sync::Arc;

use asl_engine::{ExecutionDescription, ExecutionStatus, HistoryEvent};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use orderflow_adapters_local::carrier::ShipmentRecord as Label;
use orderflow_adapters_local::payments::LedgerCharge;
use orderflow_domain::order::{Order, OrderStatus};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::graph::{MachineGraph, type_line};
use super::trace::{Outcome, Trace};

const STYLE: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

/// The statuses an order can have, for the filter.
const STATUSES: [OrderStatus; 6] = [
    OrderStatus::Pending,
    OrderStatus::Confirmed,
    OrderStatus::Invoiced,
    OrderStatus::Paid,
    OrderStatus::Shipped,
    OrderStatus::Cancelled,
];

/// An order's execution, with its machine's graph and what it did there.
#[derive(Debug)]
pub struct Execution {
    pub description: ExecutionDescription,
    pub events: Vec<HistoryEvent>,
    /// `None` for a machine the console cannot draw.
    pub graph: Option<Arc<MachineGraph>>,
    pub trace: Option<Trace>,
}

/// An email as its recipient sees it.
#[derive(Debug)]
pub struct Email {
    pub key: String,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    /// Each attachment's file name and size in bytes.
    pub attachments: Vec<(String, usize)>,
}

/// Links to the order's documents: the invoice (with its number), its credit note, the label.
#[derive(Debug)]
pub struct Documents {
    pub invoice: Option<(String, String)>,
    pub credit_note: Option<String>,
    pub label: Option<String>,
}

/// What the simulated partners did for an order.
#[derive(Debug)]
pub struct Partners {
    pub charges: Vec<LedgerCharge>,
    pub shipments: Vec<Label>,
    pub emails: Vec<Email>,
    pub documents: Documents,
}

/// Everything the page of one order shows.
#[derive(Debug)]
pub struct OrderPage<'a> {
    pub order: &'a Order,
    pub execution: Option<&'a Execution>,
    pub partners: Partners,
    pub now: OffsetDateTime,
}

fn page(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · orderflow console" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Console" {
                        a href="/_local/console" { "Orders" }
                        " "
                        a href="/_local/console/machines/order" { "Order state machine" }
                    }
                }
                (body)
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// A value's text as it serializes: a newtype's string, or the JSON of anything else.
fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// How long ago `then` was, roughly.
fn age(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let seconds = (now - then).whole_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// `US-CA 7.25 %`: parts per million as a percentage, without trailing zeros.
fn tax_rate(rate: &orderflow_domain::pricing::tax::TaxRate) -> String {
    let percent = format!("{}.{:04}", rate.parts_per_million / 10_000, rate.parts_per_million % 10_000);
    let percent = percent.trim_end_matches('0').trim_end_matches('.');
    format!("{} {percent} %", rate.jurisdiction)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The list of orders, newest first.
pub fn orders(orders: &[Order], status: Option<&str>, customer: Option<&str>, now: OffsetDateTime) -> Markup {
    let body = html! {
        main #main {
            h1 { "Orders" }
            form.filters method="get" action="/_local/console" {
                label { "Status "
                    select name="status" {
                        option value="" selected[status.is_none()] { "any" }
                        @for candidate in STATUSES {
                            option value=(candidate.as_str()) selected[status == Some(candidate.as_str())] { (candidate.as_str()) }
                        }
                    }
                }
                label { "Customer "
                    input type="text" name="customer" value=[customer] placeholder="cus_…" autocomplete="off";
                }
                button type="submit" { "Filter" }
            }
            p.hint { "Newest first; the list follows new orders and status changes as they happen." }
            div.scroll #orders data-live {
                table {
                    caption.visually-hidden { "Orders" }
                    thead { tr { th scope="col" { "Order" } th scope="col" { "Status" } th scope="col" { "Total" } th scope="col" { "Customer" } th scope="col" { "Placed" } } }
                    tbody {
                        @if orders.is_empty() {
                            tr { td colspan="5" { "No orders" (if status.is_some() || customer.is_some() { " match these filters" } else { " yet" }) "." } }
                        }
                        @for order in orders {
                            tr data-order=(order.id.as_str()) {
                                td { a href={ "/_local/console/orders/" (order.id.as_str()) } { code { (order.id.as_str()) } } }
                                td { (status_badge(order.status())) }
                                td.money { (order.pricing.total.to_string()) }
                                td { (text(&order.customer.name)) br; small { (text(&order.customer.id)) } }
                                td { time datetime=(timestamp(order.created_at)) { (age(order.created_at, now)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Orders", &body)
}

fn status_badge(status: OrderStatus) -> Markup {
    html! { span class={ "badge status-" (status.as_str()) } { (status.as_str()) } }
}

/// One order: its facts, its execution, and what the partners did.
pub fn order(page_data: &OrderPage<'_>) -> Markup {
    let order = page_data.order;
    let running = page_data.execution.is_none_or(|e| e.description.status == ExecutionStatus::Running);
    let body = html! {
        main #main data-live[running] {
            h1 { "Order " code { (order.id.as_str()) } }
            p.summary {
                (status_badge(order.status())) " "
                (order.pricing.total.to_string()) " · "
                (text(&order.customer.name)) " (" (text(&order.customer.id)) ") · placed "
                time datetime=(timestamp(order.created_at)) { (age(order.created_at, page_data.now)) }
            }
            (execution_section(page_data.execution))
            (facts(order))
            (partners(&page_data.partners))
        }
    };
    page(&format!("Order {}", order.id.as_str()), &body)
}

fn execution_section(execution: Option<&Execution>) -> Markup {
    let Some(execution) = execution else {
        return html! { section #execution { h2 { "Execution" } p { "No execution has started for this order yet." } } };
    };
    let description = &execution.description;
    html! {
        section #execution aria-labelledby="execution-title" {
            h2 #execution-title { "Execution" }
            p {
                "Execution " code { (description.name) } " of machine " code { (description.machine) } ": "
                strong class={ "execution-" (description.status.as_str().to_ascii_lowercase()) } { (description.status.as_str()) }
                @if let Some(current) = &description.current_state { " · now in " strong { (current) } }
                @if let Some(error) = &description.error { " with error " strong.failed-text { (error) } }
            }
            @if let Some(cause) = &description.cause { p.cause { "Cause: " (cause) } }
            @match (&execution.graph, &execution.trace) {
                (Some(graph), Some(trace)) => {
                    div.execution-view {
                        div.graph-column { (graph_svg(graph, Some(trace))) (legend()) }
                        (state_details(graph, trace))
                    }
                }
                _ => { p { "The console cannot draw machine " code { (description.machine) } "." } }
            }
            (event_table(&execution.events))
        }
    }
}

fn legend() -> Markup {
    html! {
        ul.legend aria-label="Legend" {
            li { span.swatch.succeeded {} "✓ succeeded" }
            li { span.swatch.failed {} "✗ failed (red, and says so)" }
            li { span.swatch.running {} "▶ running now" }
            li { span.swatch.not-entered {} "not entered (dashed)" }
            li { "Bold arrows: transitions taken. Dashed arrows: catches, branches and iterations." }
        }
    }
}

/// What a state's box says about it, besides its name.
fn status_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::NotEntered => "not entered".to_owned(),
        Outcome::Running => "▶ running now".to_owned(),
        Outcome::Succeeded => "✓ succeeded".to_owned(),
        Outcome::Failed { caught_by: Some(_) } => "✗ failed, caught".to_owned(),
        Outcome::Failed { caught_by: None } => "✗ failed".to_owned(),
    }
}

fn outcome_class(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::NotEntered => "not-entered",
        Outcome::Running => "running",
        Outcome::Succeeded => "succeeded",
        Outcome::Failed { .. } => "failed",
    }
}

fn retries_text(retries: u32) -> String {
    match retries {
        1 => "retried once".to_owned(),
        n => format!("retried {n}×"),
    }
}

/// The machine's graph as SVG; with a trace, each state says how it fared and the path taken
/// is drawn bold.
fn graph_svg(graph: &MachineGraph, trace: Option<&Trace>) -> Markup {
    let (x, y, width, height) = graph.view_box;
    html! {
        div.graph role="group" aria-label="State machine graph: select a state to see its input, output, error and cause" {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("{x:.0} {y:.0} {width:.0} {height:.0}"))
                width=(format!("{width:.0}")) height=(format!("{height:.0}")) {
                defs {
                    marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke";
                    }
                }
                @for route in &graph.routes {
                    @let edge = &graph.edges[route.edge];
                    @let taken = trace.is_some_and(|t| t.taken.contains(&route.edge));
                    path class={ "edge" @if taken { " taken" } @if edge.dashed() { " dashed" } }
                        d=(route.path) marker-end="url(#arrow)"
                        data-from=(graph.states[edge.from].name) data-to=(graph.states[edge.to].name) {
                            title { (graph.states[edge.from].name) " → " (graph.states[edge.to].name) ": " (edge.describe()) }
                        }
                }
                @for label in &graph.labels {
                    text.edge-label x=(format!("{:.1}", label.x)) y=(format!("{:.1}", label.y + 4.)) text-anchor="middle" { (label.text) }
                }
                @for (index, state) in graph.states.iter().enumerate() {
                    @let placed = graph.boxes[index];
                    @let outcome = trace.map_or(Outcome::NotEntered, |t| t.outcomes[index].clone());
                    @let retries = trace.map_or(0, |t| t.states[index].retries);
                    @let class = if trace.is_some() { outcome_class(&outcome) } else { "plain" };
                    @let second = if retries > 0 { format!("{} · {}", type_line(state), retries_text(retries)) } else { type_line(state) };
                    @let status = if trace.is_some() { status_line(&outcome) } else { String::new() };
                    @let cx = placed.x + placed.width / 2.;
                    a class={ "state " (class) } href={ "#state-" (index) } data-state=(state.name) data-type=(state.state_type)
                        data-outcome=(class) data-retries=(retries)
                        aria-label={ (state.name) ", " (second) @if !status.is_empty() { ", " (status) } } {
                        rect.box x=(format!("{:.1}", placed.x)) y=(format!("{:.1}", placed.y))
                            width=(format!("{:.1}", placed.width)) height=(format!("{:.1}", placed.height)) rx="6" {}
                        text x=(format!("{cx:.1}")) y=(format!("{:.1}", placed.y + 20.)) text-anchor="middle" {
                            tspan.name x=(format!("{cx:.1}")) { (state.name) }
                            tspan.kind x=(format!("{cx:.1}")) dy="17" { (second) }
                            @if !status.is_empty() { tspan.status x=(format!("{cx:.1}")) dy="17" { (status) } }
                        }
                    }
                }
            }
        }
    }
}

/// One panel per state, shown when the state is selected (the URL's fragment names it).
fn state_details(graph: &MachineGraph, trace: &Trace) -> Markup {
    html! {
        aside.details aria-label="Selected state" {
            p.hint #no-state { "Select a state in the graph (click it, or Tab to it and press Enter) to see its input, output, error and cause." }
            @for (index, state) in graph.states.iter().enumerate() {
                @let run = &trace.states[index];
                @let outcome = &trace.outcomes[index];
                section.state-detail id={ "state-" (index) } tabindex="-1" aria-label={ "State " (state.name) } {
                    h3 { (state.name) " " small { "(" (type_line(state)) ")" } }
                    dl {
                        dt { "Outcome" } dd class=(outcome_class(outcome)) {
                            (status_line(outcome))
                            @if let Outcome::Failed { caught_by: Some(target) } = outcome { " → went on to " strong { (target) } }
                        }
                        dt { "Entered" } dd { (run.entries) " time" @if run.entries != 1 { "s" } }
                        dt { "Retries" } dd { (run.retries) }
                        @if let Some(error) = &run.error { dt { "Error" } dd.failed-text.error { (error) } }
                        @if let Some(cause) = &run.cause { dt { "Cause" } dd.cause { (cause) } }
                    }
                    @if let Some(input) = &run.input { h4 { "Input" } pre.input { (pretty(input)) } }
                    @if let Some(output) = &run.output { h4 { "Output" } pre.output { (pretty(output)) } }
                    p { a href="#execution" { "Close" } }
                }
            }
        }
    }
}

fn event_table(events: &[HistoryEvent]) -> Markup {
    let started = events.first().map(|event| event.timestamp);
    html! {
        h3 #events { "Events (" (events.len()) ")" }
        div.scroll {
            table.events {
                thead { tr { th scope="col" { "ID" } th scope="col" { "Type" } th scope="col" { "State" } th scope="col" { "Elapsed" } th scope="col" { "Details" } } }
                tbody {
                    @for event in events {
                        @let elapsed = started.map_or(0., |start| (event.timestamp - start).as_seconds_f64() * 1000.);
                        tr class=(if event.error.is_some() { "failed-row" } else { "" }) {
                            td { (event.id) }
                            td { (event.event_type.as_str()) }
                            td { (event.state_name.as_deref().unwrap_or("")) }
                            td.num { (format!("{elapsed:.0} ms")) }
                            td {
                                @if let Some(error) = &event.error { strong.failed-text { (error) } }
                                @if let Some(cause) = &event.cause { " " span.cause { (truncate(cause, 240)) } }
                                @if let Some(resource) = &event.resource { code { (resource) } }
                                @if let Some(index) = event.map_index { " item " (index) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn truncate(text: &str, at: usize) -> String {
    if text.chars().count() > at {
        format!("{}…", text.chars().take(at).collect::<String>())
    } else {
        text.to_owned()
    }
}

fn facts(order: &Order) -> Markup {
    let address = serde_json::to_value(&order.shipping_address).unwrap_or_default();
    let address_lines: Vec<String> = ["name", "line1", "line2", "city", "region", "postalCode", "country"]
        .iter()
        .filter_map(|field| address.get(*field).and_then(Value::as_str).map(str::to_owned))
        .collect();
    let pricing = &order.pricing;
    html! {
        section #facts aria-labelledby="facts-title" {
            h2 #facts-title { "Facts" }
            div.cards {
                div.card {
                    h3 { "Customer" }
                    p { (text(&order.customer.name)) br; (text(&order.customer.email)) br; small { (text(&order.customer.id)) } }
                    h3 { "Ships to" }
                    address { @for line in &address_lines { (line) br; } }
                    p { "Pays with " code { (text(&order.payment_method)) }
                        @if let Some(code) = &order.promo_code { br; "Promotion " code { (text(code)) } } }
                }
                div.card {
                    h3 { "Pricing" }
                    table.pricing {
                        tr { th scope="row" { "Subtotal" } td.money { (pricing.subtotal.to_string()) } }
                        tr { th scope="row" { "Discount" } td.money { (pricing.discount.to_string()) } }
                        tr { th scope="row" { "Shipping (" (text(&pricing.shipping_zone)) ")" } td.money { (pricing.shipping.to_string()) } }
                        tr { th scope="row" { "Tax (" (tax_rate(&pricing.tax_rate)) ")" } td.money { (pricing.tax.to_string()) } }
                        tr.total { th scope="row" { "Total" } td.money { (pricing.total.to_string()) } }
                    }
                }
                div.card {
                    h3 { "Invoice" }
                    @match &order.invoice {
                        Some(invoice) => p { (invoice.number) ", issued " (timestamp(invoice.issued_at))
                            @if invoice.credit_note_key.is_some() { br; strong { "Voided by a credit note" } } },
                        None => p { "None yet." },
                    }
                    h3 { "Payment" }
                    @match &order.payment {
                        Some(payment) => p { (payment.status.as_str()) ": " (payment.amount.to_string()) br; code { (payment.reference) }
                            @if let Some(refund) = &payment.refund_reference { br; "refund " code { (refund) } } },
                        None => p { "None." },
                    }
                    h3 { "Shipment" }
                    @match &order.shipment {
                        Some(shipment) => p { (shipment.carrier) " " (shipment.service) br; "tracking " code { (shipment.tracking_number) } },
                        None => p { "None." },
                    }
                    @if let Some(cancellation) = order.cancellation() {
                        h3 { "Cancellation" }
                        p { strong { (cancellation.reason.to_string()) } @if let Some(detail) = &cancellation.detail { " (" (detail) ")" } br; (timestamp(cancellation.at)) }
                    }
                }
            }
            h3 { "Lines" }
            div.scroll {
                table {
                    thead { tr { th scope="col" { "SKU" } th scope="col" { "Product" } th scope="col" { "Quantity" } th scope="col" { "Unit price" } th scope="col" { "Line total" } } }
                    tbody {
                        @for line in &order.lines {
                            tr { td { code { (text(&line.sku)) } } td { (line.name) } td.num { (line.quantity.get()) } td.money { (line.unit_price.to_string()) } td.money { (line.line_total.to_string()) } }
                        }
                    }
                }
            }
            h3 { "History" }
            div.scroll {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Status" } th scope="col" { "What happened" } } }
                    tbody {
                        @for entry in order.history() {
                            tr { td { (timestamp(entry.at)) } td { (entry.status.as_str()) } td { (entry.detail) } }
                        }
                    }
                }
            }
        }
    }
}

fn partners(partners: &Partners) -> Markup {
    let documents = &partners.documents;
    html! {
        section #partners aria-labelledby="partners-title" {
            h2 #partners-title { "What the partners did" }
            h3 { "Payments" }
            @if partners.charges.is_empty() { p { "No charge was attempted." } }
            ul.charges {
                @for charge in &partners.charges {
                    li {
                        "Charge " code { (charge.reference) } ": " (charge.amount.to_string()) " with " code { (charge.payment_method) } " — "
                        strong { (text(&charge.status)) }
                        @if let Some(code) = &charge.decline_code { " (" (code) ")" }
                        @for refund in &charge.refunds { br; "Refund " code { (refund.reference) } ": " (refund.amount.to_string()) }
                    }
                }
            }
            h3 { "Labels" }
            @if partners.shipments.is_empty() { p { "No label was bought." } }
            ul {
                @for shipment in &partners.shipments {
                    li { (shipment.carrier_name) " " (shipment.service) ", tracking " code { (shipment.tracking_number) }
                        @if shipment.voided { " — " strong { "voided" } } }
                }
            }
            h3 { "Documents" }
            ul.documents {
                @if let Some((number, link)) = &documents.invoice { li { a href=(link) { "Invoice " (number) " (PDF)" } } }
                @if let Some(link) = &documents.credit_note { li { a href=(link) { "Credit note (PDF)" } } }
                @if let Some(link) = &documents.label { li { a href=(link) { "Shipping label (PDF)" } } }
                @if documents.invoice.is_none() && documents.label.is_none() { li { "None." } }
            }
            h3 #emails { "Emails (" (partners.emails.len()) ")" }
            @for email in &partners.emails {
                article.email data-email=(email.key) {
                    h4.subject { (email.subject.as_deref().unwrap_or("(no subject)")) }
                    p.meta { "To " (email.to.as_deref().unwrap_or("?")) " · " code { (email.key) } }
                    @if !email.attachments.is_empty() {
                        p { "Attachments: "
                            @for (index, (name, size)) in email.attachments.iter().enumerate() {
                                a href={ "/_local/console/attachment?email=" (urlencode(&email.key)) "&index=" (index) } { (name) } " (" (size / 1024) " KiB) "
                            }
                        }
                    }
                    @match (&email.html, &email.text) {
                        (Some(html), _) => iframe sandbox="" srcdoc=(html) title={ "Email: " (email.subject.as_deref().unwrap_or("")) } loading="lazy" {},
                        (None, Some(text)) => pre { (text) },
                        (None, None) => p { "(empty)" },
                    }
                }
            }
        }
    }
}

/// Percent-encodes a query parameter value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A machine's graph on its own page.
pub fn machine(name: &str, graph: &MachineGraph) -> Markup {
    let body = html! {
        main #main {
            h1 { "State machine " code { (name) } }
            p { (graph.states.len()) " states, " (graph.edges.len()) " transitions. Dashed arrows: catches, branches and iterations." }
            (graph_svg(graph, None))
        }
    };
    page(&format!("State machine {name}"), &body)
}
