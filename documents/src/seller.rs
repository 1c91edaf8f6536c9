//! Who sells: the store as it appears on invoices and as the sender of emails.

use orderflow_domain::customer::EmailAddress;

/// The store as a legal seller: what an invoice must name and where emails come from.
///
/// Configuration rather than domain data: one deployment sells as one business, and its name,
/// address and tax registration come from the environment of that deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    /// The business's legal or trading name, printed at the top of invoices and used as the
    /// display name of the `From` header.
    pub name: String,
    /// Postal address lines, printed under the name (an invoice must say where the seller is).
    pub address: Vec<String>,
    /// The seller's tax registration (EIN, VAT number), which an invoice must carry.
    pub tax_id: String,
    /// Where customers write to, and the sender of every email. Its domain also scopes our
    /// `Message-ID`s.
    pub email: EmailAddress,
    /// Where customers see their orders, if the store has a website; linked from emails.
    pub website: Option<String>,
}

impl Seller {
    /// The domain of the seller's address, which makes our `Message-ID`s globally unique.
    pub fn mail_domain(&self) -> &str {
        self.email.as_str().rsplit_once('@').map_or("localhost", |(_, domain)| domain)
    }
}

impl Default for Seller {
    /// The local store that `cargo run` serves: a placeholder business in the `.example` domain
    /// (RFC 2606), so nothing a developer renders can be mistaken for a real invoice or reach a
    /// real mailbox.
    fn default() -> Self {
        Self {
            name: "Orderflow Store".to_owned(),
            address: vec![
                "500 Howard Street".to_owned(),
                "San Francisco, CA 94105".to_owned(),
                "United States".to_owned(),
            ],
            tax_id: "EIN 00-0000000".to_owned(),
            email: EmailAddress::parse("orders@orderflow.example").expect("the default sender address is valid"),
            website: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_seller_sends_from_a_reserved_example_domain() {
        let seller = Seller::default();
        assert_eq!(seller.mail_domain(), "orderflow.example");
        assert!(!seller.tax_id.is_empty());
        assert!(!seller.address.is_empty());
    }
}
