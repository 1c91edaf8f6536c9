//! Idempotent order submission: a client-chosen key, and a fingerprint of what was asked, so a
//! retry with the same key gets the same order and a different request with a reused key is
//! refused.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Invalid;
use crate::cart::OrderRequest;

/// The `Idempotency-Key` a client sends: 1 to 255 visible ASCII characters (a UUID is typical).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new("must be 1 to 255 visible ASCII characters"));
        }
        Ok(Self(raw.to_owned()))
    }
}
string_newtype_conversions!(IdempotencyKey);

/// A digest of a parsed order request. Two requests that parse to the same order (whatever
/// their whitespace, key order or letter case in normalised fields) have the same fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestFingerprint(String);

impl RequestFingerprint {
    pub fn of(request: &OrderRequest) -> Self {
        // The domain types serialise with a fixed field order, so this is canonical.
        let canonical = serde_json::to_vec(request).unwrap_or_default();
        Self(hex::encode(Sha256::digest(&canonical)))
    }

    pub fn from_stored(digest: String) -> Self {
        Self(digest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }
}
