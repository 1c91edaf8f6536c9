use std::collections::HashSet;

use mail_parser::{Message, MessageParser, MimeHeaders};
use orderflow_domain::Currency;
use orderflow_domain::order::Order;
use time::macros::datetime;

use super::*;
use crate::fixtures::{INVOICE_NUMBER, INVOICED_AT, an_order};
use crate::format;
use crate::invoice::{InvoiceDetails, render_invoice};

const NOW: OffsetDateTime = datetime!(2026-11-25 12:05:30 UTC);

fn parse(email: &OutgoingEmail) -> Message<'static> {
    MessageParser::default().parse(&email.message).expect("the message parses").into_owned()
}

/// An order in the state the saga is in when it sends `stage`'s email.
fn order_at(stage: Stage) -> Order {
    match stage {
        Stage::Confirmed => an_order().confirmed(),
        Stage::Invoiced => an_order().invoiced(),
        Stage::Paid => an_order().paid(),
        Stage::Shipped => an_order().shipped(),
        Stage::PaymentFailed => an_order().declined_and_cancelled(),
        Stage::Refunded | Stage::Cancelled => an_order().refunded_and_cancelled(),
    }
}

fn compose_at(stage: Stage, seller: &Seller) -> (Order, OutgoingEmail) {
    let order = order_at(stage);
    let email = compose(stage, &order, &EmailContext::new(seller, NOW));
    (order, email)
}

/// The `type/subtype` of every leaf and multipart of a message, in order.
fn content_types(message: &Message<'_>) -> Vec<String> {
    message
        .parts
        .iter()
        .filter_map(|part| part.content_type())
        .map(|ctype| format!("{}/{}", ctype.ctype(), ctype.subtype().unwrap_or_default()))
        .collect()
}

fn text_of(message: &Message<'_>) -> String {
    message.body_text(0).expect("a plain-text body").into_owned()
}

/// The plain text with its line wrapping undone, to look for phrases.
fn prose_of(message: &Message<'_>) -> String {
    text_of(message).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn html_of(message: &Message<'_>) -> String {
    message.body_html(0).expect("an HTML body").into_owned()
}

#[test]
fn every_stage_names_the_order_in_its_subject_and_its_x_order_id_header() {
    let seller = Seller::default();
    for stage in Stage::ALL {
        let (order, email) = compose_at(stage, &seller);
        let message = parse(&email);

        let subject = message.subject().expect("a subject");
        assert!(subject.contains(order.id.as_str()), "{stage}: {subject}");
        let header = message.header("X-Order-Id").and_then(|value| value.as_text());
        assert_eq!(header, Some(order.id.as_str()), "{stage}");
    }
}

#[test]
fn every_stage_comes_from_the_seller_to_the_customer_with_an_id_and_a_date() {
    let seller = Seller::default();
    for stage in Stage::ALL {
        let (order, email) = compose_at(stage, &seller);
        let message = parse(&email);

        let from = message.from().and_then(|from| from.first()).expect("a From address");
        assert_eq!(from.address(), Some(seller.email.as_str()));
        assert_eq!(from.name(), Some(seller.name.as_str()));
        let to = message.to().and_then(|to| to.first()).expect("a To address");
        assert_eq!(to.address(), Some(order.customer.email.as_str()));
        assert_eq!(to.name(), Some(order.customer.name.as_ref()));
        assert_eq!(email.to, order.customer.email);

        let message_id = message.message_id().expect("a Message-ID");
        assert!(message_id.contains(order.id.as_str()) && message_id.ends_with(seller.mail_domain()), "{message_id}");
        let date = message.date().expect("a Date");
        assert_eq!(date.to_timestamp(), NOW.unix_timestamp());
    }
}

#[test]
fn every_stage_offers_a_plain_text_and_an_html_alternative() {
    let seller = Seller::default();
    for stage in Stage::ALL {
        let (order, email) = compose_at(stage, &seller);
        let message = parse(&email);

        let types = content_types(&message);
        assert_eq!(types, ["multipart/alternative", "text/plain", "text/html"], "{stage}");
        assert!(text_of(&message).contains(order.id.as_str()), "{stage}");
        assert!(html_of(&message).contains(order.id.as_str()), "{stage}");
        assert!(text_of(&message).contains(&format!("Hello {}", order.customer.name)));
    }
}

#[test]
fn each_stage_has_its_own_idempotency_key_and_message_id() {
    let seller = Seller::default();
    let mut keys = HashSet::new();
    let mut message_ids = HashSet::new();
    for stage in Stage::ALL {
        let (order, email) = compose_at(stage, &seller);
        assert_eq!(email.key, format!("{}/{}", order.id, stage.as_str()));
        assert_eq!(email.key, idempotency_key(&order.id, stage));
        keys.insert(email.key.clone());
        message_ids.insert(parse(&email).message_id().map(str::to_owned));
    }
    assert_eq!(keys.len(), Stage::ALL.len());
    assert_eq!(message_ids.len(), Stage::ALL.len());
}

#[test]
fn composing_the_same_email_twice_gives_the_same_bytes() {
    let seller = Seller::default();
    for stage in Stage::ALL {
        let (_, first) = compose_at(stage, &seller);
        let (_, second) = compose_at(stage, &seller);
        assert_eq!(first.message, second.message, "{stage}");
    }
}

#[test]
fn messages_are_seven_bit_ascii_with_crlf_lines_no_longer_than_rfc_5322_allows() {
    let seller = Seller::default();
    let order = an_order().named("Zoë Müller 李雷").invoiced();
    let pdf = render_invoice(&order, order.invoice.as_ref().expect("invoiced"), &seller).expect("the invoice renders");
    for stage in Stage::ALL {
        let context = EmailContext { invoice_pdf: Some(pdf.clone()), ..EmailContext::new(&seller, NOW) };
        let email = compose(stage, &order, &context);
        assert!(email.message.is_ascii(), "{stage}");
        let text = String::from_utf8(email.message).expect("ASCII is UTF-8");
        assert!(!text.replace("\r\n", "").contains(['\r', '\n']), "{stage}: a bare line break");
        assert!(text.split("\r\n").all(|line| line.len() <= 78), "{stage}: a line over 78 characters");
    }
}

#[test]
fn the_invoiced_email_attaches_the_invoice_pdf() {
    let seller = Seller::default();
    let order = an_order().invoiced();
    let pdf =
        render_invoice(&order, InvoiceDetails { number: INVOICE_NUMBER.to_owned(), issued_at: INVOICED_AT }, &seller)
            .expect("the invoice renders");
    let context = EmailContext { invoice_pdf: Some(pdf.clone()), ..EmailContext::new(&seller, NOW) };
    let message = parse(&compose(Stage::Invoiced, &order, &context));

    assert_eq!(content_types(&message)[0], "multipart/mixed");
    assert_eq!(message.attachment_count(), 1);
    let attachment = message.attachment(0).expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some(format!("invoice-{INVOICE_NUMBER}.pdf").as_str()));
    let ctype = attachment.content_type().expect("a content type");
    assert_eq!((ctype.ctype(), ctype.subtype()), ("application", Some("pdf")));
    assert_eq!(attachment.contents(), pdf.as_slice());

    let subject = message.subject().expect("a subject");
    assert!(subject.contains(INVOICE_NUMBER), "{subject}");
    let text = text_of(&message);
    assert!(text.contains("attached"), "{text}");
    assert!(text.contains(&format::money(order.pricing.total)), "{text}");
}

#[test]
fn the_invoiced_email_can_link_the_invoice_instead() {
    let seller = Seller::default();
    let order = an_order().invoiced();
    let link = "https://invoices.example/INV-2026-000042.pdf?X-Amz-Signature=abc&X-Amz-Expires=900";
    let context = EmailContext { invoice_link: Some(link.to_owned()), ..EmailContext::new(&seller, NOW) };
    let message = parse(&compose(Stage::Invoiced, &order, &context));

    assert_eq!(message.attachment_count(), 0);
    assert!(text_of(&message).contains(link));
    assert!(html_of(&message).contains(&format!("href=\"{}\"", link.replace('&', "&amp;"))));
}

#[test]
fn customer_text_is_escaped_in_html_and_kept_as_written_in_plain_text() {
    let seller = Seller::default();
    let name = "<script>alert('pwned')</script> & Co";
    let order = an_order().named(name).confirmed();
    let message = parse(&compose(Stage::Confirmed, &order, &EmailContext::new(&seller, NOW)));

    let html = html_of(&message);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert('pwned')&lt;/script&gt; &amp; Co"), "{html}");
    assert!(text_of(&message).contains(name));
    let to = message.to().and_then(|to| to.first()).expect("a To address");
    assert_eq!(to.name(), Some(name));
}

#[test]
fn names_outside_ascii_are_encoded_in_headers_and_read_back_intact() {
    let seller = Seller { name: "Café Ørsted & Söhne".to_owned(), ..Seller::default() };
    let name = "Zoë Müller 李雷";
    let order = an_order().named(name).confirmed();
    let email = compose(Stage::Confirmed, &order, &EmailContext::new(&seller, NOW));
    let message = parse(&email);

    assert_eq!(message.to().and_then(|to| to.first()).and_then(|to| to.name()), Some(name));
    assert_eq!(message.from().and_then(|from| from.first()).and_then(|from| from.name()), Some(seller.name.as_str()));
    assert!(text_of(&message).contains(name));
    assert!(html_of(&message).contains(name));
}

#[test]
fn a_line_break_in_configured_text_cannot_inject_a_header() {
    let seller = Seller { name: "Store\r\nBcc: everyone@example.com".to_owned(), ..Seller::default() };
    let order = an_order().confirmed();
    let message = parse(&compose(Stage::Confirmed, &order, &EmailContext::new(&seller, NOW)));
    assert!(message.bcc().is_none());
    assert!(message.header("Bcc").is_none());
}

#[test]
fn the_confirmation_lists_every_line_and_the_total() {
    let seller = Seller::default();
    let (order, email) = compose_at(Stage::Confirmed, &seller);
    let message = parse(&email);
    let (text, html) = (text_of(&message), html_of(&message));

    for line in &order.lines {
        for body in [&text, &html] {
            assert!(body.contains(line.sku.as_ref()), "{}", line.sku);
            assert!(body.contains(&format::money(line.line_total)));
        }
    }
    let total = format::money(order.pricing.total);
    assert!(text.lines().any(|line| line.starts_with("Total") && line.ends_with(&total)), "{text}");
    assert!(html.contains(&total));
    assert!(text.contains(&order.shipping_address.line1));
}

#[test]
fn the_payment_email_gives_the_amount_charged_and_the_reference() {
    let seller = Seller::default();
    let (order, email) = compose_at(Stage::Paid, &seller);
    let text = prose_of(&parse(&email));
    let payment = order.payment.as_ref().expect("paid");
    assert!(text.contains(&format::money(payment.amount)), "{text}");
    assert!(text.contains(&payment.reference), "{text}");
}

#[test]
fn the_shipping_email_gives_carrier_service_tracking_number_and_link() {
    let seller = Seller::default();
    let order = an_order().shipped();
    let link = "https://www.fedex.com/fedextrack/?trknbr=794612345678";
    let context = EmailContext { tracking_link: Some(link.to_owned()), ..EmailContext::new(&seller, NOW) };
    let message = parse(&compose(Stage::Shipped, &order, &context));
    let (text, html) = (text_of(&message), html_of(&message));

    let shipment = order.shipment.as_ref().expect("shipped");
    for fact in [&shipment.carrier, &shipment.service, &shipment.tracking_number] {
        assert!(text.contains(fact.as_str()) && html.contains(fact.as_str()), "{fact}");
    }
    assert!(text.contains(link));
    assert!(html.contains(&format!("href=\"{link}\"")));
}

#[test]
fn the_shipping_email_can_link_the_label() {
    let seller = Seller::default();
    let order = an_order().shipped();
    let link = "http://127.0.0.1:3000/blobs/labels/ord.pdf?expires=1764072900&signature=abc";
    let context = EmailContext { label_link: Some(link.to_owned()), ..EmailContext::new(&seller, NOW) };
    let message = parse(&compose(Stage::Shipped, &order, &context));
    assert!(text_of(&message).contains(link));
    assert!(html_of(&message).contains(&format!("href=\"{}\"", link.replace('&', "&amp;"))));
}

#[test]
fn a_link_that_is_not_a_web_address_is_shown_but_never_clickable() {
    let seller = Seller::default();
    let order = an_order().shipped();
    let context =
        EmailContext { tracking_link: Some("javascript:alert(1)".to_owned()), ..EmailContext::new(&seller, NOW) };
    let html = html_of(&parse(&compose(Stage::Shipped, &order, &context)));
    assert!(!html.contains("href=\"javascript:"), "{html}");
    assert!(html.contains("javascript:alert(1)"));
}

#[test]
fn a_declined_payment_says_nothing_was_charged_and_why_when_it_is_safe_to() {
    let seller = Seller::default();
    let order = an_order().declined_and_cancelled();
    let declined = |code: &str| {
        let failure = PaymentFailure::Declined { code: Some(code.to_owned()) };
        let context = EmailContext { payment_failure: Some(failure), ..EmailContext::new(&seller, NOW) };
        prose_of(&parse(&compose(Stage::PaymentFailed, &order, &context)))
    };

    let text = declined("insufficient_funds");
    assert!(text.contains("not been charged"), "{text}");
    assert!(text.contains("not enough funds"), "{text}");
    assert!(text.contains("cancelled the order"), "{text}");
    assert!(text.contains(&format!("Invoice {INVOICE_NUMBER} is void")), "{text}");

    let text = declined("stolen_card");
    assert!(!text.contains("stolen"), "fraud-related codes are not told: {text}");
    assert!(text.contains("did not tell us why"), "{text}");
}

#[test]
fn a_payment_needing_authentication_is_explained() {
    let seller = Seller::default();
    let order = an_order().invoiced();
    let context =
        EmailContext { payment_failure: Some(PaymentFailure::RequiresAction), ..EmailContext::new(&seller, NOW) };
    let message = parse(&compose(Stage::PaymentFailed, &order, &context));
    let text = prose_of(&message);
    assert!(text.contains("confirm the payment"), "{text}");
    assert!(message.subject().is_some_and(|subject| subject.contains("not been charged")));
}

#[test]
fn the_refund_email_gives_the_amount_refunded() {
    let seller = Seller::default();
    let order = an_order().refunded_and_cancelled();
    let message = parse(&compose(Stage::Refunded, &order, &EmailContext::new(&seller, NOW)));
    let refunded = order.payment.as_ref().map(|payment| payment.amount).expect("paid");
    assert!(message.subject().is_some_and(|subject| subject.contains(&format::money(refunded))));
    let text = prose_of(&message);
    assert!(text.contains("re_3QxAmpleRefund"), "{text}");
    assert!(text.contains("no carrier was able to take your parcel"), "{text}");

    // A partial amount the order does not record yet comes from the context.
    let partial = Money::new(500, Currency::Usd);
    let context = EmailContext { refund: Some(partial), ..EmailContext::new(&seller, NOW) };
    let text = prose_of(&parse(&compose(Stage::Refunded, &order, &context)));
    assert!(text.contains(&format::money(partial)), "{text}");
}

#[test]
fn the_cancellation_says_why_in_plain_words_and_what_was_undone() {
    let seller = Seller::default();
    let (order, email) = compose_at(Stage::Cancelled, &seller);
    let text = prose_of(&parse(&email));

    assert!(text.contains("because no carrier was able to take your parcel"), "{text}");
    let payment = order.payment.as_ref().expect("paid");
    assert!(text.contains(&format!("refunded the {}", format::money(payment.amount))), "{text}");
    assert!(text.contains(&format!("Invoice {INVOICE_NUMBER} is void, cancelled by a credit note")), "{text}");
    assert!(text.contains("back in stock"), "{text}");
}

#[test]
fn a_cancellation_before_any_charge_says_nothing_was_charged() {
    let seller = Seller::default();
    let mut order = an_order().pending();
    order.cancel(orderflow_domain::order::CancellationReason::OutOfStock, None, NOW).expect("pending orders cancel");
    let text = prose_of(&parse(&compose(Stage::Cancelled, &order, &EmailContext::new(&seller, NOW))));
    assert!(text.contains("out of stock"), "{text}");
    assert!(text.contains("You have not been charged"), "{text}");
    assert!(text.contains("Nothing was set aside"), "{text}");
}

#[test]
fn stage_names_are_stable_snake_case() {
    let names: Vec<&str> = Stage::ALL.iter().map(|stage| stage.as_str()).collect();
    assert_eq!(names, ["confirmed", "invoiced", "paid", "shipped", "payment_failed", "refunded", "cancelled"]);
    for stage in Stage::ALL {
        assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        assert_eq!(serde_json::to_string(&stage).expect("serializes"), format!("\"{stage}\""));
    }
    assert!("shipped ".parse::<Stage>().is_err());
}
