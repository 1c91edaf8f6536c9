//! Money as integer minor units of one currency.
//!
//! Amounts never pass through floating point. Arithmetic is checked: an overflow or a mix of
//! currencies is an error, never a wrapped or silently converted value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency this store can price in.
///
/// The list is deliberately closed: a currency we have not thought about (its minor unit, how a
/// payment partner spells it) is rejected at the boundary rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    Usd,
    Eur,
    Gbp,
    Cad,
    Aud,
    Chf,
    Jpy,
}

impl Currency {
    /// The ISO 4217 alphabetic code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Gbp => "GBP",
            Self::Cad => "CAD",
            Self::Aud => "AUD",
            Self::Chf => "CHF",
            Self::Jpy => "JPY",
        }
    }

    /// How many decimal digits the minor unit has (2 for cents, 0 for yen).
    pub const fn minor_unit_digits(self) -> u32 {
        match self {
            Self::Jpy => 0,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The input was not an ISO 4217 code this store supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported ISO 4217 currency code")]
pub struct UnsupportedCurrency(pub String);

impl FromStr for Currency {
    type Err = UnsupportedCurrency;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Ok(match code {
            "USD" => Self::Usd,
            "EUR" => Self::Eur,
            "GBP" => Self::Gbp,
            "CAD" => Self::Cad,
            "AUD" => Self::Aud,
            "CHF" => Self::Chf,
            "JPY" => Self::Jpy,
            other => return Err(UnsupportedCurrency(other.to_owned())),
        })
    }
}

impl TryFrom<String> for Currency {
    type Error = UnsupportedCurrency;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.code().to_owned()
    }
}

/// Why an amount could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflows the representable range")]
    Overflow,
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
}

/// An amount of money: integer minor units (cents) of one currency.
///
/// Signed, because a refund or a credit note is a negative movement; the pricing rules keep every
/// amount they produce at zero or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The amount in minor units (cents for USD).
    pub const fn minor(self) -> i64 {
        self.minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub const fn is_zero(self) -> bool {
        self.minor == 0
    }

    pub const fn is_negative(self) -> bool {
        self.minor < 0
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Self::new(minor, self.currency))
    }

    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Self::new(minor, self.currency))
    }

    /// The amount times a whole count (a unit price times a quantity).
    pub fn checked_mul(self, count: u32) -> Result<Self, MoneyError> {
        let minor = self.minor.checked_mul(i64::from(count)).ok_or(MoneyError::Overflow)?;
        Ok(Self::new(minor, self.currency))
    }

    /// The part of this amount given by `numerator / denominator`, rounded to the nearest minor
    /// unit with halves away from zero ("commercial rounding").
    ///
    /// This is the only rounding in the pricing rules: percentages and tax rates are applied once,
    /// to an order-level amount, so there is exactly one rounding per computed figure.
    pub fn checked_fraction(self, numerator: u64, denominator: u64) -> Result<Self, MoneyError> {
        assert!(denominator > 0, "a fraction needs a positive denominator");
        let product = i128::from(self.minor) * i128::from(numerator);
        let minor = div_round_half_away_from_zero(product, i128::from(denominator));
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Self::new(minor, self.currency))
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.minor < self.minor { other } else { self })
    }

    /// Sums amounts that must all be in `currency`.
    pub fn sum(currency: Currency, amounts: impl IntoIterator<Item = Self>) -> Result<Self, MoneyError> {
        amounts.into_iter().try_fold(Self::zero(currency), Self::checked_add)
    }
}

impl fmt::Display for Money {
    /// `USD 12.34`, `JPY 500`, `USD -0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_unit_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{} {sign}{abs}", self.currency);
        }
        let scale = 10_u64.pow(digits);
        let width = digits as usize;
        write!(f, "{} {sign}{}.{:0width$}", self.currency, abs / scale, abs % scale)
    }
}

/// Integer division rounding to nearest, halves away from zero.
fn div_round_half_away_from_zero(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if 2 * remainder.abs() >= denominator.abs() {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn adding_amounts_of_one_currency_adds_their_minor_units() {
        assert_eq!(usd(150).checked_add(usd(275)), Ok(usd(425)));
    }

    #[test]
    fn adding_different_currencies_is_an_error() {
        let euros = Money::new(1, Currency::Eur);
        assert_eq!(
            usd(1).checked_add(euros),
            Err(MoneyError::CurrencyMismatch { left: Currency::Usd, right: Currency::Eur })
        );
    }

    #[test]
    fn an_overflowing_sum_is_an_error_not_a_wrap() {
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MAX / 2 + 1).checked_mul(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn fractions_round_half_away_from_zero() {
        // 12.5 cents -> 13, 12.49 -> 12, -12.5 -> -13
        assert_eq!(usd(125).checked_fraction(1, 10), Ok(usd(13)));
        assert_eq!(usd(1249).checked_fraction(1, 100), Ok(usd(12)));
        assert_eq!(usd(-125).checked_fraction(1, 10), Ok(usd(-13)));
        // 8.875% of $10.00 is 88.75 cents -> 89
        assert_eq!(usd(1000).checked_fraction(88_750, 1_000_000), Ok(usd(89)));
    }

    #[test]
    fn a_fraction_too_large_for_i64_is_an_overflow() {
        assert_eq!(usd(i64::MAX).checked_fraction(3, 2), Err(MoneyError::Overflow));
    }

    #[test]
    fn amounts_display_with_their_minor_unit_digits() {
        assert_eq!(usd(123_456).to_string(), "USD 1234.56");
        assert_eq!(usd(-5).to_string(), "USD -0.05");
        assert_eq!(Money::new(500, Currency::Jpy).to_string(), "JPY 500");
    }

    #[test]
    fn currency_codes_parse_and_unknown_ones_are_rejected() {
        assert_eq!("EUR".parse::<Currency>(), Ok(Currency::Eur));
        assert!("usd".parse::<Currency>().is_err());
        assert!("XXX".parse::<Currency>().is_err());
    }
}
