//! The partner a task's function was not granted: a worker reads only the keys of the partners
//! its task calls (`Task::calls_payments`, `Task::calls_carrier`), as its IAM role allows, and
//! any other partner answers every call with `Rejected`. A task that calls one anyway is a defect
//! that this makes loud instead of an access denied at the first order.

use async_trait::async_trait;
use orderflow_domain::order::OrderId;
use orderflow_domain::ports::{
    Carrier, CarrierError, Charge, ChargeRequest, PaymentError, PaymentGateway, Refund, Shipment, ShipmentRequest,
};
use orderflow_workers::Task;

#[derive(Debug, Clone, Copy)]
pub struct NotGranted(pub Task);

#[derive(Debug, thiserror::Error)]
#[error("{task}'s function is not granted the {partner}: the task called a partner it does not use")]
struct Refusal {
    task: &'static str,
    partner: &'static str,
}

impl NotGranted {
    fn payment_error(self) -> PaymentError {
        PaymentError::Rejected(Box::new(Refusal { task: self.0.name(), partner: "payment partner" }))
    }

    fn carrier_error(self) -> CarrierError {
        CarrierError::Rejected(Box::new(Refusal { task: self.0.name(), partner: "carrier" }))
    }
}

#[async_trait]
impl PaymentGateway for NotGranted {
    async fn open(&self, _: &ChargeRequest) -> Result<String, PaymentError> {
        Err(self.payment_error())
    }

    async fn charge(&self, _: &str, _: &ChargeRequest) -> Result<Charge, PaymentError> {
        Err(self.payment_error())
    }

    async fn find_charge(&self, _: &str) -> Result<Option<Charge>, PaymentError> {
        Err(self.payment_error())
    }

    async fn refund(&self, _: &OrderId, _: &Charge) -> Result<Refund, PaymentError> {
        Err(self.payment_error())
    }
}

#[async_trait]
impl Carrier for NotGranted {
    fn carriers(&self) -> Vec<String> {
        Vec::new()
    }

    async fn open(&self, _: &ShipmentRequest) -> Result<String, CarrierError> {
        Err(self.carrier_error())
    }

    async fn ship(&self, _: &str, _: &str) -> Result<Shipment, CarrierError> {
        Err(self.carrier_error())
    }

    async fn find(&self, _: &str) -> Result<Option<Shipment>, CarrierError> {
        Err(self.carrier_error())
    }

    async fn void(&self, _: &str) -> Result<(), CarrierError> {
        Err(self.carrier_error())
    }
}

#[cfg(test)]
mod tests {
    use orderflow_workers::Task;

    /// The CDK app grants a worker a partner's key from its row in `cdk/lib/functions.ts`
    /// (`worker('ChargePayment', { stripe: true }, 60)`); the code builds a partner's client from
    /// `Task::calls_*`. They must agree, or a function meets an access denied, or holds a key it
    /// never uses.
    #[test]
    fn the_cdk_app_grants_each_worker_the_keys_of_exactly_the_partners_its_task_calls() {
        let functions = include_str!("../../cdk/lib/functions.ts");
        for task in Task::ALL {
            let row = functions
                .lines()
                .find(|line| line.trim_start().starts_with(&format!("worker('{}',", task.name())))
                .unwrap_or_else(|| panic!("cdk/lib/functions.ts has no worker row for {}", task.name()));
            assert_eq!(row.contains("stripe: true"), task.calls_payments(), "{}: {row}", task.name());
            assert_eq!(row.contains("easypost: true"), task.calls_carrier(), "{}: {row}", task.name());
        }
    }
}
