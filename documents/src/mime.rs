//! RFC 5322 messages with MIME bodies, written by lettre's message builder.
//!
//! Why lettre: it is the mail crate of the Rust ecosystem, and its builder (the `builder` feature
//! alone: no transport, TLS or host-name lookup) does the encoding we would otherwise keep by
//! hand: RFC 2047 encoded words and folding for headers, quoted display names, RFC 2231 file
//! names, quoted-printable text and base64 files in short CRLF lines: 7-bit output that any
//! transport (SES, SMTP) takes as it is.
//!
//! # The same email, the same bytes
//!
//! A retried saga step must send the identical message, and tests compare messages, so nothing
//! random or ambient may reach the output. lettre draws three things on its own when it is not
//! given them, and we always give them:
//!
//! - multipart boundaries: the caller names each one (`MultiPartBuilder::boundary`);
//! - the `Message-ID`: the caller derives it from the order and the stage;
//! - the `Date`: [`date`] turns the composing time the caller was handed into the header.
//!
//! Everything else lettre writes is a function of its input.
//!
//! # Header injection
//!
//! Every header value goes through lettre's encoders: a value with a line break in it becomes
//! encoded words, so no value can end its header line and start another. Display names lose
//! their control characters before lettre sees them ([`mailbox`]), and addresses are our
//! [`EmailAddress`], which admits no character that could break a line.

use std::time::{SystemTime, UNIX_EPOCH};

use lettre::Address;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, SinglePart};
use orderflow_domain::customer::EmailAddress;
use time::OffsetDateTime;

/// A display name and an address: `"Ada Lovelace" <ada@example.com>`, the name as encoded
/// words when it is not printable ASCII. An empty name leaves the bare address.
pub fn mailbox(name: &str, address: &EmailAddress) -> Mailbox {
    // `EmailAddress` has already checked what an address may hold (RFC 5322 atom characters and
    // dots, one `@`, a host name), which lettre's stricter dot-atom check would check again and
    // could refuse (`a..b@example.com`), making composing fallible for an address we accepted.
    let (user, domain) = address.as_str().rsplit_once('@').unwrap_or((address.as_str(), ""));
    // lettre refuses a line break in a display name by panicking when it writes the header, so
    // control characters (which a name has no business holding) become spaces first.
    let name: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let name = name.trim();
    Mailbox::new((!name.is_empty()).then(|| name.to_owned()), Address::new_dangerous(user, domain))
}

/// The `Date` header's time. `time` counts from before 1970 and lettre's dates do not: a clock
/// that far off is dated at the epoch rather than making composing fail.
pub fn date(at: OffsetDateTime) -> SystemTime {
    SystemTime::from(at).max(UNIX_EPOCH)
}

/// A header of our own (`X-Order-Id`), its value encoded like any other.
pub fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

/// UTF-8 text (`text/plain` or `text/html`), always quoted-printable: readable in the raw
/// message, and never holding a multipart boundary (see `email::boundary`), whatever it says.
pub fn text(content_type: ContentType, text: String) -> SinglePart {
    SinglePart::builder().header(content_type).header(ContentTransferEncoding::QuotedPrintable).body(text)
}

/// A file offered as an attachment under `file_name`, always base64: lettre would send a file
/// that happens to be short ASCII lines as it is, and then it could hold a boundary.
pub fn attachment(content_type: &'static str, file_name: String, bytes: Vec<u8>) -> SinglePart {
    let content_type = ContentType::parse(content_type).unwrap_or_else(|_| {
        ContentType::parse("application/octet-stream").expect("application/octet-stream is a media type")
    });
    let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64).expect("base64 can carry any bytes");
    Attachment::new(file_name).body(body, content_type)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use lettre::Message;
    use time::macros::datetime;

    use super::*;

    fn ada() -> EmailAddress {
        EmailAddress::parse("ada@example.com").expect("valid")
    }

    /// The header block of a message from `name` with `subject`.
    fn headers(name: &str, subject: &str) -> String {
        let message = Message::builder()
            .date(date(datetime!(2026-11-25 23:30 -05:00)))
            .from(mailbox(name, &ada()))
            .to(mailbox("Bob", &EmailAddress::parse("bob@example.com").expect("valid")))
            .subject(subject)
            .raw_header(header("X-Order-Id", "ord_1\r\nBcc: victim@example.com"))
            .singlepart(text(ContentType::TEXT_PLAIN, "Hello.\n".to_owned()))
            .expect("builds");
        let text = String::from_utf8(message.formatted()).expect("ASCII");
        text.split_once("\r\n\r\n").map(|(headers, _)| headers.to_owned()).expect("a header block")
    }

    fn header_value<'a>(headers: &'a str, name: &str) -> &'a str {
        headers
            .split("\r\n")
            .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")))
            .unwrap_or_else(|| panic!("no {name} in {headers}"))
    }

    #[test]
    fn ascii_names_are_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(header_value(&headers("Ada Lovelace", "Hi"), "From"), "\"Ada Lovelace\" <ada@example.com>");
        assert_eq!(
            header_value(&headers("Ada \"The\" \\Countess", "Hi"), "From"),
            "\"Ada \\\"The\\\" \\\\Countess\" <ada@example.com>"
        );
        assert_eq!(header_value(&headers("  ", "Hi"), "From"), "ada@example.com");
    }

    #[test]
    fn names_and_subjects_outside_ascii_become_encoded_words() {
        let block = headers("Zoë Müller", "Grüße");
        assert_eq!(
            header_value(&block, "From"),
            format!("=?utf-8?b?{}?= <ada@example.com>", BASE64.encode("Zoë Müller"))
        );
        assert_eq!(header_value(&block, "Subject"), format!("=?utf-8?b?{}?=", BASE64.encode("Grüße")));
    }

    #[test]
    fn a_line_break_in_a_value_cannot_start_a_new_header() {
        let block = headers("Eve\r\nBcc: victim@example.com", "Hello\r\nBcc: victim@example.com");
        assert!(!block.contains("\r\nBcc"), "{block}");
        assert!(block.split("\r\n").skip(1).all(|line| !line.starts_with("Bcc")), "{block}");
    }

    #[test]
    fn long_header_values_are_folded_into_short_lines() {
        let long = "李".repeat(80);
        for block in [headers(&long, "Hi"), headers("Ada", &long), headers("Ada", &"word ".repeat(40))] {
            assert!(block.split("\r\n").all(|line| line.len() <= 78), "{block}");
        }
    }

    #[test]
    fn text_is_quoted_printable_so_it_can_never_hold_a_boundary() {
        let part = String::from_utf8(text(ContentType::TEXT_PLAIN, "--=_alt_ord_1_paid\n".to_owned()).formatted())
            .expect("ASCII");
        assert!(part.contains("Content-Transfer-Encoding: quoted-printable\r\n"), "{part}");
        assert!(part.contains("--=3D_alt_ord_1_paid\r\n"), "{part}");
    }

    #[test]
    fn an_attachment_is_base64_under_its_type_and_file_name_even_when_it_is_plain_ascii() {
        let bytes = b"%PDF-1.7 only ASCII here".to_vec();
        let part =
            String::from_utf8(attachment("application/pdf", "invoice-1.pdf".to_owned(), bytes.clone()).formatted())
                .expect("ASCII");
        let (headers, body) = part.split_once("\r\n\r\n").expect("headers and a body");
        assert!(headers.contains("Content-Type: application/pdf"), "{headers}");
        assert!(headers.contains("Content-Disposition: attachment; filename=\"invoice-1.pdf\""), "{headers}");
        assert!(headers.contains("Content-Transfer-Encoding: base64"), "{headers}");
        assert_eq!(BASE64.decode(body.replace("\r\n", "")).expect("base64"), bytes);
    }

    #[test]
    fn the_date_is_written_in_utc() {
        assert_eq!(header_value(&headers("Ada", "Hi"), "Date"), "Thu, 26 Nov 2026 04:30:00 +0000");
    }
}
