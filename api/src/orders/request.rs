//! The request bodies of the order routes, and their parsing into domain values.

use orderflow_domain::Invalid;
use orderflow_domain::address::{AddressFields, PostalAddress};
use orderflow_domain::cart::{Cart, CartError, CartLine, OrderRequest, PaymentMethodId, Quantity};
use orderflow_domain::catalog::Sku;
use orderflow_domain::customer::{Customer, CustomerId, EmailAddress, PersonName};
use orderflow_domain::pricing::promotions::PromotionCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::InvalidParam;

/// A new order: who orders, what, where it ships and how it is paid. Prices are never sent:
/// they come from the catalog. Unknown members (a `price`, say) are rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrder {
    pub customer: CustomerInput,
    /// 1 to 100 lines, each SKU at most once.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<ItemInput>,
    pub shipping_address: AddressInput,
    /// The id of the customer's saved, pre-approved payment method (Stripe style).
    #[schema(example = "pm_card_visa", pattern = "^pm_[A-Za-z0-9_]{1,125}$")]
    pub payment_method: String,
    /// At most one promotion code.
    #[schema(example = "WELCOME10", pattern = "^[A-Za-z0-9-]{3,32}$")]
    pub promo_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    #[schema(example = "cus_ada", pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemInput {
    #[schema(example = "MUG-CLASSIC-WHT", pattern = "^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")]
    pub sku: String,
    /// 1 to 999.
    #[schema(example = 2, minimum = 1, maximum = 999)]
    pub quantity: i64,
}

/// A postal address as sent and as shown.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    #[schema(example = "12 Market Street")]
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[schema(example = "San Francisco")]
    pub city: String,
    /// The state or province, required for US, Canadian and Australian addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "CA")]
    pub region: Option<String>,
    #[schema(example = "94103")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "US", pattern = "^[A-Za-z]{2}$")]
    pub country: String,
}

impl From<&PostalAddress> for AddressInput {
    fn from(address: &PostalAddress) -> Self {
        Self {
            name: address.name.to_string(),
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            region: address.region.as_ref().map(ToString::to_string),
            postal_code: address.postal_code.to_string(),
            country: address.country.to_string(),
        }
    }
}

/// Collects every invalid field of a request, each at its JSON pointer.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<InvalidParam>);

impl Errors {
    pub fn check<T>(&mut self, pointer: impl Into<String>, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.0.push(InvalidParam::at(pointer, invalid.reason()));
                None
            }
        }
    }

    pub fn add(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.0.push(InvalidParam::at(pointer, detail));
    }
}

impl AddressInput {
    /// Parses the address, reporting each invalid field under `prefix` (`/shippingAddress`).
    pub fn parse(&self, prefix: &str, errors: &mut Errors) -> Option<PostalAddress> {
        let fields = AddressFields {
            name: &self.name,
            line1: &self.line1,
            line2: self.line2.as_deref(),
            city: &self.city,
            region: self.region.as_deref(),
            postal_code: &self.postal_code,
            country: &self.country,
        };
        PostalAddress::parse(&fields)
            .map_err(|problems| {
                for problem in problems {
                    errors.add(format!("{prefix}/{}", problem.field), problem.problem.reason());
                }
            })
            .ok()
    }
}

impl PlaceOrder {
    /// Parses every field, reporting all invalid ones at once.
    pub fn parse(&self) -> Result<OrderRequest, Vec<InvalidParam>> {
        let mut errors = Errors::default();
        let id = errors.check("/customer/id", CustomerId::parse(&self.customer.id));
        let email = errors.check("/customer/email", EmailAddress::parse(&self.customer.email));
        let name = errors.check("/customer/name", PersonName::parse(&self.customer.name));

        let lines: Vec<Option<CartLine>> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let sku = errors.check(format!("/items/{i}/sku"), Sku::parse(&item.sku));
                let quantity = errors.check(format!("/items/{i}/quantity"), Quantity::parse(item.quantity));
                Some(CartLine { sku: sku?, quantity: quantity? })
            })
            .collect();
        let cart = match lines.into_iter().collect::<Option<Vec<_>>>().map(Cart::new) {
            Some(Ok(cart)) => Some(cart),
            Some(Err(error @ CartError::DuplicateSku { again, .. })) => {
                errors.add(format!("/items/{again}/sku"), error.to_string());
                None
            }
            Some(Err(error)) => {
                errors.add("/items", error.to_string());
                None
            }
            None if self.items.len() > Cart::MAX_LINES => {
                errors.add("/items", CartError::TooManyLines { count: self.items.len() }.to_string());
                None
            }
            None => None,
        };
        let shipping_address = self.shipping_address.parse("/shippingAddress", &mut errors);
        let payment_method = errors.check("/paymentMethod", PaymentMethodId::parse(&self.payment_method));
        let promo_code = match &self.promo_code {
            None => Some(None),
            Some(code) => errors.check("/promoCode", PromotionCode::parse(code)).map(Some),
        };

        match (id, email, name, cart, shipping_address, payment_method, promo_code) {
            (
                Some(id),
                Some(email),
                Some(name),
                Some(cart),
                Some(shipping_address),
                Some(payment_method),
                Some(promo_code),
            ) if errors.0.is_empty() => Ok(OrderRequest {
                customer: Customer { id, email, name },
                cart,
                shipping_address,
                payment_method,
                promo_code,
            }),
            _ => Err(errors.0),
        }
    }
}

/// The changes `PATCH /api/v0/orders/{id}` accepts, as a JSON Merge Patch (RFC 7396) of the
/// order: members of `shippingAddress`, and `customer.email`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderPatch {
    /// Members to replace; `null` removes an optional member (`line2`, `region`).
    #[schema(value_type = Option<Object>, example = json!({"line1": "500 Howard Street", "line2": null}))]
    pub shipping_address: Option<serde_json::Map<String, serde_json::Value>>,
    pub customer: Option<CustomerPatch>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerPatch {
    #[schema(example = "ada@example.org")]
    pub email: Option<String>,
}
