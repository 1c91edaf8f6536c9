//! What every `Mailer` guarantees: one email per key.
//!
//! The port cannot say what it sent, so each function also takes `sent_under`: the messages the
//! adapter's backend holds for a key, oldest first (the files of an outbox folder, a test
//! inbox, the records of a mail catcher). A backend that keeps whole messages gives their bytes;
//! one that keeps less (an emulator showing a subject and a text body) gives what it shows, as a
//! [`Sent`] that tells which email it was. Every email a suite sends names its key in its
//! subject, as the saga's emails name their order, so a shared mail catcher can tell them apart.

use futures::future::join_all;
use orderflow_domain::customer::EmailAddress;
use orderflow_domain::ports::{Mailer, OutgoingEmail};

use crate::fixtures::order_id;

/// What a mail backend kept of one message it sent.
pub trait Sent: std::fmt::Debug {
    /// Whether this is what was sent for `email`.
    fn is(&self, email: &OutgoingEmail) -> bool;
}

/// The whole message, byte for byte.
impl Sent for Vec<u8> {
    fn is(&self, email: &OutgoingEmail) -> bool {
        *self == email.message
    }
}

/// A plain-text email about `subject`, to be sent under `key`, which its subject names.
pub fn email(key: &str, subject: &str) -> OutgoingEmail {
    let message = format!(
        "From: Orderflow <orders@example.com>\r\nTo: Ada Lovelace <ada@example.com>\r\n\
         Subject: {subject} ({key})\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Ada.\r\n"
    );
    OutgoingEmail {
        key: key.to_owned(),
        to: EmailAddress::parse("ada@example.com").expect("a valid email address"),
        message: message.into_bytes(),
    }
}

pub async fn sending_twice_with_the_same_key_sends_the_first_email_once<S: Sent>(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<S>,
) {
    let key = format!("{}/shipped", order_id());
    let first = email(&key, "Your order has shipped");
    mailer.send(&first).await.expect("sending an email");
    mailer.send(&email(&key, "Your order has shipped (again)")).await.expect("sending it again succeeds");
    let sent = sent_under(&key).await;
    assert!(matches!(sent.as_slice(), [only] if only.is(&first)), "the first email, once: {sent:?}");
}

pub async fn concurrent_sends_of_one_key_send_one_email<S: Sent>(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<S>,
) {
    let key = format!("{}/paid", order_id());
    let attempts: Vec<OutgoingEmail> = (0..10).map(|i| email(&key, &format!("Payment received ({i})"))).collect();
    for sent in join_all(attempts.iter().map(|email| mailer.send(email))).await {
        sent.expect("every racing send is answered");
    }
    let sent = sent_under(&key).await;
    assert_eq!(sent.len(), 1, "one email was sent");
    assert!(attempts.iter().any(|attempt| sent[0].is(attempt)), "and it is one of those asked: {sent:?}");
}

pub async fn emails_under_different_keys_are_each_sent<S: Sent>(
    mailer: &dyn Mailer,
    sent_under: impl AsyncFn(&str) -> Vec<S>,
) {
    let order = order_id();
    let emails: Vec<OutgoingEmail> =
        ["received", "invoiced", "paid"].map(|stage| email(&format!("{order}/{stage}"), stage)).into();
    for email in &emails {
        mailer.send(email).await.expect("sending an email");
    }
    for email in emails {
        let sent = sent_under(&email.key).await;
        assert!(matches!(sent.as_slice(), [only] if only.is(&email)), "{} sent once: {sent:?}", email.key);
    }
}
