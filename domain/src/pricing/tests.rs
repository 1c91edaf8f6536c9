use proptest::prelude::*;
use time::macros::datetime;

use super::*;
use crate::address::AddressFields;
use crate::cart::CartLine;
use crate::catalog::MAX_UNIT_PRICE_MINOR;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn catalog() -> Catalog {
    Catalog::from_json(
        r#"{"currency":"USD","products":[
        {"sku":"MUG","name":"Mug","description":"","unitPrice":1400,"weightGrams":380,"category":"kitchen","stock":10},
        {"sku":"PEN","name":"Pen","description":"","unitPrice":333,"weightGrams":20,"category":"office","stock":10},
        {"sku":"TENT","name":"Tent","description":"","unitPrice":39900,"weightGrams":1400,"category":"outdoor","stock":10}],
        "promotions":[
        {"code":"TEN","kind":"percentOff","percent":10,"validFrom":"2026-01-01T00:00:00Z","validUntil":"2027-01-01T00:00:00Z"},
        {"code":"FIVER","kind":"amountOff","amount":500,"minimumSubtotal":1000,"validFrom":"2026-01-01T00:00:00Z","validUntil":"2027-01-01T00:00:00Z"}]}"#,
    )
    .unwrap()
}

fn address(country: &str, region: Option<&str>, postal_code: &str) -> PostalAddress {
    PostalAddress::parse(&AddressFields {
        name: "Ada Lovelace",
        line1: "1 Main Street",
        line2: None,
        city: "Somewhere",
        region,
        postal_code,
        country,
    })
    .unwrap()
}

fn cart(lines: &[(&str, i64)]) -> Cart {
    Cart::new(
        lines
            .iter()
            .map(|(sku, q)| CartLine { sku: Sku::parse(sku).unwrap(), quantity: Quantity::parse(*q).unwrap() })
            .collect(),
    )
    .unwrap()
}

fn quote(cart: &Cart, destination: &PostalAddress, code: Option<&str>) -> Result<Quote, PricingError> {
    let catalog = catalog();
    let pricer = Pricer { catalog: &catalog, tax: &tax::RateTable, shipping: &ShippingRates::default() };
    let code = code.map(|c| PromotionCode::parse(c).unwrap());
    pricer.quote(cart, destination, code.as_ref(), NOW)
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

#[test]
fn prices_come_from_the_catalog_line_by_line() {
    let q = quote(&cart(&[("MUG", 2), ("PEN", 3)]), &address("US", Some("OR"), "97201"), None).unwrap();
    assert_eq!(q.lines[0].unit_price, usd(1400));
    assert_eq!(q.lines[0].line_total, usd(2800));
    assert_eq!(q.lines[1].line_total, usd(999));
    assert_eq!(q.pricing.subtotal, usd(3799));
    assert_eq!(q.weight, Grams(820));
}

#[test]
fn an_order_in_california_pays_state_tax_on_merchandise_but_not_on_shipping() {
    // 2 mugs = 28.00; shipping 5.99 (under 1 kg); tax 7.25% of 28.00 = 2.03
    let q = quote(&cart(&[("MUG", 2)]), &address("US", Some("CA"), "95014"), None).unwrap();
    assert_eq!(q.pricing.shipping, usd(599));
    assert_eq!(q.pricing.tax, usd(203));
    assert_eq!(q.pricing.total, usd(2800 + 599 + 203));
}

#[test]
fn tax_is_rounded_once_on_the_order_with_halves_away_from_zero() {
    // New Jersey 6.625% on (3 pens = 9.99 + shipping 5.99 = 15.98) = 105.8675 cents -> 106
    let q = quote(&cart(&[("PEN", 3)]), &address("US", Some("NJ"), "07001"), None).unwrap();
    assert_eq!(q.pricing.tax, usd(106));
    // California 7.25% of one mug (14.00) is exactly 101.5 cents: the half goes up, to 102.
    let q = quote(&cart(&[("MUG", 1)]), &address("US", Some("CA"), "95014"), None).unwrap();
    assert_eq!(q.pricing.tax, usd(102));
    // Germany 19% of (2 pens 6.66 + shipping 19.99 = 26.65) is 506.35 cents -> 506.
    let q = quote(&cart(&[("PEN", 2)]), &address("DE", None, "10115"), None).unwrap();
    assert_eq!(q.pricing.tax, usd(506));
}

#[test]
fn a_percent_discount_is_rounded_once_half_away_from_zero() {
    // 10% of 3 pens (9.99) is 99.9 cents -> 100
    let q = quote(&cart(&[("PEN", 3)]), &address("US", Some("OR"), "97201"), Some("ten")).unwrap();
    assert_eq!(q.pricing.discount, usd(100));
    // 10% of 5 pens (16.65) is 166.5 cents -> 167
    let q = quote(&cart(&[("PEN", 5)]), &address("US", Some("OR"), "97201"), Some("TEN")).unwrap();
    assert_eq!(q.pricing.discount, usd(167));
}

#[test]
fn free_shipping_counts_merchandise_after_the_discount() {
    // 8 mugs = 112.00 ships free; with 10% off it is 100.80, still free; 7 mugs (98.00) is not.
    let oregon = address("US", Some("OR"), "97201");
    assert_eq!(quote(&cart(&[("MUG", 8)]), &oregon, Some("TEN")).unwrap().pricing.shipping, usd(0));
    // 7 mugs weigh 2660 g: the first kilogram plus four started half kilograms.
    assert_eq!(quote(&cart(&[("MUG", 7)]), &oregon, None).unwrap().pricing.shipping.minor(), 599 + 4 * 150);
}

#[test]
fn unknown_skus_are_all_reported_with_their_line() {
    let err = quote(&cart(&[("MUG", 1), ("NOPE-1", 1), ("NOPE-2", 1)]), &address("US", Some("OR"), "97201"), None);
    let Err(PricingError::UnknownSkus(unknown)) = err else { panic!("expected unknown SKUs, got {err:?}") };
    assert_eq!(unknown.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn an_unknown_or_inapplicable_promotion_code_is_an_error() {
    let oregon = address("US", Some("OR"), "97201");
    assert!(matches!(
        quote(&cart(&[("MUG", 1)]), &oregon, Some("BOGUS")),
        Err(PricingError::Promotion(promotions::PromotionError::Unknown(_)))
    ));
    assert!(matches!(
        quote(&cart(&[("PEN", 1)]), &oregon, Some("FIVER")),
        Err(PricingError::Promotion(promotions::PromotionError::BelowMinimum { .. }))
    ));
}

#[test]
fn the_largest_possible_cart_of_the_most_expensive_products_prices_without_overflow() {
    let products: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"sku":"P-{i}","name":"P","description":"","unitPrice":{MAX_UNIT_PRICE_MINOR},"weightGrams":1000000,"category":"x","stock":1}}"#
            )
        })
        .collect();
    let catalog = Catalog::from_json(&format!(r#"{{"currency":"USD","products":[{}]}}"#, products.join(","))).unwrap();
    let lines = (0..100).map(|i| (format!("P-{i}"), 999)).collect::<Vec<_>>();
    let cart = cart(&lines.iter().map(|(s, q)| (s.as_str(), *q)).collect::<Vec<_>>());
    let pricer = Pricer { catalog: &catalog, tax: &tax::RateTable, shipping: &ShippingRates::default() };
    let q = pricer.quote(&cart, &address("DE", None, "10115"), None, NOW).unwrap();
    assert!(q.pricing.total.minor() > 0);
}

fn destinations() -> impl Strategy<Value = PostalAddress> {
    prop_oneof![
        Just(address("US", Some("CA"), "95014")),
        Just(address("US", Some("NY"), "10001")),
        Just(address("US", Some("NJ"), "07001")),
        Just(address("US", Some("OR"), "97201")),
        Just(address("CA", Some("QC"), "H2X 1Y4")),
        Just(address("DE", None, "10115")),
        Just(address("JP", None, "100-0001")),
        Just(address("BR", None, "01310-100")),
    ]
}

fn carts() -> impl Strategy<Value = Cart> {
    proptest::sample::subsequence(vec!["MUG", "PEN", "TENT"], 1..=3).prop_flat_map(|skus| {
        proptest::collection::vec(1_i64..=999, skus.len())
            .prop_map(move |quantities| cart(&skus.iter().copied().zip(quantities).collect::<Vec<_>>()))
    })
}

proptest! {
    #[test]
    fn the_total_is_subtotal_minus_discount_plus_tax_plus_shipping(
        cart in carts(),
        destination in destinations(),
        code in prop_oneof![Just(None), Just(Some("TEN")), Just(Some("FIVER"))],
    ) {
        let Ok(q) = quote(&cart, &destination, code) else {
            // FIVER below its minimum is the only refusal possible here.
            prop_assert_eq!(code, Some("FIVER"));
            return Ok(());
        };
        let p = &q.pricing;
        prop_assert_eq!(
            p.total.minor(),
            p.subtotal.minor() - p.discount.minor() + p.tax.minor() + p.shipping.minor()
        );
        for amount in [p.subtotal, p.discount, p.tax, p.shipping, p.total] {
            prop_assert!(!amount.is_negative(), "{amount} is negative");
            prop_assert_eq!(amount.currency(), Currency::Usd);
        }
        prop_assert!(p.discount.minor() <= p.subtotal.minor());
        prop_assert_eq!(p.subtotal.minor(), q.lines.iter().map(|l| l.line_total.minor()).sum::<i64>());
    }

    #[test]
    fn tax_is_the_rate_applied_once_and_rounded_half_away_from_zero(
        cart in carts(),
        destination in destinations(),
    ) {
        let q = quote(&cart, &destination, None).unwrap();
        let p = &q.pricing;
        let taxable = i128::from(p.subtotal.minor() - p.discount.minor())
            + if p.tax_rate.applies_to_shipping { i128::from(p.shipping.minor()) } else { 0 };
        let exact_millionths = taxable * i128::from(p.tax_rate.parts_per_million);
        // |tax - exact| <= 1/2 cent, and exactly half a cent rounds up (amounts are positive).
        let diff = i128::from(p.tax.minor()) * 1_000_000 - exact_millionths;
        prop_assert!(diff > -500_000 && diff <= 500_000, "tax {} vs exact {}/1e6", p.tax.minor(), exact_millionths);
    }
}
