//! Who is ordering.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The store's identifier of a customer account (an opaque id from the identity system).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(String);

impl CustomerId {
    pub const MAX_LEN: usize = 64;

    /// 1 to 64 characters of ASCII letters, digits, `_` and `-`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(Invalid::new("must be 1 to 64 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(Invalid::new("may contain only letters, digits, `_` and `-`"));
        }
        Ok(Self(raw.to_owned()))
    }
}
string_newtype_conversions!(CustomerId);

/// An email address we can send to: the WHATWG "valid email address" syntax (what browsers
/// accept in `<input type=email>`), with a dotted domain and the RFC 5321 length limits.
///
/// The domain is lower-cased; the local part is kept as sent, since it may be case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.len() > 254 {
            return Err(Invalid::new("must be at most 254 characters"));
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(Invalid::new("must contain `@`"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(Invalid::new("the part before `@` must be 1 to 64 characters"));
        }
        if !local.bytes().all(is_local_part_byte) {
            return Err(Invalid::new("the part before `@` contains a character not allowed in an email address"));
        }
        if !domain.contains('.') || !domain.split('.').all(is_domain_label) {
            return Err(Invalid::new("the part after `@` must be a domain name such as `example.com`"));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype_conversions!(EmailAddress);

fn is_local_part_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b)
}

fn is_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// A person's or company's name as it goes on an invoice or a parcel: 1 to 200 characters of
/// printable text, surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text_line(raw, 200).map(Self)
    }
}
string_newtype_conversions!(PersonName);

/// One line of human text (a name, a street, a city): trimmed, non-empty, at most `max_chars`
/// characters, no control characters (they would corrupt a label, an invoice or a mail header).
pub(crate) fn parse_text_line(raw: &str, max_chars: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Invalid::new("must not be empty"));
    }
    if text.chars().count() > max_chars {
        return Err(Invalid::new(format!("must be at most {max_chars} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// The customer an order belongs to, as the order records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: CustomerId,
    pub email: EmailAddress,
    pub name: PersonName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_email_addresses_parse_with_a_lower_cased_domain() {
        let email = EmailAddress::parse(" Ada.Lovelace+orders@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+orders@example.com");
    }

    #[test]
    fn malformed_email_addresses_are_rejected() {
        for bad in [
            "",
            "plainaddress",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@-example.com",
            "ada@example..com",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            "ada@example.com\r\nBcc: victim@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn customer_ids_are_short_opaque_tokens() {
        assert!(CustomerId::parse("cus_123-abc").is_ok());
        assert!(CustomerId::parse("").is_err());
        assert!(CustomerId::parse("has space").is_err());
        assert!(CustomerId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_must_not_hide_control_characters() {
        assert_eq!(PersonName::parse("  Grace Hopper ").unwrap().as_ref(), "Grace Hopper");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse("Eve\nBcc: x").is_err());
    }

    #[test]
    fn deserializing_an_invalid_email_fails() {
        let parsed: Result<EmailAddress, _> = serde_json::from_str("\"not-an-email\"");
        assert!(parsed.is_err());
    }
}
