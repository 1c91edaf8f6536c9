//! AWS adapters behind the domain's ports: what the Lambda hosts wire in place of the local ones.
//! The local server never links this crate (`cargo run --release` builds no AWS SDK).
//!
//! Clients are built once per process by the caller, from an [`aws_config::SdkConfig`] it
//! loads (from the environment on Lambda; with an endpoint override for an emulator), and passed
//! to each adapter: see [`Clients::new`].
//!
//! # Layout
//!
//! - [`table`]: the one DynamoDB table (`pk`/`sk`, three sparse indexes), its item keys and
//!   [`table::create`], the schema in one place.
//! - [`orders`]: [`DynamoOrderStore`], orders, idempotency records and the workflow outbox,
//!   written together in one transaction.
//! - [`inventory`]: [`DynamoInventory`], stock per SKU and reservations per order, with
//!   conditional writes.
//! - [`invoices`]: [`DynamoInvoiceNumbers`], gap-free per year from a counter.
//! - [`blobs`]: [`S3BlobStore`], documents in a bucket, with presigned links.
//! - [`mailer`]: [`SesMailer`], raw MIME through SESv2, once per key thanks to a claim in the
//!   table taken before sending.
//! - [`workflows`]: [`StepFunctionsWorkflows`], one execution per order named after it, and its
//!   description and history as Step Functions records them.
//!
//! # Items of the table
//!
//! | `pk` | `sk` | what |
//! |---|---|---|
//! | `ORDER#<order id>` | `ORDER` | the order (its JSON `body`, `version`, `status`) |
//! | `ORDER#<order id>` | `START` | its outbox entry, `pending` until its workflow started |
//! | `ORDER#<order id>` | `RESERVATION` | the stock it reserved, and whether it was released or shipped |
//! | `ORDER#<order id>` | `INVOICE` | the invoice number it was assigned |
//! | `CUSTOMER#<customer id>` | `IDEMPOTENCY#<key>` | the order a key placed, and the request's fingerprint |
//! | `STOCK` | `<sku>` | on hand, reserved, available |
//! | `INVOICE_COUNTER` | `<year>` | the last number assigned in the year |
//! | `EMAIL#<key>` | `EMAIL` | the claim to send one email, and what became of it |

pub mod blobs;
pub mod inventory;
pub mod invoices;
pub mod mailer;
pub mod orders;
pub mod table;
pub mod workflows;

pub use blobs::S3BlobStore;
pub use inventory::DynamoInventory;
pub use invoices::DynamoInvoiceNumbers;
pub use mailer::SesMailer;
pub use orders::DynamoOrderStore;
pub use table::Table;
pub use workflows::StepFunctionsWorkflows;

/// The SDK clients, built once per process (per Lambda cold start) and shared by every adapter:
/// each holds its connection pool and credentials cache.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Clients for `config`. For an emulator, load it with its endpoint
    /// (`aws_config::defaults(..).endpoint_url(..)`); `path_style_s3` addresses buckets as
    /// `endpoint/bucket/key`, which emulators need (no `bucket.localhost` DNS).
    pub fn new(config: &aws_config::SdkConfig, path_style_s3: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style_s3).build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            ses: aws_sdk_sesv2::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
        }
    }
}
