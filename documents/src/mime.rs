//! Writing RFC 5322 messages with MIME bodies (RFC 2045–2047), by hand.
//!
//! Why not a crate such as `mail-builder`: it draws its multipart boundaries (and, by default,
//! `Message-ID`s) at random and reads the host name, so the same email composed twice would not
//! be the same bytes. Our messages are pure functions of the order, which makes retries send the
//! identical message and lets tests compare whole messages. The encoding we need is small:
//! quoted-printable UTF-8 text, base64 attachments, RFC 2047 encoded words in headers, and
//! `multipart/*` with fixed boundaries. Everything written is 7-bit ASCII with CRLF line ends,
//! so any mail transport (SES, SMTP) takes it as it is.
//!
//! # Header injection
//!
//! A header value reaches the output only through [`mailbox`], [`unstructured`] or [`token`].
//! The first two encode anything that is not plain printable ASCII as encoded words, and the
//! last keeps only printable ASCII, so no value can end its header line and start another.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use orderflow_domain::customer::EmailAddress;

const CRLF: &str = "\r\n";
/// RFC 5322's recommended line length, which we keep to where we can.
const LINE: usize = 78;
/// Input bytes per encoded word: 45 bytes are 60 base64 characters, and with `=?utf-8?b?` and
/// `?=` the word is 72 characters, under RFC 2047's 75.
const ENCODED_WORD_INPUT: usize = 45;

/// A header value that is already safe: one line of printable ASCII, possibly folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValue(String);

/// A display name and an address: `"Ada Lovelace" <ada@example.com>`, with the name as RFC 2047
/// encoded words when it is not short printable ASCII.
///
/// The address needs no escaping: `EmailAddress` admits only RFC 5322 atom characters, dots and
/// one `@`.
pub fn mailbox(name: &str, address: &EmailAddress) -> HeaderValue {
    let name: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let name = name.trim();
    let phrase = if name.is_empty() {
        return HeaderValue(format!("<{address}>"));
    } else if name.len() <= 60 && name.bytes().all(|b| (b' '..=b'~').contains(&b)) && !name.contains("=?") {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        encoded_words(name)
    };
    // Fold before the address when the line would be long; the fold is invisible to readers.
    let separator = if phrase.contains(CRLF) || phrase.len() + address.as_str().len() > 60 { "\r\n " } else { " " };
    HeaderValue(format!("{phrase}{separator}<{address}>"))
}

/// Free text such as a subject: as it is when it is printable ASCII (folded at spaces to keep
/// lines short), as encoded words otherwise.
pub fn unstructured(text: &str) -> HeaderValue {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) && !text.contains("=?") {
        HeaderValue(fold_at_spaces(&text))
    } else {
        HeaderValue(encoded_words(&text))
    }
}

/// A value we generate ourselves (an id, a date): kept to printable ASCII, so even a bug cannot
/// smuggle a line break into the header block.
pub fn token(text: &str) -> HeaderValue {
    HeaderValue(text.chars().filter(|c| (' '..='~').contains(c)).collect())
}

/// `text` as RFC 2047 "B" encoded words of UTF-8, split on character boundaries and folded one
/// word per line.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > ENCODED_WORD_INPUT {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let words: Vec<String> = words.iter().map(|word| format!("=?utf-8?b?{}?=", BASE64.encode(word))).collect();
    words.join(&format!("{CRLF} "))
}

/// Folds printable ASCII at spaces so no line is longer than [`LINE`] where a space allows it,
/// leaving room for the longest header name we use.
fn fold_at_spaces(text: &str) -> String {
    let room = LINE - "Subject: ".len();
    let mut folded = String::with_capacity(text.len());
    let mut line = 0;
    for (index, word) in text.split(' ').enumerate() {
        if index > 0 {
            if line + 1 + word.len() > room && line > 0 {
                folded.push_str(CRLF);
                line = 0;
            }
            folded.push(' ');
            line += 1;
        }
        folded.push_str(word);
        line += word.len();
    }
    folded
}

/// UTF-8 text as quoted-printable with CRLF line ends: lines of at most 76 characters, `=` and
/// everything outside printable ASCII escaped, trailing spaces escaped so no transport strips
/// them, and a `.` that would start a line escaped for SMTP transports that do not dot-stuff.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push_str(CRLF);
        }
        let bytes = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        let mut width = 0;
        for (position, &byte) in bytes.iter().enumerate() {
            let at_end = position + 1 == bytes.len();
            let literal = match byte {
                b'=' => false,
                b' ' | b'\t' => !at_end,
                b'!'..=b'~' => true,
                _ => false,
            };
            let length = if literal { 1 } else { 3 };
            if width + length > 75 {
                out.push('=');
                out.push_str(CRLF);
                width = 0;
            }
            if literal && !(byte == b'.' && width == 0) {
                out.push(char::from(byte));
                width += 1;
            } else {
                out.push_str(&format!("={byte:02X}"));
                width += 3;
            }
        }
    }
    out
}

/// Bytes as base64 in lines of 76 characters.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = BASE64.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for (index, chunk) in encoded.as_bytes().chunks(76).enumerate() {
        if index > 0 {
            out.push_str(CRLF);
        }
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

/// A MIME entity: a leaf of text or bytes, or a multipart of entities.
#[derive(Debug)]
pub enum Part<'a> {
    /// UTF-8 text (`plain` or `html`), quoted-printable.
    Text { subtype: &'static str, text: String },
    /// A file, base64, offered as an attachment under `file_name` (which the caller keeps to
    /// safe ASCII).
    Attachment { content_type: &'static str, file_name: String, bytes: &'a [u8] },
    /// `multipart/<subtype>`. The boundary must not occur in any part; `=_` guarantees that
    /// for our encodings, since quoted-printable writes `=` as `=3D` and base64 has no `_`.
    Multipart { subtype: &'static str, boundary: String, parts: Vec<Part<'a>> },
}

impl Part<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Self::Text { subtype, text } => {
                out.push_str(&format!("Content-Type: text/{subtype}; charset=utf-8{CRLF}"));
                out.push_str(&format!("Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"));
                out.push_str(&quoted_printable(text));
                out.push_str(CRLF);
            }
            Self::Attachment { content_type, file_name, bytes } => {
                let file_name = token(file_name).0.replace(['"', '\\'], "_");
                out.push_str(&format!("Content-Type: {content_type}; name=\"{file_name}\"{CRLF}"));
                out.push_str(&format!("Content-Disposition: attachment; filename=\"{file_name}\"{CRLF}"));
                out.push_str(&format!("Content-Transfer-Encoding: base64{CRLF}{CRLF}"));
                out.push_str(&base64_lines(bytes));
                out.push_str(CRLF);
            }
            Self::Multipart { subtype, boundary, parts } => {
                out.push_str(&format!("Content-Type: multipart/{subtype};{CRLF} boundary=\"{boundary}\"{CRLF}{CRLF}"));
                out.push_str(&format!("This is a multi-part message in MIME format.{CRLF}"));
                for part in parts {
                    out.push_str(&format!("{CRLF}--{boundary}{CRLF}"));
                    part.write(out);
                }
                out.push_str(&format!("{CRLF}--{boundary}--{CRLF}"));
            }
        }
    }
}

/// A whole message: its header fields, in order, and its body.
#[derive(Debug)]
pub struct Message<'a> {
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: Part<'a>,
}

impl Message<'_> {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {}{CRLF}", value.0));
        }
        out.push_str(&format!("MIME-Version: 1.0{CRLF}"));
        self.body.write(&mut out);
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> EmailAddress {
        EmailAddress::parse("ada@example.com").expect("valid")
    }

    #[test]
    fn ascii_names_are_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(mailbox("Ada Lovelace", &ada()).0, "\"Ada Lovelace\" <ada@example.com>");
        assert_eq!(mailbox("Ada \"The\" \\Countess", &ada()).0, "\"Ada \\\"The\\\" \\\\Countess\" <ada@example.com>");
        assert_eq!(mailbox("  ", &ada()).0, "<ada@example.com>");
    }

    #[test]
    fn names_outside_ascii_become_encoded_words() {
        let value = mailbox("Zoë Müller", &ada()).0;
        assert_eq!(value, format!("=?utf-8?b?{}?= <ada@example.com>", BASE64.encode("Zoë Müller")));
    }

    #[test]
    fn a_line_break_in_a_name_cannot_start_a_new_header() {
        let value = mailbox("Eve\r\nBcc: victim@example.com", &ada()).0;
        assert!(!value.contains("\r\nBcc"), "{value}");
        let subject = unstructured("Hello\r\nBcc: victim@example.com").0;
        assert!(!subject.contains("\r\nBcc"), "{subject}");
        assert_eq!(token("id\r\nBcc: x").0, "idBcc: x");
    }

    #[test]
    fn every_header_line_break_is_a_fold() {
        let long = "李".repeat(80);
        for value in [mailbox(&long, &ada()).0, unstructured(&long).0, unstructured(&"word ".repeat(40)).0] {
            for line in value.split("\r\n").skip(1) {
                assert!(line.starts_with(' '), "{line:?} does not continue a folded header");
            }
            assert!(value.split("\r\n").all(|line| line.len() <= LINE), "{value}");
        }
    }

    #[test]
    fn encoded_words_are_at_most_75_characters_and_split_between_characters() {
        let value = unstructured(&"ü".repeat(100)).0;
        for word in value.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            let inner = word.trim_start_matches("=?utf-8?b?").trim_end_matches("?=");
            let decoded = BASE64.decode(inner).expect("base64");
            assert!(String::from_utf8(decoded).is_ok(), "each word decodes to whole characters");
        }
    }

    #[test]
    fn quoted_printable_escapes_what_it_must_and_keeps_lines_short() {
        assert_eq!(quoted_printable("a=b"), "a=3Db");
        assert_eq!(quoted_printable("café"), "caf=C3=A9");
        assert_eq!(quoted_printable("trailing \nline"), "trailing=20\r\nline");
        assert_eq!(quoted_printable(".hidden"), "=2Ehidden");
        let long = quoted_printable(&"x".repeat(200));
        assert!(long.split("\r\n").all(|line| line.len() <= 76));
        assert_eq!(long.replace("=\r\n", ""), "x".repeat(200));
    }

    #[test]
    fn quoted_printable_never_splits_an_escape_across_lines() {
        let encoded = quoted_printable(&"é".repeat(60));
        for line in encoded.split("\r\n") {
            let body = line.strip_suffix('=').unwrap_or(line);
            assert_eq!(body.len() % 3, 0, "{line}");
        }
    }

    #[test]
    fn base64_lines_are_76_characters() {
        let encoded = base64_lines(&[0_u8; 200]);
        assert!(encoded.split("\r\n").all(|line| line.len() <= 76));
        assert_eq!(BASE64.decode(encoded.replace("\r\n", "")).expect("base64"), vec![0_u8; 200]);
    }
}
