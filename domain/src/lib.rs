//! The order pipeline's domain: the values an order is made of, the rules that price it and move
//! it through its lifecycle, and the ports (traits) through which the outside world is reached.
//!
//! Nothing here performs I/O. Every value that crosses the boundary is parsed into a type that
//! cannot hold an invalid value (`Sku::parse`, `Quantity::parse`, ...): code that takes a
//! `Quantity` never checks its range again.
//!
//! # Layout
//!
//! - [`money`]: `Money` as integer minor units of a `Currency`, with checked arithmetic and the
//!   one rounding rule.
//! - [`customer`]: who is ordering: `CustomerId`, `EmailAddress`, `PersonName`.
//! - [`address`]: `PostalAddress` with ISO 3166-1 countries, regions and postal codes.
//! - [`catalog`]: the products the store owns: `Sku`, `Product`, `Catalog`, stock levels.
//! - [`cart`]: what a customer asks for: `Quantity`, `CartLine`, `Cart`, `PaymentMethodId`.
//! - [`pricing`]: line totals, promotions, tax (`TaxPolicy`) and shipping, producing `Pricing`.
//! - [`order`]: `Order`, its `OrderStatus` lifecycle and history.
//! - [`idempotency`]: keys and request fingerprints for safe retries.
//! - [`ports`]: the traits adapters implement (`OrderStore`, `Inventory`, ...).

pub use money::{Currency, Money, MoneyError};
pub use secret::Secret;

use std::borrow::Cow;

/// A value from outside did not parse into a domain type; the reason is fit to show to the
/// person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    reason: Cow<'static, str>,
}

impl Invalid {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        Self { reason: reason.into() }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// An error and its causes on one line, `outer: inner: innermost`: what logs and a failed task's
/// `Cause` show. Every layer that reports an error formats it through this, so no reader of a log
/// ever sees the outermost message alone.
#[derive(Debug, Clone, Copy)]
pub struct CauseChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut links = std::iter::successors(Some(self.0), |error| error.source());
        if let Some(outermost) = links.next() {
            write!(f, "{outermost}")?;
        }
        links.try_for_each(|cause| write!(f, ": {cause}"))
    }
}

/// Implements the string conversions of a newtype parsed by `Self::parse(&str)`, so that serde
/// can only ever build a valid value (`#[serde(try_from = "String", into = "String")]`).
macro_rules! string_newtype_conversions {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = $crate::Invalid;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod address;
pub mod cart;
pub mod catalog;
pub mod customer;
pub mod idempotency;
pub mod money;
pub mod order;
pub mod ports;
pub mod pricing;
pub mod secret;

#[cfg(test)]
mod tests {
    use super::CauseChain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot save the order")]
    struct SaveFailed(#[source] std::io::Error);

    #[test]
    fn a_cause_chain_names_every_cause_outermost_first() {
        let error = SaveFailed(std::io::Error::other("disk full"));
        assert_eq!(CauseChain(&error).to_string(), "cannot save the order: disk full");
    }
}
