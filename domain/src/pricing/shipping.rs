//! Shipping cost by parcel weight and destination zone, free above a threshold at home.

use serde::{Deserialize, Serialize};

use crate::address::CountryCode;
use crate::catalog::Grams;
use crate::money::{Money, MoneyError};

/// Where a parcel goes, seen from the store's warehouse in the United States.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ShippingZone {
    Domestic,
    NorthAmerica,
    Europe,
    International,
}

pub(crate) const EUROPE: &str = "AD AL AT BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU \
LV MC MD ME MK MT NL NO PL PT RO RS SE SI SK SM UA VA";

impl ShippingZone {
    pub fn of(country: CountryCode) -> Self {
        match country.as_str() {
            "US" | "PR" | "GU" | "VI" | "AS" | "MP" => Self::Domestic,
            "CA" | "MX" => Self::NorthAmerica,
            _ if crate::address::lists_code(EUROPE, country.bytes()) => Self::Europe,
            _ => Self::International,
        }
    }
}

/// A zone's tariff: a base price covering the first kilogram, plus a price per started 500 g
/// beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tariff {
    pub first_kilogram: i64,
    pub per_extra_half_kilogram: i64,
}

/// The store's shipping rates, in minor units of the catalog currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingRates {
    pub domestic: Tariff,
    pub north_america: Tariff,
    pub europe: Tariff,
    pub international: Tariff,
    /// Domestic orders whose merchandise (subtotal less discount) reaches this ship free.
    pub free_domestic_from: i64,
}

impl Default for ShippingRates {
    fn default() -> Self {
        Self {
            domestic: Tariff { first_kilogram: 599, per_extra_half_kilogram: 150 },
            north_america: Tariff { first_kilogram: 1499, per_extra_half_kilogram: 300 },
            europe: Tariff { first_kilogram: 1999, per_extra_half_kilogram: 400 },
            international: Tariff { first_kilogram: 2999, per_extra_half_kilogram: 600 },
            free_domestic_from: 10_000,
        }
    }
}

impl ShippingRates {
    /// The shipping charge for a parcel of `weight` to `zone`, given the merchandise value after
    /// discount (which decides free shipping).
    pub fn quote(&self, zone: ShippingZone, weight: Grams, merchandise: Money) -> Result<Money, MoneyError> {
        let currency = merchandise.currency();
        if zone == ShippingZone::Domestic && merchandise.minor() >= self.free_domestic_from {
            return Ok(Money::zero(currency));
        }
        let tariff = match zone {
            ShippingZone::Domestic => self.domestic,
            ShippingZone::NorthAmerica => self.north_america,
            ShippingZone::Europe => self.europe,
            ShippingZone::International => self.international,
        };
        let extra_half_kilograms = weight.0.saturating_sub(1000).div_ceil(500);
        let extra_half_kilograms = u32::try_from(extra_half_kilograms).map_err(|_| MoneyError::Overflow)?;
        Money::new(tariff.per_extra_half_kilogram, currency)
            .checked_mul(extra_half_kilograms)?
            .checked_add(Money::new(tariff.first_kilogram, currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn the_first_kilogram_costs_the_base_price() {
        let rates = ShippingRates::default();
        assert_eq!(rates.quote(ShippingZone::Domestic, Grams(1), usd(1000)), Ok(usd(599)));
        assert_eq!(rates.quote(ShippingZone::Domestic, Grams(1000), usd(1000)), Ok(usd(599)));
    }

    #[test]
    fn every_started_half_kilogram_beyond_the_first_kilogram_costs_extra() {
        let rates = ShippingRates::default();
        assert_eq!(rates.quote(ShippingZone::Europe, Grams(1001), usd(1000)), Ok(usd(1999 + 400)));
        assert_eq!(rates.quote(ShippingZone::Europe, Grams(2000), usd(1000)), Ok(usd(1999 + 800)));
        assert_eq!(rates.quote(ShippingZone::Europe, Grams(2001), usd(1000)), Ok(usd(1999 + 1200)));
    }

    #[test]
    fn domestic_orders_from_the_threshold_ship_free_and_others_do_not() {
        let rates = ShippingRates::default();
        assert_eq!(rates.quote(ShippingZone::Domestic, Grams(5000), usd(10_000)), Ok(usd(0)));
        assert_eq!(rates.quote(ShippingZone::Domestic, Grams(500), usd(9_999)), Ok(usd(599)));
        assert_eq!(rates.quote(ShippingZone::NorthAmerica, Grams(500), usd(50_000)), Ok(usd(1499)));
    }

    #[test]
    fn zones_follow_the_destination_country() {
        let zone = |c| ShippingZone::of(CountryCode::parse(c).unwrap());
        assert_eq!(zone("US"), ShippingZone::Domestic);
        assert_eq!(zone("MX"), ShippingZone::NorthAmerica);
        assert_eq!(zone("DE"), ShippingZone::Europe);
        assert_eq!(zone("JP"), ShippingZone::International);
    }
}
