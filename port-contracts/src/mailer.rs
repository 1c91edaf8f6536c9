//! What every `Mailer` guarantees: one email per key.
//!
//! The port cannot say what it sent, so each function also takes `sent_under`: the messages the
//! adapter's backend holds for a key, oldest first (the files of an outbox folder, a test
//! inbox, the records of a mail catcher).

use futures::future::join_all;
use orderflow_domain::customer::EmailAddress;
use orderflow_domain::ports::{Mailer, OutgoingEmail};

use crate::fixtures::order_id;

/// A plain-text email about `subject`, to be sent under `key`.
pub fn email(key: &str, subject: &str) -> OutgoingEmail {
    let message = format!(
        "From: Orderflow <orders@example.com>\r\nTo: Ada Lovelace <ada@example.com>\r\n\
         Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Ada.\r\n"
    );
    OutgoingEmail {
        key: key.to_owned(),
        to: EmailAddress::parse("ada@example.com").expect("a valid email address"),
        message: message.into_bytes(),
    }
}

pub async fn sending_twice_with_the_same_key_sends_the_first_email_once(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<Vec<u8>>,
) {
    let key = format!("{}/shipped", order_id());
    let first = email(&key, "Your order has shipped");
    mailer.send(&first).await.expect("sending an email");
    mailer.send(&email(&key, "Your order has shipped (again)")).await.expect("sending it again succeeds");
    assert_eq!(sent_under(&key).await, [first.message]);
}

pub async fn concurrent_sends_of_one_key_send_one_email(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<Vec<u8>>,
) {
    let key = format!("{}/paid", order_id());
    let attempts: Vec<OutgoingEmail> = (0..10).map(|i| email(&key, &format!("Payment received ({i})"))).collect();
    for sent in join_all(attempts.iter().map(|email| mailer.send(email))).await {
        sent.expect("every racing send is answered");
    }
    let sent = sent_under(&key).await;
    assert_eq!(sent.len(), 1, "one email was sent");
    assert!(attempts.iter().any(|attempt| attempt.message == sent[0]), "and it is one of those asked");
}

pub async fn emails_under_different_keys_are_each_sent(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<Vec<u8>>,
) {
    let order = order_id();
    let emails: Vec<OutgoingEmail> =
        ["received", "invoiced", "paid"].map(|stage| email(&format!("{order}/{stage}"), stage)).into();
    for email in &emails {
        mailer.send(email).await.expect("sending an email");
    }
    for email in emails {
        assert_eq!(sent_under(&email.key).await, [email.message]);
    }
}
