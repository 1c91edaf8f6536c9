//! Valid values the suites (and adapters' own tests) build orders and requests from.
//!
//! Every order and customer is new: ids come from one monotonic generator, so an order made
//! later has a greater id (ids sort by creation time, as `OrderId` promises), and customers never
//! collide, even in a store other tests share.

use std::sync::{Mutex, PoisonError};

use orderflow_domain::address::{AddressFields, PostalAddress};
use orderflow_domain::cart::{Cart, CartLine, OrderRequest, PaymentMethodId, Quantity};
use orderflow_domain::catalog::{Catalog, Sku};
use orderflow_domain::customer::{Customer, CustomerId, EmailAddress, PersonName};
use orderflow_domain::idempotency::{IdempotencyKey, RequestFingerprint};
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{NewOrder, StockLevel};
use orderflow_domain::pricing::Pricer;
use orderflow_domain::pricing::shipping::ShippingRates;
use orderflow_domain::pricing::tax::RateTable;
use time::OffsetDateTime;

/// Plenty in stock.
pub const MUG: &str = "MUG-CLASSIC-WHT";
/// A handful in stock.
pub const KETTLE: &str = "KETTLE-GOOSE-1L";
/// The last few: three in stock, for the races.
pub const GRINDER: &str = "GRINDER-BURR";
/// A SKU no catalog keeps.
pub const UNKNOWN: &str = "NOT-IN-THE-CATALOG";

/// The catalog the suites assume an inventory was seeded from, with its initial stock.
const CATALOG: &str = r#"{
  "currency": "USD",
  "products": [
    {"sku": "MUG-CLASSIC-WHT", "name": "Classic Mug, White", "description": "12 oz stoneware mug.",
     "unitPrice": 1400, "weightGrams": 380, "category": "kitchen", "stock": 100},
    {"sku": "KETTLE-GOOSE-1L", "name": "Gooseneck Kettle", "description": "1 litre stovetop kettle.",
     "unitPrice": 5900, "weightGrams": 950, "category": "kitchen", "stock": 10},
    {"sku": "GRINDER-BURR", "name": "Burr Coffee Grinder", "description": "Conical steel burrs.",
     "unitPrice": 12900, "weightGrams": 2600, "category": "kitchen", "stock": 3}
  ]
}"#;

/// Three products: [`MUG`] (100 in stock), [`KETTLE`] (10) and [`GRINDER`] (3).
pub fn catalog() -> Catalog {
    Catalog::from_json(CATALOG).expect("the fixture catalog is valid")
}

/// The stock of a fresh inventory seeded from [`catalog`], in SKU order.
pub fn initial_stock() -> Vec<(Sku, StockLevel)> {
    catalog().products().map(|p| (p.sku.clone(), StockLevel { on_hand: p.initial_stock, reserved: 0 })).collect()
}

pub fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("a valid SKU")
}

pub fn quantity(units: i64) -> Quantity {
    Quantity::parse(units).expect("a valid quantity")
}

/// `(sku, units)` pairs as `Inventory::reserve` takes them.
pub fn lines(lines: &[(&str, i64)]) -> Vec<(Sku, Quantity)> {
    lines.iter().map(|&(s, units)| (sku(s), quantity(units))).collect()
}

static IDS: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

fn next_ulid() -> ulid::Ulid {
    IDS.lock().unwrap_or_else(PoisonError::into_inner).generate().expect("fewer than 2^80 ids in one millisecond")
}

/// A new order id, greater than every one made before it.
pub fn order_id() -> OrderId {
    OrderId::from_ulid(next_ulid())
}

/// A customer no other fixture has used.
pub fn customer() -> Customer {
    Customer {
        id: CustomerId::parse(&format!("cus_{}", next_ulid().to_string().to_ascii_lowercase()))
            .expect("a valid customer id"),
        email: EmailAddress::parse("ada@example.com").expect("a valid email address"),
        name: PersonName::parse("Ada Lovelace").expect("a valid name"),
    }
}

/// A deliverable address: 12 Market Street, Portland, OR 97201, United States.
pub fn address() -> PostalAddress {
    address_in("97201", "US")
}

/// An address with `postal_code` in `country` (`US`, `CA`, or elsewhere: Paris), with a region
/// where the country needs one.
pub fn address_in(postal_code: &str, country: &str) -> PostalAddress {
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
    .expect("a valid address")
}

/// Two mugs for `customer`, shipping to [`address`], paid with `payment_method` (a Stripe test
/// payment method such as `pm_card_visa`).
pub fn order_request(customer: Customer, payment_method: &str) -> OrderRequest {
    OrderRequest {
        customer,
        cart: Cart::new(vec![CartLine { sku: sku(MUG), quantity: quantity(2) }]).expect("a valid cart"),
        shipping_address: address(),
        payment_method: PaymentMethodId::parse(payment_method).expect("a valid payment method"),
        promo_code: None,
    }
}

/// The order `request` places now, priced against [`catalog`].
pub fn order_of(request: OrderRequest) -> Order {
    let catalog = catalog();
    let now = OffsetDateTime::now_utc();
    let pricer = Pricer { catalog: &catalog, tax: &RateTable, shipping: &ShippingRates::default() };
    let quote = pricer
        .quote(&request.cart, &request.shipping_address, None, now)
        .expect("the fixture cart prices against the fixture catalog");
    Order::place(order_id(), request, quote, now)
}

/// A new, pending order for two mugs by a new customer, paid with `pm_card_visa`.
pub fn pending_order() -> Order {
    order_of(order_request(customer(), "pm_card_visa"))
}

/// A new order placed by `customer`.
pub fn pending_order_of(customer: &Customer) -> Order {
    order_of(order_request(customer.clone(), "pm_card_visa"))
}

/// `order` to place without an idempotency key.
pub fn new_order(order: Order) -> NewOrder {
    NewOrder { order, idempotency: None }
}

/// An `Idempotency-Key` no other fixture has used.
pub fn idempotency_key() -> IdempotencyKey {
    IdempotencyKey::parse(&next_ulid().to_string()).expect("a valid idempotency key")
}

/// `request`, as the API places it under `key`: a new order, with the key and the request's
/// fingerprint.
pub fn placed_under(key: &IdempotencyKey, request: &OrderRequest) -> NewOrder {
    NewOrder { order: order_of(request.clone()), idempotency: Some((key.clone(), RequestFingerprint::of(request))) }
}
