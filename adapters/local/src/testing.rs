//! Values the tests of this crate build orders and requests from.

use orderflow_domain::address::{AddressFields, PostalAddress};
use orderflow_domain::cart::{Cart, CartLine, OrderRequest, PaymentMethodId, Quantity};
use orderflow_domain::catalog::{Catalog, Sku};
use orderflow_domain::customer::{Customer, CustomerId, EmailAddress, PersonName};
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::pricing::Pricer;
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use time::OffsetDateTime;

pub fn order_id() -> OrderId {
    OrderId::from_ulid(ulid::Ulid::generate())
}

/// An address in `country` with `postal_code` (and a region where the country needs one).
pub fn address(postal_code: &str, country: &str) -> PostalAddress {
    let (city, region) = match country {
        "US" => ("Portland", Some("OR")),
        "CA" => ("Toronto", Some("ON")),
        _ => ("Paris", None),
    };
    PostalAddress::parse(&AddressFields {
        name: "Ada Lovelace",
        line1: "12 Market Street",
        city,
        region,
        postal_code,
        country,
        ..AddressFields::default()
    })
    .unwrap()
}

/// A new order for two mugs, shipping to Portland, paid with `pm_card_visa`.
pub fn pending_order() -> Order {
    let catalog = Catalog::from_json(include_str!("../../../data/catalog.json")).unwrap();
    let request = OrderRequest {
        customer: Customer {
            id: CustomerId::parse("cus_ada").unwrap(),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            name: PersonName::parse("Ada Lovelace").unwrap(),
        },
        cart: Cart::new(vec![CartLine {
            sku: Sku::parse("MUG-CLASSIC-WHT").unwrap(),
            quantity: Quantity::parse(2).unwrap(),
        }])
        .unwrap(),
        shipping_address: address("97201", "US"),
        payment_method: PaymentMethodId::parse("pm_card_visa").unwrap(),
        promo_code: None,
    };
    let now = OffsetDateTime::now_utc();
    let pricer = Pricer { catalog: &catalog, tax: &RateTable, shipping: &ShippingRates::default() };
    let quote = pricer.quote(&request.cart, &request.shipping_address, None, now).unwrap();
    Order::place(order_id(), request, quote, now)
}
