//! What tests need from a fake Stripe (localstripe) besides the adapter: a shop's customer with
//! saved cards, made as a checkout would have made them, and reading Stripe's objects back.

use serde_json::Value;

/// A fake Stripe at `base`, called with `key`.
#[derive(Debug, Clone)]
pub struct LocalStripe {
    base: String,
    key: String,
}

impl LocalStripe {
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Self {
        Self { base: base.into().trim_end_matches('/').to_owned(), key: key.into() }
    }

    async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.key, Some(""))
            .form(form)
            .send()
            .await
            .expect("the fake Stripe answers");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.expect("a JSON answer")
    }

    /// A new customer (`cus_…`) with a card saved for each of `numbers` (`pm_…`, in order).
    pub async fn customer_with_cards(&self, numbers: &[&str]) -> (String, Vec<String>) {
        let id = |object: Value| object["id"].as_str().expect("an id").to_owned();
        let customer = id(self.call(reqwest::Method::POST, "/v1/customers", &[("email", "ada@example.com")]).await);
        let mut cards = Vec::new();
        for number in numbers {
            let card = [
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ];
            let method = id(self.call(reqwest::Method::POST, "/v1/payment_methods", &card).await);
            let attach = format!("/v1/payment_methods/{method}/attach");
            self.call(reqwest::Method::POST, &attach, &[("customer", &customer)]).await;
            cards.push(method);
        }
        (customer, cards)
    }

    /// `GET path`, such as `/v1/payment_intents/pi_…`.
    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, &[]).await
    }
}
