//! A shop on the local adapters in a temporary directory, whose saga tests run task by task, as
//! the engine would, and behind whose back they play the attempts whose answers were lost.

use std::sync::Arc;
use std::time::Duration;

use orderflow_adapters_local::sqlite::{Database, Durability, SqliteInventory, SqliteInvoiceNumbers, SqliteOrderStore};
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_documents::Seller;
use orderflow_domain::catalog::Grams;
use orderflow_domain::order::{Order, OrderId};
use orderflow_domain::ports::{
    Carrier, ChargeRequest, Inventory, NewOrder, OrderStore, PaymentGateway, Shipment, ShipmentRequest, StockLevel,
    StoreError, SystemClock,
};
use orderflow_port_contracts::fixtures::{self, MUG};
use orderflow_workers::{Saga, Task, TaskError};
use serde_json::{Value, json};
use tempfile::TempDir;

#[derive(Debug)]
pub struct Shop {
    pub saga: Saga,
    pub orders: SqliteOrderStore,
    pub inventory: SqliteInventory,
    pub payments: PaymentSimulator,
    pub carrier: CarrierSimulator,
    pub blobs: FsBlobStore,
    /// Holds every file of the shop; deleted with it.
    _dir: TempDir,
}

impl Shop {
    /// A shop selling the fixtures' catalog, stocked at its initial levels.
    pub async fn open() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Database::open(dir.path().join("orders.db"), Durability::Normal).expect("the orders database");
        let orders = SqliteOrderStore::new(db.clone());
        let inventory = SqliteInventory::new(db.clone());
        let catalog = fixtures::catalog();
        inventory.seed(&catalog).await.expect("seeding the stock");
        let payments = PaymentSimulator::open(dir.path().join("payments.db"), Durability::Normal).expect("a ledger");
        let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal).expect("a carrier");
        let blobs = FsBlobStore::open(dir.path(), "http://127.0.0.1:3000", b"secret".to_vec()).expect("blobs");
        let mailer = EmlOutbox::open(dir.path().join("outbox")).expect("an outbox");
        let saga = Saga {
            orders: Arc::new(orders.clone()),
            inventory: Arc::new(inventory.clone()),
            catalog: Arc::new(catalog),
            payments: Arc::new(payments.clone()),
            carrier: Arc::new(carrier.clone()),
            mailer: Arc::new(mailer),
            blobs: Arc::new(blobs.clone()),
            invoice_numbers: Arc::new(SqliteInvoiceNumbers::new(db)),
            clock: Arc::new(SystemClock::new()),
            seller: Seller::default(),
            link_ttl: Duration::from_secs(3600),
        };
        Self { saga, orders, inventory, payments, carrier, blobs, _dir: dir }
    }

    /// Places an order for two mugs paid with `payment_method`, as the API does.
    pub async fn place(&self, payment_method: &str) -> OrderId {
        let order = fixtures::order_of(fixtures::order_request(fixtures::customer(), payment_method));
        let id = order.id.clone();
        self.orders.place(NewOrder { order, idempotency: None }).await.expect("placing the order");
        id
    }

    /// Runs `task` on `order` as the state machine does, with the primary carrier for
    /// `ShipOrder`.
    pub async fn run(&self, task: Task, order: &OrderId) -> Result<Value, TaskError> {
        self.saga.run(task, json!({"orderId": order, "carrier": "primary"})).await
    }

    /// Runs `task` on `order` as the state machine's `Catch` does after a step failed with
    /// `error`.
    pub async fn run_after(&self, task: Task, order: &OrderId, error: &str) -> Result<Value, TaskError> {
        self.saga.run(task, json!({"orderId": order, "error": error, "cause": "the step gave up"})).await
    }

    /// Runs `tasks` on `order`, each of which must succeed.
    pub async fn run_all(&self, order: &OrderId, tasks: &[Task]) {
        for &task in tasks {
            if let Err(error) = self.run(task, order).await {
                panic!("{} failed: {}: {}", task.name(), error.name(), error.cause());
            }
        }
    }

    /// Places an order paid with a good card, and runs its saga up to the charge.
    pub async fn paid_order(&self) -> OrderId {
        let order = self.place("pm_card_visa").await;
        self.run_all(&order, &[Task::PriceOrder, Task::ReserveStock, Task::IssueInvoice, Task::ChargePayment]).await;
        order
    }

    pub async fn order(&self, id: &OrderId) -> Order {
        self.orders.get(id).await.expect("reading the order").expect("the order exists")
    }

    pub async fn mugs(&self) -> StockLevel {
        self.inventory.level(&fixtures::sku(MUG)).await.expect("reading the stock").expect("mugs are kept")
    }

    /// Reserves the order's stock as `ReserveStock` does, as an attempt whose answer never came
    /// back.
    pub async fn reserve_behind_the_sagas_back(&self, id: &OrderId) {
        let lines: Vec<_> = self.order(id).await.lines.iter().map(|line| (line.sku.clone(), line.quantity)).collect();
        self.inventory.reserve(id, &lines).await.expect("reserving the order's stock");
    }

    /// Charges the order as `ChargePayment` does (opens the payment, records it on the order,
    /// charges it), as an attempt whose answer never came back.
    pub async fn charge_behind_the_sagas_back(&self, id: &OrderId) {
        let order = self.order(id).await;
        let request = ChargeRequest {
            order: id.clone(),
            customer: order.customer.id.clone(),
            amount: order.pricing.total,
            payment_method: order.payment_method.clone(),
            idempotency_key: format!("{id}/charge"),
        };
        let reference = self.payments.open(&request).await.expect("opening the order's payment");
        self.saga
            .orders
            .update(id, |order| Ok::<_, StoreError>(order.record_payment_opened(&reference)))
            .await
            .expect("recording the payment on the order");
        self.payments.charge(&reference, &request).await.expect("charging the order");
    }

    /// Buys the order's label as `ShipOrder` does, as an attempt that crashed before it could
    /// record the shipment.
    pub async fn buy_label_behind_the_sagas_back(&self, id: &OrderId) -> Shipment {
        let order = self.order(id).await;
        let request = ShipmentRequest {
            order: id.clone(),
            destination: order.shipping_address.clone(),
            weight: Grams(order.lines.iter().map(|line| line.weight.0).sum()),
            idempotency_key: format!("{id}/ship"),
        };
        let reference = self.carrier.open(&request).await.expect("opening the order's shipment");
        self.saga
            .orders
            .update(id, |order| Ok::<_, StoreError>(order.record_shipment_opened(&reference)))
            .await
            .expect("recording the shipment on the order");
        self.carrier.ship(&reference, &self.carrier.carriers()[0]).await.expect("buying a label")
    }
}

/// The name of the error `result` failed with.
pub fn failure(result: Result<Value, TaskError>) -> &'static str {
    match result {
        Ok(value) => panic!("the task succeeded: {value}"),
        Err(error) => error.name(),
    }
}
