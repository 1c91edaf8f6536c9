//! The products the store sells. Prices come from here, never from a client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::money::{Currency, Money};
use crate::pricing::promotions::{Promotion, PromotionCode};

/// A stock-keeping unit: 3 to 32 upper-case letters, digits and `-`, starting with a letter or
/// digit. Lower case input is accepted and upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let sku = raw.trim().to_ascii_uppercase();
        if !(3..=32).contains(&sku.len()) {
            return Err(Invalid::new("must be 3 to 32 characters"));
        }
        if !sku.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-') || sku.starts_with('-') {
            return Err(Invalid::new("may contain only letters, digits and `-`, and must not start with `-`"));
        }
        Ok(Self(sku))
    }
}
string_newtype_conversions!(Sku);

/// A parcel weight in grams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grams(pub u64);

/// A product of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub description: String,
    pub unit_price: Money,
    pub weight: Grams,
    pub category: String,
    /// Units on hand when a store is first seeded from the catalog file. Live stock levels are
    /// kept by the `Inventory` port, not here.
    pub initial_stock: u32,
}

/// The catalog: products by SKU and the promotion codes on offer, all in one currency.
#[derive(Debug, Clone)]
pub struct Catalog {
    currency: Currency,
    products: BTreeMap<Sku, Product>,
    promotions: BTreeMap<PromotionCode, Promotion>,
}

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is not valid JSON of the expected shape")]
    Json(#[from] serde_json::Error),
    #[error("product #{index} ({sku}): {problem}")]
    Product { index: usize, sku: String, problem: String },
    #[error("promotion #{index} ({code}): {problem}")]
    Promotion { index: usize, code: String, problem: String },
}

/// The most a single unit may cost, in minor units. It keeps every order total (at most 100
/// lines of 999 units) far inside `i64`, so pricing a valid cart can never overflow.
pub const MAX_UNIT_PRICE_MINOR: i64 = 100_000_000_000;

/// The heaviest a single unit may be (1 tonne): keeps parcel weights far inside `u64`.
pub const MAX_UNIT_WEIGHT: Grams = Grams(1_000_000);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CatalogFile {
    currency: Currency,
    products: Vec<ProductRecord>,
    #[serde(default)]
    promotions: Vec<Promotion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProductRecord {
    sku: String,
    name: String,
    description: String,
    /// Minor units of the catalog's currency.
    unit_price: i64,
    weight_grams: u64,
    category: String,
    stock: u32,
}

impl Catalog {
    /// Loads a catalog file (see `data/catalog.json`), refusing duplicates and implausible values.
    pub fn from_json(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        let mut products = BTreeMap::new();
        for (index, record) in file.products.into_iter().enumerate() {
            let problem =
                |problem: &str| CatalogError::Product { index, sku: record.sku.clone(), problem: problem.to_owned() };
            let sku = Sku::parse(&record.sku).map_err(|e| problem(e.reason()))?;
            if record.name.trim().is_empty() {
                return Err(problem("has no name"));
            }
            if !(1..=MAX_UNIT_PRICE_MINOR).contains(&record.unit_price) {
                return Err(problem("unit price must be positive and at most 1,000,000,000.00"));
            }
            if Grams(record.weight_grams) > MAX_UNIT_WEIGHT {
                return Err(problem("weighs more than one tonne"));
            }
            let product = Product {
                sku: sku.clone(),
                name: record.name,
                description: record.description,
                unit_price: Money::new(record.unit_price, file.currency),
                weight: Grams(record.weight_grams),
                category: record.category,
                initial_stock: record.stock,
            };
            if products.insert(sku, product).is_some() {
                return Err(problem("appears twice"));
            }
        }
        let mut promotions = BTreeMap::new();
        for (index, promotion) in file.promotions.into_iter().enumerate() {
            let problem =
                |problem: String| CatalogError::Promotion { index, code: promotion.code.to_string(), problem };
            promotion.check(file.currency).map_err(|e| problem(e.to_string()))?;
            if promotions.contains_key(&promotion.code) {
                return Err(problem("appears twice".to_owned()));
            }
            promotions.insert(promotion.code.clone(), promotion);
        }
        Ok(Self { currency: file.currency, products, promotions })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn product(&self, sku: &Sku) -> Option<&Product> {
        self.products.get(sku)
    }

    /// Every product, in SKU order.
    pub fn products(&self) -> impl ExactSizeIterator<Item = &Product> {
        self.products.values()
    }

    pub fn promotion(&self, code: &PromotionCode) -> Option<&Promotion> {
        self.promotions.get(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_upper_cased_and_checked() {
        assert_eq!(Sku::parse(" mug-blue-01 ").unwrap().as_ref(), "MUG-BLUE-01");
        assert!(Sku::parse("ab").is_err());
        assert!(Sku::parse("-ABC").is_err());
        assert!(Sku::parse("MUG_BLUE").is_err());
    }

    #[test]
    fn a_catalog_with_a_duplicate_sku_is_refused() {
        let json = r#"{"currency":"USD","products":[
            {"sku":"A-1","name":"A","description":"","unitPrice":100,"weightGrams":1,"category":"x","stock":1},
            {"sku":"a-1","name":"B","description":"","unitPrice":100,"weightGrams":1,"category":"x","stock":1}]}"#;
        assert!(matches!(Catalog::from_json(json), Err(CatalogError::Product { index: 1, .. })));
    }

    #[test]
    fn a_catalog_with_a_free_product_is_refused() {
        let json = r#"{"currency":"USD","products":[
            {"sku":"A-1","name":"A","description":"","unitPrice":0,"weightGrams":1,"category":"x","stock":1}]}"#;
        assert!(Catalog::from_json(json).is_err());
    }

    #[test]
    fn the_seed_catalog_loads_with_at_least_twenty_products() {
        let catalog = Catalog::from_json(include_str!("../../data/catalog.json")).unwrap();
        assert!(catalog.products().len() >= 20);
        assert_eq!(catalog.currency(), Currency::Usd);
    }
}
