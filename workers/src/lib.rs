//! The order saga's tasks: one handler per Task state of `state-machines/order.asl.json`.
//!
//! Every task is **idempotent**, keyed by the order id and the step: Step Functions (and the
//! local engine) run a task at least once, so running it again after a lost answer or a restart
//! must never reserve, invoice, charge, ship or email twice. Compensations succeed when there is
//! nothing to undo.
//!
//! Tasks fail with a [`TaskError`] whose [`name`](TaskError::name) is what the state machine's
//! `Retry` and `Catch` match: `Transient` is retried; `OutOfStock`, `PaymentDeclined`,
//! `PaymentRequiresAction`, `AddressUndeliverable`, `CarrierUnavailable` and `OrderCancelled`
//! are caught into the compensations.
//!
//! Compensations are decided by facts, not by the state that failed: a task whose answer was
//! lost may have done its work. [`Task::ReconcileShipment`] asks the carrier first, and a shipped
//! order is finished, not undone; the refund asks the payment partner what was charged; and every
//! compensating task refuses (`OrderShipped`) to act on an order the facts say has shipped.
//!
//! # Layout
//!
//! - [`Saga`]: the ports the tasks use, and [`Saga::run`], which dispatches a task by name.
//! - [`Task`]: the task names, as the state machine's resources name them.
//! - `tasks::*`: one module per task.
//! - [`error`]: [`TaskError`] and the mapping of port errors onto it.

pub mod error;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use orderflow_documents::Seller;
use orderflow_domain::catalog::Catalog;
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{
    BlobStore, Carrier, Clock, Inventory, InvoiceNumbers, Mailer, OrderStore, PaymentGateway,
};
use serde::Deserialize;
use serde_json::Value;

pub use error::TaskError;

/// A task of the saga, named as in the state machine (`${PriceOrderFunctionArn}` runs
/// `PriceOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    PriceOrder,
    ReserveStock,
    IssueInvoice,
    ChargePayment,
    ShipOrder,
    ReconcileShipment,
    NotifyCustomer,
    NoteEmailFailure,
    RefundPayment,
    VoidInvoice,
    ReleaseStock,
    CancelOrder,
    RecordCompensationFailure,
}

impl Task {
    pub const ALL: [Self; 13] = [
        Self::PriceOrder,
        Self::ReserveStock,
        Self::IssueInvoice,
        Self::ChargePayment,
        Self::ShipOrder,
        Self::ReconcileShipment,
        Self::NotifyCustomer,
        Self::NoteEmailFailure,
        Self::RefundPayment,
        Self::VoidInvoice,
        Self::ReleaseStock,
        Self::CancelOrder,
        Self::RecordCompensationFailure,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::PriceOrder => "PriceOrder",
            Self::ReserveStock => "ReserveStock",
            Self::IssueInvoice => "IssueInvoice",
            Self::ChargePayment => "ChargePayment",
            Self::ShipOrder => "ShipOrder",
            Self::ReconcileShipment => "ReconcileShipment",
            Self::NotifyCustomer => "NotifyCustomer",
            Self::NoteEmailFailure => "NoteEmailFailure",
            Self::RefundPayment => "RefundPayment",
            Self::VoidInvoice => "VoidInvoice",
            Self::ReleaseStock => "ReleaseStock",
            Self::CancelOrder => "CancelOrder",
            Self::RecordCompensationFailure => "RecordCompensationFailure",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|task| task.name() == name)
    }

    /// Whether the task calls the payment partner. On AWS only these functions may read its key
    /// (`cdk/lib/functions.ts` grants the same).
    pub const fn calls_payments(self) -> bool {
        matches!(self, Self::ChargePayment | Self::RefundPayment | Self::RecordCompensationFailure)
    }

    /// Whether the task calls the carrier: to ship, or to ask whether a label exists before it
    /// undoes anything. On AWS only these functions may read its key (`cdk/lib/functions.ts`).
    pub const fn calls_carrier(self) -> bool {
        matches!(
            self,
            Self::ShipOrder
                | Self::ReconcileShipment
                | Self::RefundPayment
                | Self::VoidInvoice
                | Self::ReleaseStock
                | Self::CancelOrder
                | Self::RecordCompensationFailure
        )
    }
}

/// What the tasks work with: the ports, and the store's own details.
#[derive(Debug, Clone)]
pub struct Saga {
    pub orders: Arc<dyn OrderStore>,
    pub inventory: Arc<dyn Inventory>,
    pub catalog: Arc<Catalog>,
    pub payments: Arc<dyn PaymentGateway>,
    pub carrier: Arc<dyn Carrier>,
    pub mailer: Arc<dyn Mailer>,
    pub blobs: Arc<dyn BlobStore>,
    pub invoice_numbers: Arc<dyn InvoiceNumbers>,
    pub clock: Arc<dyn Clock>,
    /// Who sells: on invoices and in the From of emails.
    pub seller: Seller,
    /// How long the links in emails work.
    pub link_ttl: Duration,
}

/// The input every task takes: the order it works on, and the task's own parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskInput {
    order_id: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

impl Saga {
    /// Runs `task` on `input` (the task's `Parameters`) and returns its result.
    #[tracing::instrument(skip_all, fields(task = task.name(), order_id))]
    pub async fn run(&self, task: Task, input: Value) -> Result<Value, TaskError> {
        let input: TaskInput =
            serde_json::from_value(input).map_err(|e| TaskError::Invalid(format!("task input: {e}")))?;
        let order = OrderId::parse(&input.order_id).map_err(|e| TaskError::Invalid(format!("orderId: {e}")))?;
        tracing::Span::current().record("order_id", order.as_str());
        let text = |name: &str| input.rest.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let result = match task {
            Task::PriceOrder => tasks::price_order(self, &order).await,
            Task::ReserveStock => tasks::reserve_stock(self, &order).await,
            Task::IssueInvoice => tasks::issue_invoice(self, &order).await,
            Task::ChargePayment => tasks::charge_payment(self, &order).await,
            Task::ShipOrder => tasks::ship_order(self, &order, &text("carrier")).await,
            Task::ReconcileShipment => tasks::reconcile_shipment(self, &order).await,
            Task::NotifyCustomer => tasks::notify_customer(self, &order, &text("stage")).await,
            Task::NoteEmailFailure => tasks::note_email_failure(self, &order, &text("stage"), &text("error")).await,
            Task::RefundPayment => tasks::refund_payment(self, &order).await,
            Task::VoidInvoice => tasks::void_invoice(self, &order).await,
            Task::ReleaseStock => tasks::release_stock(self, &order).await,
            Task::CancelOrder => tasks::cancel_order(self, &order, &text("error"), &text("cause")).await,
            Task::RecordCompensationFailure => {
                tasks::record_compensation_failure(self, &order, &text("error"), &text("cause")).await
            }
        };
        match &result {
            Ok(_) => tracing::debug!("task succeeded"),
            Err(error) => tracing::info!(error = error.name(), cause = %error.cause(), "task failed"),
        }
        result
    }

    async fn load(&self, id: &OrderId) -> Result<Order, TaskError> {
        self.orders.get(id).await?.ok_or_else(|| TaskError::Invalid(format!("order {id} does not exist")))
    }

    /// [`OrderStore::update`](orderflow_domain::ports::OrderStore) with the tasks' error type.
    async fn update(
        &self,
        id: &OrderId,
        change: impl FnMut(&mut Order) -> Result<bool, TaskError> + Send,
    ) -> Result<Order, TaskError> {
        self.orders.update(id, change).await
    }
}
