//! A secret from the configuration (a partner's API key, a signing secret): carried to the one
//! place that uses it, and shown nowhere else.

use std::fmt;

/// A secret's value. Its `Debug` shows that it is set, never what it is, so a configuration or
/// an error that holds one can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the adapter that sends it to its partner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_shows_that_it_is_set_and_nothing_more() {
        let secret = Secret::new("sk_test_51Hidden");
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(…))");
        assert_eq!(secret.expose(), "sk_test_51Hidden");
    }
}
