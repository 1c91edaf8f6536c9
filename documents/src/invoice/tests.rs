use orderflow_domain::catalog::Catalog;
use orderflow_domain::order::{CancellationReason, Order};

use super::*;
use crate::fixtures::{INVOICE_NUMBER, INVOICED_AT, an_order, large_catalog};

/// The text of every page of a PDF, read back by a PDF parser, and how many pages it has.
fn read_back(pdf: &[u8]) -> (usize, Vec<String>) {
    let document = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let texts = pages.iter().map(|&page| document.extract_text(&[page]).expect("the text extracts")).collect();
    (pages.len(), texts)
}

fn details() -> InvoiceDetails {
    InvoiceDetails { number: INVOICE_NUMBER.to_owned(), issued_at: INVOICED_AT }
}

fn invoice_text(order: &Order) -> (usize, String) {
    let pdf = render_invoice(order, details(), &Seller::default()).expect("the invoice renders");
    let (pages, texts) = read_back(&pdf);
    (pages, texts.concat())
}

#[test]
fn an_invoice_shows_its_number_the_order_every_sku_and_the_total() {
    let order = an_order().confirmed();
    let (pages, text) = invoice_text(&order);

    assert_eq!(pages, 1);
    assert!(text.contains(INVOICE_NUMBER), "{text}");
    assert!(text.contains(order.id.as_str()), "{text}");
    for line in &order.lines {
        assert!(text.contains(line.sku.as_ref()), "{} missing from {text}", line.sku);
        assert!(text.contains(&line.name), "{} missing from {text}", line.name);
        assert!(text.contains(&format::money(line.line_total)), "{text}");
    }
    assert!(text.contains(&format!("Total\n{}", format::money(order.pricing.total))), "{text}");
}

#[test]
fn an_invoice_names_the_seller_the_buyer_and_where_the_goods_ship() {
    let order = an_order().confirmed();
    let seller = Seller::default();
    let (_, text) = invoice_text(&order);

    for expected in [seller.name.as_str(), seller.tax_id.as_str(), seller.email.as_str(), seller.address[0].as_str()] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(text.contains(order.customer.name.as_ref()));
    assert!(text.contains(order.customer.email.as_str()));
    assert!(text.contains(&order.shipping_address.line1));
    assert!(text.contains(&iso_date_of_invoice()));
}

fn iso_date_of_invoice() -> String {
    format::iso_date(INVOICED_AT)
}

#[test]
fn an_invoice_itemises_discount_shipping_and_tax_with_its_rate() {
    let order = an_order().confirmed();
    let (_, text) = invoice_text(&order);
    let pricing = &order.pricing;

    assert!(!pricing.discount.is_zero(), "the fixture uses a promotion");
    let code = order.promo_code.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(text.contains(&format!("Discount ({code})")), "{text}");
    assert!(text.contains(&format::money(format::negated(pricing.discount).unwrap())), "{text}");
    assert!(text.contains(&format::money(pricing.subtotal)));
    assert!(text.contains(&format::money(pricing.shipping)));
    assert!(text.contains(&format::tax_label(&pricing.tax_rate)), "{text}");
    assert!(text.contains(&format::percentage(pricing.tax_rate.parts_per_million)), "{text}");
    assert!(text.contains(&format::money(pricing.tax)));
}

#[test]
fn an_invoice_without_a_promotion_has_no_discount_line() {
    let order = an_order().without_promotion().confirmed();
    let (_, text) = invoice_text(&order);
    assert!(!text.contains("Discount"), "{text}");
}

#[test]
fn a_hundred_line_order_flows_onto_more_pages_and_still_shows_the_total() {
    let order = an_order().with_every_product_of(large_catalog(100)).confirmed();
    assert_eq!(order.lines.len(), 100);

    let pdf = render_invoice(&order, details(), &Seller::default()).expect("the invoice renders");
    let (pages, texts) = read_back(&pdf);

    assert!(pages > 1, "100 lines cannot fit one page");
    let all = texts.concat();
    for line in &order.lines {
        assert_eq!(all.matches(&format!("{}\n", line.sku)).count(), 1, "{} appears once", line.sku);
    }
    let last = texts.last().expect("at least one page");
    assert!(last.contains(&format::money(order.pricing.total)), "{last}");
    let last_sku = order.lines.last().map(|line| line.sku.to_string()).unwrap_or_default();
    assert!(last.contains(&last_sku), "the totals never stand alone on the last page: {last}");
    for (index, text) in texts.iter().enumerate() {
        assert!(text.contains(&format!("Page {} of {pages}", index + 1)), "{text}");
        assert!(text.contains(INVOICE_NUMBER), "every page names the invoice");
    }
}

#[test]
fn names_outside_latin_1_are_replaced_and_do_not_break_rendering() {
    let order = an_order().named("李雷 Łukasz Żółć 😀").confirmed();
    let (_, text) = invoice_text(&order);
    assert!(text.contains("?? ?ukasz ?\u{f3}?? ?"), "{text}");
}

#[test]
fn latin_1_names_print_as_written() {
    let order = an_order().named("Zoë Müller-Façade").confirmed();
    let (_, text) = invoice_text(&order);
    assert!(text.contains("Zoë Müller-Façade"), "{text}");
}

#[test]
fn a_very_long_name_is_shortened_to_fit_not_drawn_over_the_shipping_address() {
    let name = "Bartholomew ".repeat(16);
    let order = an_order().named(name.trim()).confirmed();
    let (_, text) = invoice_text(&order);
    assert!(text.contains("Bartholomew Bartholomew"));
    assert!(text.contains('\u{2026}'), "the name is cut with an ellipsis");
}

#[test]
fn zero_decimal_currencies_print_without_minor_digits() {
    let yen = Catalog::from_json(
        r#"{"currency":"JPY","products":[
        {"sku":"MATCHA-40","name":"Matcha, 40 g","description":"","unitPrice":2480,"weightGrams":60,"category":"tea","stock":5}]}"#,
    )
    .expect("the catalog loads");
    let order = an_order().with_every_product_of(yen).confirmed();
    let (_, text) = invoice_text(&order);
    let total = format::money(order.pricing.total);
    assert!(!total.contains('.'), "{total}");
    assert!(text.contains(&total), "{text}");
    assert!(text.contains("JPY 2,480"), "{text}");
}

#[test]
fn rendering_the_same_invoice_twice_gives_the_same_bytes() {
    let order = an_order().confirmed();
    let seller = Seller::default();
    let first = render_invoice(&order, details(), &seller).expect("renders");
    let second = render_invoice(&order, details(), &seller).expect("renders");
    assert!(first.starts_with(b"%PDF-"));
    assert_eq!(first, second);
}

#[test]
fn an_invoice_can_be_rendered_again_from_its_record() {
    let order = an_order().invoiced();
    let record = order.invoice.as_ref().expect("the order is invoiced");
    let again = render_invoice(&order, record, &Seller::default()).expect("renders");
    let original = render_invoice(&order, details(), &Seller::default()).expect("renders");
    assert_eq!(again, original);
}

#[test]
fn a_credit_note_voids_the_invoice_with_negated_amounts_and_the_reason() {
    let order = an_order().declined_and_cancelled();
    let record = order.invoice.as_ref().expect("the order was invoiced");
    let credit_note = CreditNoteDetails::voiding(record, INVOICED_AT, Some(CancellationReason::PaymentDeclined));
    let pdf = render_credit_note(&order, &credit_note, &Seller::default()).expect("the credit note renders");
    let (_, texts) = read_back(&pdf);
    let text = texts.concat();

    assert!(text.contains("CREDIT NOTE"));
    assert!(text.contains(&credit_note.number), "{text}");
    assert!(text.contains(&format!("voids invoice {INVOICE_NUMBER}")), "{text}");
    assert!(text.contains(order.id.as_str()));
    assert!(text.contains("Payment declined"), "{text}");
    let negated_total = format::negated(order.pricing.total).expect("negatable");
    assert!(negated_total.is_negative());
    assert!(text.contains(&format!("Total credited\n{}", format::money(negated_total))), "{text}");
    for line in &order.lines {
        assert!(text.contains(&format::money(format::negated(line.line_total).expect("negatable"))));
    }
}

#[test]
fn a_credit_note_without_a_reason_takes_the_one_the_order_records() {
    let order = an_order().refunded_and_cancelled();
    let record = order.invoice.as_ref().expect("the order was invoiced");
    let credit_note = CreditNoteDetails::voiding(record, INVOICED_AT, None);
    let pdf = render_credit_note(&order, &credit_note, &Seller::default()).expect("the credit note renders");
    let text = read_back(&pdf).1.concat();
    let recorded = order.cancellation().map(|cancellation| cancellation.reason).expect("cancelled");
    assert!(text.contains(format::reason_label(recorded)), "{text}");
}

#[test]
fn credit_notes_are_numbered_after_the_invoice_they_void() {
    assert_eq!(credit_note_number("INV-2026-000042"), "CN-2026-000042");
    assert_eq!(credit_note_number("42"), "CN-42");
}

#[test]
fn file_names_keep_only_safe_characters() {
    assert_eq!(file_name("invoice", "INV-2026-000042"), "invoice-INV-2026-000042.pdf");
    assert_eq!(file_name("invoice", "../a b\"c"), "invoice-___a_b_c.pdf");
}
