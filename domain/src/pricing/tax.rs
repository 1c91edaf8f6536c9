//! Sales tax and VAT by destination.
//!
//! The built-in [`RateTable`] knows a handful of US states and countries, enough to run and test
//! the product. Tax law is not ours to encode: production plugs a tax service (Stripe Tax,
//! Avalara, TaxJar) in behind [`TaxPolicy`].

use serde::{Deserialize, Serialize};

use crate::address::{CountryCode, PostalAddress};

/// A tax rate for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxRate {
    /// Where the tax is owed, for the invoice: `US-CA`, `DE`.
    pub jurisdiction: String,
    /// Parts per million of the taxable amount: 72 500 is 7.25 %, 88 750 is 8.875 %.
    pub parts_per_million: u32,
    /// Whether shipping charges are taxable there.
    pub applies_to_shipping: bool,
}

impl TaxRate {
    pub fn none(jurisdiction: impl Into<String>) -> Self {
        Self { jurisdiction: jurisdiction.into(), parts_per_million: 0, applies_to_shipping: false }
    }
}

/// Decides the tax rate owed on an order shipped to a destination.
pub trait TaxPolicy: Send + Sync + std::fmt::Debug {
    fn rate_for(&self, destination: &PostalAddress) -> TaxRate;
}

/// The built-in rate table: simplified state-level US sales tax (no county or city rates), and
/// standard VAT/GST rates added on top of prices for a few countries. Destinations it does not
/// list pay no tax (the store has no nexus there).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateTable;

/// (jurisdiction, rate in ppm, shipping taxable)
const US_STATES: &[(&str, u32, bool)] = &[
    ("CA", 72_500, false),
    ("NY", 40_000, true),
    ("TX", 62_500, true),
    ("WA", 65_000, true),
    ("FL", 60_000, true),
    ("IL", 62_500, false),
    ("NJ", 66_250, true),
    ("MA", 62_500, false),
    ("OR", 0, false),
    ("DE", 0, false),
];

const COUNTRIES: &[(&str, u32, bool)] = &[
    ("DE", 190_000, true),
    ("FR", 200_000, true),
    ("GB", 200_000, true),
    ("NL", 210_000, true),
    ("IE", 230_000, true),
    ("ES", 210_000, true),
    ("IT", 220_000, true),
    ("AU", 100_000, true),
    ("JP", 100_000, true),
];

/// Canadian GST, or HST where a province harmonised it, or GST + QST in Quebec.
const CA_PROVINCES: &[(&str, u32)] =
    &[("ON", 130_000), ("NS", 140_000), ("NB", 150_000), ("NL", 150_000), ("PE", 150_000), ("QC", 149_750)];
const CA_GST: u32 = 50_000;

impl TaxPolicy for RateTable {
    fn rate_for(&self, destination: &PostalAddress) -> TaxRate {
        let country = destination.country;
        let region = destination.region.as_ref().map(AsRef::as_ref);
        match country.as_str() {
            "US" => {
                let state = region.unwrap_or_default();
                let jurisdiction = format!("US-{state}");
                US_STATES.iter().find(|(s, ..)| *s == state).map_or_else(
                    || TaxRate::none(jurisdiction.clone()),
                    |&(_, parts_per_million, applies_to_shipping)| TaxRate {
                        jurisdiction: jurisdiction.clone(),
                        parts_per_million,
                        applies_to_shipping,
                    },
                )
            }
            "CA" => {
                let province = region.unwrap_or_default();
                let parts_per_million =
                    CA_PROVINCES.iter().find(|(p, _)| *p == province).map_or(CA_GST, |(_, rate)| *rate);
                TaxRate { jurisdiction: format!("CA-{province}"), parts_per_million, applies_to_shipping: true }
            }
            code => COUNTRIES.iter().find(|(c, ..)| *c == code).map_or_else(
                || TaxRate::none(country_jurisdiction(country)),
                |&(_, parts_per_million, applies_to_shipping)| TaxRate {
                    jurisdiction: code.to_owned(),
                    parts_per_million,
                    applies_to_shipping,
                },
            ),
        }
    }
}

fn country_jurisdiction(country: CountryCode) -> String {
    country.as_str().to_owned()
}
