//! How figures and facts read on a document: amounts, rates, dates and reasons in plain words.
//!
//! The invoice and the emails share these, so an amount reads the same in the PDF, in the HTML
//! and in the plain text of a message.

use orderflow_domain::Money;
use orderflow_domain::address::PostalAddress;
use orderflow_domain::order::CancellationReason;
use orderflow_domain::pricing::tax::TaxRate;
use time::{Date, Month, OffsetDateTime, UtcOffset};

/// An amount for people: the ISO code, then the amount with its currency's minor-unit digits and
/// thousands grouped: `USD 1,234.56`, `USD -0.05`, `JPY 1,500`.
///
/// The code comes first, as in the domain's `Display`, because a symbol (`$`) is ambiguous
/// between USD, CAD and AUD, all of which the store may price in.
pub fn money(amount: Money) -> String {
    let digits = amount.currency().minor_unit_digits();
    let scale = 10_u64.pow(digits);
    let abs = amount.minor().unsigned_abs();
    let sign = if amount.is_negative() { "-" } else { "" };
    let major = group_thousands(abs / scale);
    let code = amount.currency().code();
    if digits == 0 {
        format!("{code} {sign}{major}")
    } else {
        let width = digits as usize;
        format!("{code} {sign}{major}.{:0width$}", abs % scale)
    }
}

/// The amount with the opposite sign, for credit notes and discounts; `None` only for an amount
/// no order can reach (`i64::MIN` minor units).
pub fn negated(amount: Money) -> Option<Money> {
    amount.minor().checked_neg().map(|minor| Money::new(minor, amount.currency()))
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A tax rate given in parts per million, as a percentage with only the digits it needs:
/// `72_500` is `7.25%`, `88_750` is `8.875%`, `190_000` is `19%`.
pub fn percentage(parts_per_million: u32) -> String {
    let whole = parts_per_million / 10_000;
    let fraction = parts_per_million % 10_000;
    if fraction == 0 {
        return format!("{whole}%");
    }
    let fraction = format!("{fraction:04}");
    format!("{whole}.{}%", fraction.trim_end_matches('0'))
}

/// The tax line's label: where the tax is owed and its rate, and whether shipping was taxed too:
/// `Tax US-CA 7.25%`, `Tax DE 19% on goods and shipping`.
pub fn tax_label(rate: &TaxRate) -> String {
    let base = if rate.applies_to_shipping { " on goods and shipping" } else { "" };
    format!("Tax {} {}{base}", rate.jurisdiction, percentage(rate.parts_per_million))
}

/// A calendar date as ISO 8601 (`2026-11-25`): unambiguous on an invoice read anywhere.
pub fn iso_date(at: OffsetDateTime) -> String {
    let date = at.to_offset(UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// A date for a sentence: `25 November 2026`.
pub fn long_date(at: OffsetDateTime) -> String {
    let date: Date = at.to_offset(UtcOffset::UTC).date();
    format!("{} {} {}", date.day(), month_name(date.month()), date.year())
}

fn month_name(month: Month) -> &'static str {
    match month {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

/// A postal address as the lines a label or an invoice prints, country last.
pub fn address_lines(address: &PostalAddress) -> Vec<String> {
    let mut lines = vec![address.name.to_string(), address.line1.clone()];
    lines.extend(address.line2.clone());
    let locality = match &address.region {
        Some(region) => format!("{}, {region} {}", address.city, address.postal_code),
        None => format!("{} {}", address.postal_code, address.city),
    };
    lines.push(locality);
    lines.push(address.country.to_string());
    lines
}

/// Why an order was cancelled, as a short label: "Payment declined".
pub fn reason_label(reason: CancellationReason) -> &'static str {
    match reason {
        CancellationReason::OutOfStock => "Out of stock",
        CancellationReason::PaymentDeclined => "Payment declined",
        CancellationReason::PaymentRequiresAction => "Payment needed authentication",
        CancellationReason::AddressUndeliverable => "Address undeliverable",
        CancellationReason::CarrierUnavailable => "No carrier available",
        CancellationReason::CustomerRequest => "Cancelled at the customer's request",
        CancellationReason::InternalError => "Cancelled after an error on our side",
    }
}

/// Why an order was cancelled, as the end of the sentence "We cancelled your order because …".
pub fn reason_clause(reason: CancellationReason) -> &'static str {
    match reason {
        CancellationReason::OutOfStock => "some of the items you ordered are out of stock",
        CancellationReason::PaymentDeclined => "your payment was declined",
        CancellationReason::PaymentRequiresAction => {
            "your bank asked you to confirm the payment, which we cannot do on your behalf"
        }
        CancellationReason::AddressUndeliverable => "no carrier we work with can deliver to your shipping address",
        CancellationReason::CarrierUnavailable => "no carrier was able to take your parcel",
        CancellationReason::CustomerRequest => "you asked us to",
        CancellationReason::InternalError => "of a problem on our side",
    }
}

#[cfg(test)]
mod tests {
    use orderflow_domain::Currency;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn amounts_show_the_currency_code_minor_digits_and_grouped_thousands() {
        assert_eq!(money(Money::new(3602, Currency::Usd)), "USD 36.02");
        assert_eq!(money(Money::new(123_456_789, Currency::Eur)), "EUR 1,234,567.89");
        assert_eq!(money(Money::new(-5, Currency::Usd)), "USD -0.05");
        assert_eq!(money(Money::new(0, Currency::Gbp)), "GBP 0.00");
        assert_eq!(money(Money::new(100_000, Currency::Usd)), "USD 1,000.00");
    }

    #[test]
    fn zero_decimal_currencies_have_no_minor_digits() {
        assert_eq!(money(Money::new(1500, Currency::Jpy)), "JPY 1,500");
        assert_eq!(money(Money::new(-999, Currency::Jpy)), "JPY -999");
    }

    #[test]
    fn the_most_negative_amount_cannot_be_negated_and_says_so() {
        assert_eq!(negated(Money::new(i64::MIN, Currency::Usd)), None);
        assert_eq!(negated(Money::new(7, Currency::Usd)), Some(Money::new(-7, Currency::Usd)));
        assert_eq!(money(Money::new(i64::MIN, Currency::Usd)), "USD -92,233,720,368,547,758.08");
    }

    #[test]
    fn tax_rates_read_as_percentages_with_only_the_digits_they_need() {
        assert_eq!(percentage(72_500), "7.25%");
        assert_eq!(percentage(88_750), "8.875%");
        assert_eq!(percentage(190_000), "19%");
        assert_eq!(percentage(149_750), "14.975%");
        assert_eq!(percentage(0), "0%");
        assert_eq!(percentage(1), "0.0001%");
    }

    #[test]
    fn the_tax_label_names_the_jurisdiction_the_rate_and_whether_shipping_was_taxed() {
        let california =
            TaxRate { jurisdiction: "US-CA".to_owned(), parts_per_million: 72_500, applies_to_shipping: false };
        assert_eq!(tax_label(&california), "Tax US-CA 7.25%");
        let germany = TaxRate { jurisdiction: "DE".to_owned(), parts_per_million: 190_000, applies_to_shipping: true };
        assert_eq!(tax_label(&germany), "Tax DE 19% on goods and shipping");
    }

    #[test]
    fn dates_read_in_utc_whatever_the_offset() {
        let at = datetime!(2026-11-25 23:30 -05:00);
        assert_eq!(iso_date(at), "2026-11-26");
        assert_eq!(long_date(at), "26 November 2026");
    }
}
