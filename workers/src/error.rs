//! The errors tasks fail with. Their names are the contract with the state machine: `Retry` and
//! `Catch` match on them (`ErrorEquals`), so they never change.

use orderflow_domain::order::CancellationReason;
use orderflow_domain::ports::{BlobError, BoxError, CarrierError, InventoryError, MailError, PaymentError, StoreError};

/// Why a task failed. [`TaskError::name`] is what Step Functions sees as the error.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Worth retrying: a backing service was unreachable, slow or throttled.
    #[error("a backing service failed transiently")]
    Transient(#[source] BoxError),
    #[error("out of stock: {0}")]
    OutOfStock(String),
    #[error("the payment was declined: {0}")]
    PaymentDeclined(String),
    #[error("the payment requires the customer's authentication")]
    PaymentRequiresAction,
    #[error("the address is undeliverable: {0}")]
    AddressUndeliverable(String),
    #[error("the carrier cannot take the parcel: {0}")]
    CarrierUnavailable(String),
    /// The customer asked to cancel; the state machine undoes what was done.
    #[error("the customer asked to cancel the order")]
    OrderCancelled,
    /// A compensation was asked to undo part of an order that has shipped: refusing is the only
    /// safe answer, and a person must look at how the saga got there.
    #[error("the order has shipped and cannot be undone: {0}")]
    OrderShipped(String),
    /// A partner refused the request itself; retrying will not help.
    #[error("a partner refused the request")]
    Rejected(#[source] BoxError),
    /// The task's input, or the order's state, is not what this task can work with: a bug.
    #[error("{0}")]
    Invalid(String),
}

impl TaskError {
    /// The stable error name the state machine matches.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Transient(_) => "Transient",
            Self::OutOfStock(_) => "OutOfStock",
            Self::PaymentDeclined(_) => "PaymentDeclined",
            Self::PaymentRequiresAction => "PaymentRequiresAction",
            Self::AddressUndeliverable(_) => "AddressUndeliverable",
            Self::CarrierUnavailable(_) => "CarrierUnavailable",
            Self::OrderCancelled => "OrderCancelled",
            Self::OrderShipped(_) => "OrderShipped",
            Self::Rejected(_) => "Rejected",
            Self::Invalid(_) => "InvalidTaskInput",
        }
    }

    /// The error's message and causes on one line: the `Cause` the state machine sees.
    pub fn cause(&self) -> String {
        orderflow_domain::CauseChain(self).to_string()
    }
}

/// The reason an order is cancelled, from the name of the error that stopped its saga.
pub fn cancellation_reason(error_name: &str) -> CancellationReason {
    match error_name {
        "OutOfStock" => CancellationReason::OutOfStock,
        "PaymentDeclined" => CancellationReason::PaymentDeclined,
        "PaymentRequiresAction" => CancellationReason::PaymentRequiresAction,
        "AddressUndeliverable" => CancellationReason::AddressUndeliverable,
        "CarrierUnavailable" => CancellationReason::CarrierUnavailable,
        "OrderCancelled" => CancellationReason::CustomerRequest,
        _ => CancellationReason::InternalError,
    }
}

impl From<StoreError> for TaskError {
    fn from(error: StoreError) -> Self {
        match error {
            // A lost race after our own retries: the state machine retries the task.
            StoreError::VersionConflict { .. } | StoreError::Unavailable(_) => Self::Transient(Box::new(error)),
            StoreError::NotFound | StoreError::IdempotencyKeyReused { .. } => Self::Invalid(error.to_string()),
        }
    }
}

impl From<InventoryError> for TaskError {
    fn from(error: InventoryError) -> Self {
        match error {
            InventoryError::OutOfStock(skus) => {
                Self::OutOfStock(skus.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(", "))
            }
            InventoryError::UnknownSku(sku) => Self::Invalid(format!("unknown SKU {sku}")),
            InventoryError::Unavailable(_) => Self::Transient(Box::new(error)),
        }
    }
}

impl From<PaymentError> for TaskError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Declined { code } => Self::PaymentDeclined(code),
            PaymentError::RequiresAction => Self::PaymentRequiresAction,
            PaymentError::Transient(_) => Self::Transient(Box::new(error)),
            PaymentError::Rejected(_) => Self::Rejected(Box::new(error)),
        }
    }
}

impl From<CarrierError> for TaskError {
    fn from(error: CarrierError) -> Self {
        match error {
            CarrierError::Undeliverable(why) => Self::AddressUndeliverable(why),
            CarrierError::Unavailable(carrier) => Self::CarrierUnavailable(carrier),
            CarrierError::Transient(_) => Self::Transient(Box::new(error)),
            CarrierError::Rejected(_) => Self::Rejected(Box::new(error)),
        }
    }
}

impl From<MailError> for TaskError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::Transient(_) => Self::Transient(Box::new(error)),
            MailError::Rejected(_) => Self::Rejected(Box::new(error)),
        }
    }
}

impl From<BlobError> for TaskError {
    /// Documents live in a store that fails only transiently (S3, a folder).
    fn from(error: BlobError) -> Self {
        Self::Transient(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_business_error_name_maps_to_its_cancellation_reason() {
        for (error, reason) in [
            (TaskError::OutOfStock("A".into()), CancellationReason::OutOfStock),
            (TaskError::PaymentDeclined("card_declined".into()), CancellationReason::PaymentDeclined),
            (TaskError::PaymentRequiresAction, CancellationReason::PaymentRequiresAction),
            (TaskError::AddressUndeliverable("x".into()), CancellationReason::AddressUndeliverable),
            (TaskError::CarrierUnavailable("x".into()), CancellationReason::CarrierUnavailable),
            (TaskError::OrderCancelled, CancellationReason::CustomerRequest),
        ] {
            assert_eq!(cancellation_reason(error.name()), reason);
        }
        assert_eq!(cancellation_reason("States.Timeout"), CancellationReason::InternalError);
    }

    #[test]
    fn the_cause_carries_the_whole_chain() {
        let error = TaskError::from(PaymentError::Transient("connection reset".into()));
        assert_eq!(error.name(), "Transient");
        assert_eq!(
            error.cause(),
            "a backing service failed transiently: the payment partner failed transiently: connection reset"
        );
    }
}
