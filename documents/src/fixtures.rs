//! Orders for tests, built through the domain's public API only: a cart priced by the `Pricer`
//! over the seed catalog, placed, then moved through its lifecycle.

use orderflow_domain::address::{AddressFields, PostalAddress};
use orderflow_domain::cart::{Cart, CartLine, OrderRequest, PaymentMethodId, Quantity};
use orderflow_domain::catalog::{Catalog, Sku};
use orderflow_domain::customer::{Customer, CustomerId, EmailAddress, PersonName};
use orderflow_domain::order::{
    CancellationReason, InvoiceRecord, Order, OrderId, PaymentRecord, PaymentStatus, ShipmentRecord,
};
use orderflow_domain::pricing::Pricer;
use orderflow_domain::pricing::promotions::PromotionCode;
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use time::OffsetDateTime;
use time::macros::datetime;
use ulid::Ulid;

pub const PLACED_AT: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
pub const INVOICED_AT: OffsetDateTime = datetime!(2026-11-25 12:01 UTC);
pub const INVOICE_NUMBER: &str = "INV-2026-000042";

pub fn seed_catalog() -> Catalog {
    Catalog::from_json(include_str!("../../data/catalog.json")).expect("the seed catalog loads")
}

/// A catalog of `count` products, for orders longer than the seed catalog allows.
pub fn large_catalog(count: usize) -> Catalog {
    let products: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"sku":"ITEM-{i:03}","name":"Numbered item {i} with a fairly long descriptive name","description":"","unitPrice":{},"weightGrams":100,"category":"misc","stock":100}}"#,
                1000 + i * 7
            )
        })
        .collect();
    Catalog::from_json(&format!(r#"{{"currency":"USD","products":[{}]}}"#, products.join(",")))
        .expect("the generated catalog loads")
}

/// Builds orders; each setter returns the builder.
pub struct OrderBuilder {
    catalog: Catalog,
    name: String,
    email: String,
    lines: Vec<(String, i64)>,
    promo: Option<String>,
    region: &'static str,
    postal_code: &'static str,
}

pub fn an_order() -> OrderBuilder {
    OrderBuilder {
        catalog: seed_catalog(),
        name: "Ada Lovelace".to_owned(),
        email: "ada@example.com".to_owned(),
        lines: vec![("MUG-CLASSIC-WHT".to_owned(), 2), ("BEANS-ETH-250".to_owned(), 1)],
        promo: Some("WELCOME10".to_owned()),
        region: "CA",
        postal_code: "94103",
    }
}

impl OrderBuilder {
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    pub fn without_promotion(mut self) -> Self {
        self.promo = None;
        self
    }

    /// One line per product of `catalog`, with quantities 1, 2, 3, ...
    pub fn with_every_product_of(mut self, catalog: Catalog) -> Self {
        self.lines =
            catalog.products().zip(1..).map(|(product, quantity)| (product.sku.to_string(), quantity)).collect();
        self.catalog = catalog;
        self.promo = None;
        self
    }

    /// Placed and not yet confirmed.
    pub fn pending(self) -> Order {
        let cart = Cart::new(
            self.lines
                .iter()
                .map(|(sku, quantity)| CartLine {
                    sku: Sku::parse(sku).expect("a valid SKU"),
                    quantity: Quantity::parse(*quantity).expect("a valid quantity"),
                })
                .collect(),
        )
        .expect("a valid cart");
        let shipping_address = PostalAddress::parse(&AddressFields {
            name: &self.name,
            line1: "12 Market Street",
            line2: Some("Apartment 4"),
            city: "San Francisco",
            region: Some(self.region),
            postal_code: self.postal_code,
            country: "US",
        })
        .expect("a valid address");
        let request = OrderRequest {
            customer: Customer {
                id: CustomerId::parse("cus_ada").expect("a valid customer id"),
                email: EmailAddress::parse(&self.email).expect("a valid email"),
                name: PersonName::parse(&self.name).expect("a valid name"),
            },
            cart,
            shipping_address,
            payment_method: PaymentMethodId::parse("pm_card_visa").expect("a valid payment method"),
            promo_code: self.promo.as_deref().map(|code| PromotionCode::parse(code).expect("a valid code")),
        };
        let pricer = Pricer { catalog: &self.catalog, tax: &RateTable, shipping: &ShippingRates::default() };
        let quote = pricer
            .quote(&request.cart, &request.shipping_address, request.promo_code.as_ref(), PLACED_AT)
            .expect("the cart prices");
        Order::place(OrderId::from_ulid(Ulid::from_parts(1_764_072_000_000, 42)), request, quote, PLACED_AT)
    }

    pub fn confirmed(self) -> Order {
        let mut order = self.pending();
        order.confirm(PLACED_AT).expect("pending orders confirm");
        order
    }

    pub fn invoiced(self) -> Order {
        let mut order = self.confirmed();
        order.record_invoice(invoice_record(), INVOICED_AT).expect("confirmed orders are invoiced");
        order
    }

    pub fn paid(self) -> Order {
        let mut order = self.invoiced();
        let payment = PaymentRecord {
            status: PaymentStatus::Succeeded,
            reference: "pi_3QxAmpleReference".to_owned(),
            amount: order.pricing.total,
            refund_reference: None,
        };
        order.record_payment(payment, INVOICED_AT).expect("invoiced orders are paid");
        order
    }

    pub fn shipped(self) -> Order {
        let mut order = self.paid();
        let shipment = ShipmentRecord {
            carrier: "FedEx".to_owned(),
            service: "Ground".to_owned(),
            tracking_number: "794612345678".to_owned(),
            label_key: "labels/ord.pdf".to_owned(),
        };
        order.record_shipment(shipment, INVOICED_AT).expect("paid orders ship");
        order
    }

    /// Paid, then refunded and cancelled because no carrier could take the parcel.
    pub fn refunded_and_cancelled(self) -> Order {
        let mut order = self.paid();
        if let Some(payment) = order.payment.as_mut() {
            payment.status = PaymentStatus::Refunded;
            payment.refund_reference = Some("re_3QxAmpleRefund".to_owned());
        }
        if let Some(invoice) = order.invoice.as_mut() {
            invoice.credit_note_key = Some("credit-notes/ord.pdf".to_owned());
        }
        order.cancel(CancellationReason::CarrierUnavailable, None, INVOICED_AT).expect("paid orders cancel");
        order
    }

    /// Invoiced, then cancelled because the card was declined.
    pub fn declined_and_cancelled(self) -> Order {
        let mut order = self.invoiced();
        order
            .cancel(CancellationReason::PaymentDeclined, Some("insufficient_funds".into()), INVOICED_AT)
            .expect("invoiced orders cancel");
        order
    }
}

pub fn invoice_record() -> InvoiceRecord {
    InvoiceRecord {
        number: INVOICE_NUMBER.to_owned(),
        issued_at: INVOICED_AT,
        document_key: format!("invoices/{INVOICE_NUMBER}.pdf"),
        credit_note_key: None,
    }
}
