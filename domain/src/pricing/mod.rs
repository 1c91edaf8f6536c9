//! Pricing a cart from the catalog the store owns.
//!
//! # The rules, in order
//!
//! 1. **Lines**: each line total is the catalog unit price times the quantity. Prices a client
//!    sends are never read.
//! 2. **Subtotal**: the sum of the line totals.
//! 3. **Discount**: at most one promotion code, valid at the instant the order is placed, whose
//!    minimum subtotal is met: a percentage of the subtotal, or a fixed amount capped at the
//!    subtotal.
//! 4. **Shipping**: by total parcel weight and destination zone; domestic orders whose
//!    merchandise (subtotal less discount) reaches the threshold ship free.
//! 5. **Tax**: the destination's rate applied to the merchandise, plus shipping where shipping is
//!    taxable there.
//! 6. **Total** = subtotal − discount + tax + shipping.
//!
//! # Rounding
//!
//! Amounts are integer minor units. Only two figures are ever rounded, the percentage discount and
//! the tax, and each is rounded **once, on the order-level amount, to the nearest minor unit with
//! halves away from zero** (`Money::checked_fraction`). Nothing is rounded per line, so the total
//! is exactly the sum of its parts and never drifts by a cent.

pub mod promotions;
pub mod shipping;
pub mod tax;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::address::PostalAddress;
use crate::cart::{Cart, Quantity};
use crate::catalog::{Catalog, Grams, Sku};
use crate::money::{Currency, Money, MoneyError};
use promotions::{PromotionCode, PromotionError};
use shipping::{ShippingRates, ShippingZone};
use tax::{TaxPolicy, TaxRate};

/// One priced line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedLine {
    pub sku: Sku,
    pub name: String,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub line_total: Money,
    /// The weight of the line (unit weight × quantity).
    pub weight: Grams,
}

/// The money figures of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pricing {
    pub currency: Currency,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
    pub tax_rate: TaxRate,
    pub shipping_zone: ShippingZone,
}

/// A priced cart: its lines and its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub lines: Vec<PricedLine>,
    pub pricing: Pricing,
    pub weight: Grams,
}

/// Why a cart could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Lines (by index in the cart) whose SKU is not in the catalog.
    #[error("unknown SKUs: {}", .0.iter().map(|(_, sku)| sku.as_ref()).collect::<Vec<_>>().join(", "))]
    UnknownSkus(Vec<(usize, Sku)>),
    #[error(transparent)]
    Promotion(#[from] PromotionError),
    #[error("the order's amounts are too large to compute")]
    Overflow(#[from] MoneyError),
}

/// Prices carts against a catalog, a tax policy and shipping rates.
#[derive(Debug, Clone, Copy)]
pub struct Pricer<'a> {
    pub catalog: &'a Catalog,
    pub tax: &'a dyn TaxPolicy,
    pub shipping: &'a ShippingRates,
}

impl Pricer<'_> {
    /// Prices `cart` shipped to `destination`, with an optional promotion code, as of `at` (the
    /// instant that decides whether a code is valid).
    pub fn quote(
        &self,
        cart: &Cart,
        destination: &PostalAddress,
        promotion: Option<&PromotionCode>,
        at: OffsetDateTime,
    ) -> Result<Quote, PricingError> {
        let currency = self.catalog.currency();
        let mut unknown = Vec::new();
        let mut lines = Vec::with_capacity(cart.lines().len());
        for (index, line) in cart.lines().iter().enumerate() {
            let Some(product) = self.catalog.product(&line.sku) else {
                unknown.push((index, line.sku.clone()));
                continue;
            };
            let quantity = line.quantity.get();
            lines.push(PricedLine {
                sku: product.sku.clone(),
                name: product.name.clone(),
                quantity: line.quantity,
                unit_price: product.unit_price,
                line_total: product.unit_price.checked_mul(quantity)?,
                weight: Grams(product.weight.0.checked_mul(u64::from(quantity)).ok_or(MoneyError::Overflow)?),
            });
        }
        if !unknown.is_empty() {
            return Err(PricingError::UnknownSkus(unknown));
        }

        let subtotal = Money::sum(currency, lines.iter().map(|l| l.line_total))?;
        let discount = match promotion {
            None => Money::zero(currency),
            Some(code) => self
                .catalog
                .promotion(code)
                .ok_or_else(|| PromotionError::Unknown(code.clone()))?
                .discount_on(subtotal, at)?,
        };
        let merchandise = subtotal.checked_sub(discount)?;
        let weight = lines.iter().try_fold(Grams(0), |sum, line| sum.0.checked_add(line.weight.0).map(Grams));
        let weight = weight.ok_or(MoneyError::Overflow)?;
        let shipping_zone = ShippingZone::of(destination.country);
        let shipping = self.shipping.quote(shipping_zone, weight, merchandise)?;

        let tax_rate = self.tax.rate_for(destination);
        let taxable = if tax_rate.applies_to_shipping { merchandise.checked_add(shipping)? } else { merchandise };
        let tax = taxable.checked_fraction(u64::from(tax_rate.parts_per_million), 1_000_000)?;
        let total = merchandise.checked_add(shipping)?.checked_add(tax)?;

        Ok(Quote {
            lines,
            pricing: Pricing { currency, subtotal, discount, shipping, tax, total, tax_rate, shipping_zone },
            weight,
        })
    }
}

#[cfg(test)]
mod tests;
