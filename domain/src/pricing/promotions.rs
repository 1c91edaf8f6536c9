//! Promotion codes: a percentage or a fixed amount off the subtotal, with a minimum subtotal and
//! a validity window. One code per order.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Invalid;
use crate::money::{Currency, Money, MoneyError};

/// A code a customer types at checkout: 3 to 32 letters, digits and `-`, compared upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PromotionCode(String);

impl PromotionCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim().to_ascii_uppercase();
        if !(3..=32).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Invalid::new("must be 3 to 32 letters, digits and `-`"));
        }
        Ok(Self(code))
    }
}
string_newtype_conversions!(PromotionCode);

/// What a promotion takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Benefit {
    /// A whole percentage (1 to 100) of the subtotal, rounded like every computed amount.
    #[serde(rename_all = "camelCase")]
    PercentOff { percent: u32 },
    /// A fixed amount in minor units of the catalog's currency, never more than the subtotal.
    #[serde(rename_all = "camelCase")]
    AmountOff { amount: i64 },
}

/// A promotion on offer. (`deny_unknown_fields` does not combine with `flatten` in serde.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    pub code: PromotionCode,
    #[serde(flatten)]
    pub benefit: Benefit,
    /// The subtotal (minor units) an order must reach for the code to apply.
    #[serde(default)]
    pub minimum_subtotal: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// Exclusive: the code stops working at this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// Why a promotion code does not apply to an order. The messages are shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error("`{0}` is not a promotion code we know")]
    Unknown(PromotionCode),
    #[error("`{0}` is not valid yet")]
    NotYetValid(PromotionCode),
    #[error("`{0}` has expired")]
    Expired(PromotionCode),
    #[error("`{code}` needs a subtotal of at least {minimum}")]
    BelowMinimum { code: PromotionCode, minimum: Money },
    #[error("`{0}` is misconfigured: {1}")]
    Misconfigured(PromotionCode, &'static str),
}

impl Promotion {
    /// Checks the promotion's own consistency, as a catalog file is loaded.
    pub fn check(&self, _currency: Currency) -> Result<(), PromotionError> {
        let misconfigured = |why| Err(PromotionError::Misconfigured(self.code.clone(), why));
        match self.benefit {
            Benefit::PercentOff { percent } if !(1..=100).contains(&percent) => {
                return misconfigured("a percentage must be 1 to 100");
            }
            Benefit::AmountOff { amount } if amount <= 0 => return misconfigured("an amount off must be positive"),
            _ => {}
        }
        if self.minimum_subtotal < 0 {
            return misconfigured("the minimum subtotal must not be negative");
        }
        if self.valid_until <= self.valid_from {
            return misconfigured("the validity window is empty");
        }
        Ok(())
    }

    /// The discount this promotion gives on `subtotal` at instant `at`: never more than the
    /// subtotal, never negative.
    pub fn discount_on(&self, subtotal: Money, at: OffsetDateTime) -> Result<Money, PromotionError> {
        if at < self.valid_from {
            return Err(PromotionError::NotYetValid(self.code.clone()));
        }
        if at >= self.valid_until {
            return Err(PromotionError::Expired(self.code.clone()));
        }
        let minimum = Money::new(self.minimum_subtotal, subtotal.currency());
        if subtotal.minor() < minimum.minor() {
            return Err(PromotionError::BelowMinimum { code: self.code.clone(), minimum });
        }
        let discount = match self.benefit {
            Benefit::PercentOff { percent } => subtotal.checked_fraction(u64::from(percent), 100),
            Benefit::AmountOff { amount } => Money::new(amount, subtotal.currency()).min(subtotal),
        };
        // The amounts share one currency and percent <= 100, so this cannot fail for a checked
        // promotion; map it rather than panic if it ever does.
        discount.map_err(|_: MoneyError| PromotionError::Misconfigured(self.code.clone(), "discount out of range"))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn promotion(benefit: Benefit, minimum_subtotal: i64) -> Promotion {
        Promotion {
            code: PromotionCode::parse("save").unwrap(),
            benefit,
            minimum_subtotal,
            valid_from: datetime!(2026-01-01 0:00 UTC),
            valid_until: datetime!(2027-01-01 0:00 UTC),
        }
    }

    const DURING: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn a_percentage_off_is_rounded_half_away_from_zero() {
        let ten_percent = promotion(Benefit::PercentOff { percent: 10 }, 0);
        assert_eq!(ten_percent.discount_on(usd(1005), DURING), Ok(usd(101))); // 100.5 -> 101
        assert_eq!(ten_percent.discount_on(usd(1004), DURING), Ok(usd(100))); // 100.4 -> 100
    }

    #[test]
    fn a_fixed_amount_never_exceeds_the_subtotal() {
        let fifteen_off = promotion(Benefit::AmountOff { amount: 1500 }, 0);
        assert_eq!(fifteen_off.discount_on(usd(999), DURING), Ok(usd(999)));
        assert_eq!(fifteen_off.discount_on(usd(5000), DURING), Ok(usd(1500)));
    }

    #[test]
    fn a_code_applies_only_inside_its_window_and_above_its_minimum() {
        let code = promotion(Benefit::PercentOff { percent: 5 }, 2000);
        assert!(matches!(
            code.discount_on(usd(5000), datetime!(2025-12-31 23:59:59 UTC)),
            Err(PromotionError::NotYetValid(_))
        ));
        assert!(matches!(code.discount_on(usd(5000), datetime!(2027-01-01 0:00 UTC)), Err(PromotionError::Expired(_))));
        assert!(matches!(code.discount_on(usd(1999), DURING), Err(PromotionError::BelowMinimum { .. })));
        assert_eq!(code.discount_on(usd(2000), DURING), Ok(usd(100)));
    }

    #[test]
    fn misconfigured_promotions_are_refused_at_load() {
        assert!(promotion(Benefit::PercentOff { percent: 0 }, 0).check(Currency::Usd).is_err());
        assert!(promotion(Benefit::PercentOff { percent: 101 }, 0).check(Currency::Usd).is_err());
        assert!(promotion(Benefit::AmountOff { amount: 0 }, 0).check(Currency::Usd).is_err());
    }
}
