//! What a customer asks for: SKUs and quantities, never prices.

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::address::PostalAddress;
use crate::catalog::Sku;
use crate::customer::Customer;
use crate::pricing::promotions::PromotionCode;

/// How many units of one SKU a line asks for: 1 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u16);

impl Quantity {
    pub const MAX: u16 = 999;

    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        u16::try_from(raw)
            .ok()
            .filter(|q| (1..=Self::MAX).contains(q))
            .map(Self)
            .ok_or_else(|| Invalid::new("must be a whole number from 1 to 999"))
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl TryFrom<i64> for Quantity {
    type Error = Invalid;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> Self {
        quantity.get()
    }
}

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// A non-empty list of at most 100 lines, each SKU at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<CartLine>", into = "Vec<CartLine>")]
pub struct Cart(Vec<CartLine>);

/// Why a list of lines is not a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("a cart needs at least one line")]
    Empty,
    #[error("a cart may have at most {max} lines, this one has {count}", max = Cart::MAX_LINES)]
    TooManyLines { count: usize },
    #[error("SKU {sku} appears on lines {first} and {again}; put the whole quantity on one line")]
    DuplicateSku { sku: Sku, first: usize, again: usize },
}

impl Cart {
    pub const MAX_LINES: usize = 100;

    pub fn new(lines: Vec<CartLine>) -> Result<Self, CartError> {
        if lines.is_empty() {
            return Err(CartError::Empty);
        }
        if lines.len() > Self::MAX_LINES {
            return Err(CartError::TooManyLines { count: lines.len() });
        }
        for (again, line) in lines.iter().enumerate() {
            if let Some(first) = lines[..again].iter().position(|l| l.sku == line.sku) {
                return Err(CartError::DuplicateSku { sku: line.sku.clone(), first, again });
            }
        }
        Ok(Self(lines))
    }

    pub fn lines(&self) -> &[CartLine] {
        &self.0
    }
}

impl TryFrom<Vec<CartLine>> for Cart {
    type Error = CartError;
    fn try_from(lines: Vec<CartLine>) -> Result<Self, Self::Error> {
        Self::new(lines)
    }
}

impl From<Cart> for Vec<CartLine> {
    fn from(cart: Cart) -> Self {
        cart.0
    }
}

/// The id of a payment method the customer saved and pre-approved with the payment partner
/// (Stripe style: `pm_card_visa`, `pm_1Q0PsIJvEtkwdCNYMSaVuRz6`). Never card data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentMethodId(String);

impl PaymentMethodId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let Some(rest) = raw.strip_prefix("pm_") else {
            return Err(Invalid::new("must be a saved payment method id starting with `pm_`"));
        };
        if rest.is_empty() || raw.len() > 128 || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Invalid::new("must be `pm_` followed by up to 125 letters, digits and `_`"));
        }
        Ok(Self(raw.to_owned()))
    }
}
string_newtype_conversions!(PaymentMethodId);

/// Everything a customer submits to place an order, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    pub customer: Customer,
    pub cart: Cart,
    pub shipping_address: PostalAddress,
    pub payment_method: PaymentMethodId,
    pub promo_code: Option<PromotionCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: i64) -> CartLine {
        CartLine { sku: Sku::parse(sku).unwrap(), quantity: Quantity::parse(quantity).unwrap() }
    }

    #[test]
    fn quantities_run_from_one_to_nine_hundred_ninety_nine() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-1).is_err());
        assert_eq!(Quantity::parse(1).unwrap().get(), 1);
        assert_eq!(Quantity::parse(999).unwrap().get(), 999);
        assert!(Quantity::parse(1000).is_err());
        assert!(Quantity::parse(i64::from(u16::MAX) + 1).is_err());
    }

    #[test]
    fn an_empty_cart_is_refused() {
        assert_eq!(Cart::new(vec![]), Err(CartError::Empty));
    }

    #[test]
    fn a_cart_with_more_than_one_hundred_lines_is_refused() {
        let lines = (0..101).map(|i| line(&format!("SKU-{i}"), 1)).collect();
        assert_eq!(Cart::new(lines), Err(CartError::TooManyLines { count: 101 }));
    }

    #[test]
    fn a_sku_may_appear_on_only_one_line() {
        let result = Cart::new(vec![line("MUG-1", 1), line("TEE-1", 1), line("mug-1", 2)]);
        assert!(matches!(result, Err(CartError::DuplicateSku { first: 0, again: 2, .. })));
    }

    #[test]
    fn payment_methods_are_ids_never_card_numbers() {
        assert!(PaymentMethodId::parse("pm_card_visa").is_ok());
        assert!(PaymentMethodId::parse("4242424242424242").is_err());
        assert!(PaymentMethodId::parse("pm_").is_err());
        assert!(PaymentMethodId::parse("pm_bad-char").is_err());
    }
}
