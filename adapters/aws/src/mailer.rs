//! `Mailer` on SESv2: the same MIME the local mailer writes, sent as raw content (attachments
//! included), once per key.
//!
//! SES has no idempotency key, so the once-per-key promise is kept in the table: a claim item
//! `EMAIL#<key>`, put on the condition that none exists, BEFORE sending. Whoever puts the claim
//! sends; everyone else (a retry, a racing duplicate) is answered "sent" without sending.
//!
//! The trade-off: at most once, not exactly once. A process that dies between the claim and the
//! send (or whose send has an unknown outcome, such as a timeout) leaves a claim without
//! `sent_at`: that email is lost rather than sent twice. The claim records `claimed_at`, the
//! recipient, and then either `sent_at` with SES's `message_id`, or `uncertain` with the error,
//! so a claim without `sent_at` names exactly the emails to look into. When SES answers with an
//! error, nothing was sent: the claim is withdrawn so that a retry sends.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use orderflow_domain::ports::{BoxError, MailError, Mailer, OutgoingEmail};
use time::format_description::well_known::Rfc3339;

use crate::table::{Table, s};

/// Sends through SES, claiming each key in the table first.
#[derive(Debug, Clone)]
pub struct SesMailer {
    ses: aws_sdk_sesv2::Client,
    claims: Table,
}

fn transient(error: impl Into<BoxError>) -> MailError {
    MailError::Transient(error.into())
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

const EMAIL: &str = "EMAIL";

fn claim_pk(key: &str) -> String {
    format!("EMAIL#{key}")
}

/// SES's answers that say the message itself, or the sender, is refused: sending again will not help.
const REFUSALS: [&str; 5] = [
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "BadRequestException",
];

impl SesMailer {
    /// `claims` is the table the once-per-key claims are kept in (the order table does).
    pub fn new(ses: aws_sdk_sesv2::Client, claims: Table) -> Self {
        Self { ses, claims }
    }

    /// Takes the claim to send `email`; `false` when someone already has.
    async fn claim(&self, email: &OutgoingEmail) -> Result<bool, MailError> {
        let mut claim = Table::key(claim_pk(&email.key), EMAIL);
        claim.extend([("to".to_owned(), s(email.to.to_string())), ("claimed_at".to_owned(), s(now()))]);
        self.claims.put_if_absent(claim).await.map_err(transient)
    }

    /// Records on the claim what became of the send: `SET ...` with `values`.
    async fn record(&self, key: &str, update: &str, values: &[(&str, String)]) -> Result<(), MailError> {
        let mut request = self
            .claims
            .client
            .update_item()
            .table_name(&self.claims.name)
            .set_key(Some(Table::key(claim_pk(key), EMAIL)))
            .update_expression(update);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, s(value.clone()));
        }
        request.send().await.map(|_| ()).map_err(transient)
    }

    /// Withdraws the claim of an email SES refused to take, so that a retry sends it.
    async fn withdraw(&self, key: &str) -> Result<(), MailError> {
        self.claims
            .client
            .delete_item()
            .table_name(&self.claims.name)
            .set_key(Some(Table::key(claim_pk(key), EMAIL)))
            .condition_expression("attribute_not_exists(sent_at)")
            .send()
            .await
            .map(|_| ())
            .map_err(transient)
    }
}

#[async_trait]
impl Mailer for SesMailer {
    #[tracing::instrument(skip_all, fields(email_key = %email.key))]
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        if !self.claim(email).await? {
            tracing::debug!("already claimed: sent, or lost to a crash, but not sent again");
            return Ok(());
        }
        let sent = self
            .ses
            .send_email()
            .destination(Destination::builder().to_addresses(email.to.to_string()).build())
            .content(
                EmailContent::builder()
                    .raw(RawMessage::builder().data(Blob::new(email.message.clone())).build().map_err(transient)?)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(output) => {
                let message_id = output.message_id.unwrap_or_default();
                self.record(&email.key, "SET sent_at = :at, message_id = :id", &[(":at", now()), (":id", message_id)])
                    .await
            }
            // SES answered: nothing was sent.
            Err(SdkError::ServiceError(error)) => {
                let refused = error.err().code().is_some_and(|code| REFUSALS.contains(&code));
                let error = SdkError::ServiceError(error);
                self.withdraw(&email.key).await?;
                Err(if refused { MailError::Rejected(error.into()) } else { transient(error) })
            }
            Err(error @ SdkError::ConstructionFailure(_)) => {
                self.withdraw(&email.key).await?;
                Err(MailError::Rejected(error.into()))
            }
            // Sent or not, nobody knows: keep the claim (at most once) and say why.
            Err(error) => {
                let why = orderflow_domain::CauseChain(&error).to_string();
                self.record(&email.key, "SET uncertain = :why, uncertain_at = :at", &[(":why", why), (":at", now())])
                    .await?;
                Err(transient(error))
            }
        }
    }
}
