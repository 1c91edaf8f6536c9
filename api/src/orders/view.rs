//! How orders are shown.

use orderflow_domain::order::{Order, OrderStatus};
use orderflow_domain::pricing::PricedLine;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::request::AddressInput;

/// An order, as `GET /api/v0/orders/{id}` shows it. Amounts are integer minor units (cents) of
/// `pricing.currency`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    #[schema(example = "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB")]
    pub id: String,
    #[schema(value_type = String, example = "pending")]
    pub status: OrderStatus,
    pub customer: CustomerView,
    pub lines: Vec<LineView>,
    pub pricing: PricingView,
    pub shipping_address: AddressInput,
    #[schema(example = "pm_card_visa")]
    pub payment_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promo_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment: Option<ShipmentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationView>,
    /// Set once the customer asked to cancel; the order's next step acts on it.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancellation_requested_at: Option<OffsetDateTime>,
    pub history: Vec<HistoryView>,
    /// For operators: where to trace the order's workflow, the execution named after the order
    /// (the Step Functions console on AWS, the local console on a laptop).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/_local/console/orders/ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB")]
    pub trace: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineView {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    /// Minor units.
    pub unit_price: i64,
    /// Minor units: unit price × quantity.
    pub line_total: i64,
}

/// The money of an order, in minor units of `currency`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PricingView {
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub shipping: i64,
    /// subtotal − discount + tax + shipping.
    pub total: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// Where the tax is owed, and its rate in parts per million.
    pub tax_jurisdiction: String,
    pub tax_rate_ppm: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceView {
    #[schema(example = "INV-2026-000042")]
    pub number: String,
    /// A short-lived link to the PDF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub voided: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    #[schema(example = "succeeded")]
    pub status: String,
    /// The payment partner's reference.
    pub reference: String,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_reference: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentView {
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    /// A short-lived link to the label PDF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationView {
    #[schema(example = "payment_declined")]
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub detail: String,
}

/// One order in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub id: String,
    #[schema(value_type = String, example = "shipped")]
    pub status: OrderStatus,
    pub customer_id: String,
    pub item_count: u32,
    pub total: i64,
    pub currency: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    pub orders: Vec<OrderSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn line_view(line: &PricedLine) -> LineView {
    LineView {
        sku: line.sku.to_string(),
        name: line.name.clone(),
        quantity: line.quantity.get(),
        unit_price: line.unit_price.minor(),
        line_total: line.line_total.minor(),
    }
}

/// Links to an order's documents, signed for the reader; `None` for a document the order lacks or
/// whose link could not be signed.
#[derive(Debug, Clone, Default)]
pub struct DocumentLinks {
    pub invoice: Option<String>,
    pub label: Option<String>,
    /// Where to trace the order's workflow; only operators get it.
    pub trace: Option<String>,
}

impl OrderView {
    /// The view of `order`, with its documents' short-lived links.
    pub fn of(order: &Order, links: DocumentLinks) -> Self {
        let DocumentLinks { invoice: invoice_url, label: label_url, trace } = links;
        let pricing = &order.pricing;
        Self {
            id: order.id.to_string(),
            status: order.status(),
            customer: CustomerView {
                id: order.customer.id.to_string(),
                email: order.customer.email.to_string(),
                name: order.customer.name.to_string(),
            },
            lines: order.lines.iter().map(line_view).collect(),
            pricing: PricingView {
                subtotal: pricing.subtotal.minor(),
                discount: pricing.discount.minor(),
                tax: pricing.tax.minor(),
                shipping: pricing.shipping.minor(),
                total: pricing.total.minor(),
                currency: pricing.currency.code().to_owned(),
                tax_jurisdiction: pricing.tax_rate.jurisdiction.clone(),
                tax_rate_ppm: pricing.tax_rate.parts_per_million,
            },
            shipping_address: AddressInput::from(&order.shipping_address),
            payment_method: order.payment_method.to_string(),
            promo_code: order.promo_code.as_ref().map(ToString::to_string),
            invoice: order.invoice.as_ref().map(|invoice| InvoiceView {
                number: invoice.number.clone(),
                url: invoice_url,
                voided: invoice.credit_note_key.is_some(),
            }),
            payment: order.payment.as_ref().map(|payment| PaymentView {
                status: payment.status.as_str().to_owned(),
                reference: payment.reference.clone(),
                amount: payment.amount.minor(),
                refund_reference: payment.refund_reference.clone(),
            }),
            shipment: order.shipment.as_ref().map(|shipment| ShipmentView {
                carrier: shipment.carrier.clone(),
                service: shipment.service.clone(),
                tracking_number: shipment.tracking_number.clone(),
                label_url,
            }),
            cancellation: order
                .cancellation()
                .map(|c| CancellationView { reason: c.reason.as_str().to_owned(), at: c.at }),
            cancellation_requested_at: order.cancellation_requested_at(),
            history: order
                .history()
                .iter()
                .map(|h| HistoryView { at: h.at, status: h.status, detail: h.detail.clone() })
                .collect(),
            trace,
            created_at: order.created_at,
            updated_at: order.updated_at(),
        }
    }
}

impl OrderSummary {
    pub fn of(order: &Order) -> Self {
        Self {
            id: order.id.to_string(),
            status: order.status(),
            customer_id: order.customer.id.to_string(),
            item_count: order.lines.iter().map(|l| l.quantity.get()).sum(),
            total: order.pricing.total.minor(),
            currency: order.pricing.currency.code().to_owned(),
            created_at: order.created_at,
        }
    }
}
