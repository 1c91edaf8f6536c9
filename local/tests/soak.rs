//! The saga soak: hundreds of orders through the real `orderflow` binary while every Task state
//! of the machine loses attempts before and after its side effect, permanent business failures
//! strike retries (a decline after a lost charge, an undeliverable address after a lost label),
//! partners refuse some orders themselves, customers cancel at random moments and the process is
//! SIGKILLed and restarted on the same data directory. Once every order has settled and the
//! server has stopped, the guarantees are checked exactly from what the stores say happened: the
//! order store, the payment ledger, the carrier's records, the mail outbox, the stock levels and
//! the invoice counter.
//!
//! Its size comes from the environment: `SOAK_ORDERS` (300), `SOAK_KILLS` (2), `SOAK_SEED` (7,
//! drives the orders, the cancellations, the kills and the fault draws: a failure is replayed
//! with the same seed, up to the scheduling), `SOAK_KEEP` (set: keep the data directory and the
//! server logs, and print where). `bench/soak.sh [orders] [kills]` runs it in release at any size.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use orderflow_adapters_local::carrier::ShipmentRecord;
use orderflow_adapters_local::payments::{ChargeStatus, LedgerCharge};
use orderflow_adapters_local::sqlite::{Database, Durability, SqliteInventory, SqliteInvoiceNumbers, SqliteOrderStore};
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, PaymentSimulator};
use orderflow_documents::Stage;
use orderflow_domain::order::{CancellationReason, Order, OrderId, OrderStatus};
use orderflow_domain::ports::{Inventory, InvoiceNumbers, OrderQuery, OrderStore};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// How big a soak, from the environment.
#[derive(Debug, Clone, Copy)]
struct Settings {
    orders: usize,
    kills: usize,
    seed: u64,
}

impl Settings {
    fn from_env() -> Self {
        let read = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .map_or(default, |raw| raw.parse().unwrap_or_else(|_| panic!("{name}={raw} is not a number")))
        };
        Self {
            orders: usize::try_from(read("SOAK_ORDERS", 300)).unwrap(),
            kills: usize::try_from(read("SOAK_KILLS", 2)).unwrap(),
            seed: read("SOAK_SEED", 7),
        }
    }
}

/// Transient faults before and after the side effect, in every Task state.
const TRANSIENT_BEFORE: f64 = 0.08;
const TRANSIENT_AFTER: f64 = 0.08;
/// Permanent business failures on a retry, after an earlier attempt failed (perhaps having done
/// its work): listed first, so that a retry they draw is theirs.
const BUSINESS_ON_RETRY: [(&str, &str, f64); 4] = [
    ("ChargePayment", "PaymentDeclined", 0.3),
    ("ShipOrder", "CarrierUnavailable", 0.15),
    ("ShipOrder", "AddressUndeliverable", 0.2),
    ("ShipWithFallbackCarrier", "CarrierUnavailable", 0.3),
];

/// Every Task state of the order machine, read from the file itself so the list cannot go stale.
fn task_states() -> Vec<String> {
    fn walk(states: &serde_json::Map<String, Value>, found: &mut Vec<String>) {
        for (name, state) in states {
            if state["Type"] == "Task" {
                found.push(name.clone());
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                walk(branch["States"].as_object().unwrap(), found);
            }
            for processor in [&state["ItemProcessor"], &state["Iterator"]] {
                if let Some(states) = processor["States"].as_object() {
                    walk(states, found);
                }
            }
        }
    }
    let machine: Value = serde_json::from_str(orderflow::saga::ORDER_STATE_MACHINE).unwrap();
    let mut found = Vec::new();
    walk(machine["States"].as_object().unwrap(), &mut found);
    found
}

/// The `FAULTS` setting of the soak.
fn faults_spec(states: &[String]) -> String {
    let business = BUSINESS_ON_RETRY.iter().map(|(state, error, p)| format!("{state}:{error}:{p}:retry"));
    let transient = states.iter().flat_map(|state| {
        [format!("{state}:Transient:{TRANSIENT_BEFORE}"), format!("{state}:Transient:{TRANSIENT_AFTER}:after")]
    });
    business.chain(transient).collect::<Vec<_>>().join(",")
}

/// A free port on loopback (bound then released: the server binds it right after, and binds it
/// again after each kill, so clients keep one address).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `orderflow` process, killed when dropped, so a failing test leaves none behind.
struct Server {
    child: Child,
}

impl Server {
    /// SIGKILL: the process gets no chance to finish anything.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the graceful stop.
    fn stop(mut self) {
        let stopped = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        assert!(stopped.is_ok_and(|s| s.success()), "cannot signal the server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the soak runs: one data directory, one port, one set of faults.
struct Site {
    data_dir: PathBuf,
    logs: PathBuf,
    port: u16,
    faults: String,
    seed: u64,
    client: Client,
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", SocketAddr::from(([127, 0, 0, 1], self.port)))
    }

    /// Starts the binary on the data directory (the `run`th time), and waits until it answers.
    async fn start(&self, run: usize) -> Server {
        let log = self.log(run);
        let child = Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .env("DATA_DIR", &self.data_dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("TIME_SCALE", "0.001")
            .env("FAULTS", &self.faults)
            .env("FAULT_SEED", self.seed.to_string())
            // Info from the runtime itself, to read how many executions a restart resumed.
            .env("RUST_LOG", "warn,orderflow=info")
            .env("LOG_FORMAT", "json")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.client.get(self.url("/health")).send().await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                let stderr = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
                panic!("the server exited ({status}): {stderr}");
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The log of the `run`th start.
    fn log(&self, run: usize) -> PathBuf {
        self.logs.join(format!("server-{run}.log"))
    }

    /// How many running executions the `run`th start found and resumed: those a kill interrupted.
    fn resumed(&self, run: usize) -> u64 {
        std::fs::read_to_string(self.log(run))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["message"] == "resumed the executions left running")
            .filter_map(|line| line["executions"].as_u64())
            .sum()
    }

    /// Sends a request until the server answers it: through kills, a connection error is
    /// retried (with the same idempotency key, for a POST), as a client would.
    async fn send(&self, request: impl Fn() -> RequestBuilder) -> Response {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match request().send().await {
                Ok(response) if response.status() != 503 => return response,
                Ok(_) | Err(_) => {
                    assert!(Instant::now() < deadline, "the server stayed unreachable");
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        }
    }
}

/// What the test decided for one order, from the seed.
#[derive(Debug, Clone)]
struct Plan {
    body: Value,
    key: String,
    /// Cancel this long after the order is accepted.
    cancel_after: Option<Duration>,
}

fn plans(settings: Settings, skus: &[String]) -> Vec<Plan> {
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    (0..settings.orders)
        .map(|i| {
            let mut lines: Vec<Value> = (0..rng.usize(1..=2))
                .map(|_| json!({"sku": skus[rng.usize(..skus.len())], "quantity": rng.u32(1..=3)}))
                .collect();
            lines.dedup_by(|a, b| a["sku"] == b["sku"]);
            // Partners refuse some orders themselves: declined cards, an address no carrier serves.
            let payment_method = match rng.u32(..100) {
                0..6 => "pm_card_chargeDeclined",
                6..8 => "pm_card_authenticationRequired",
                8..50 => "pm_card_mastercard",
                _ => "pm_card_visa",
            };
            let postal_code = if rng.u32(..100) < 5 { "00000" } else { "94103" };
            let customer = format!("cus_soak_{}", i % 40);
            let body = json!({
                "customer": {"id": customer, "email": format!("{customer}@example.com"), "name": "Soak Tester"},
                "items": lines,
                "shippingAddress": {
                    "name": "Soak Tester",
                    "line1": "12 Market Street",
                    "city": "San Francisco",
                    "region": "CA",
                    "postalCode": postal_code,
                    "country": "US"
                },
                "paymentMethod": payment_method
            });
            // Some customers change their mind at once, others later, at any step or after it shipped.
            let cancel_after = (rng.u32(..100) < 20)
                .then(|| Duration::from_millis(if rng.bool() { rng.u64(0..50) } else { rng.u64(50..=800) }));
            Plan { body, key: format!("soak-{}-{i}", settings.seed), cancel_after }
        })
        .collect()
}

/// What the client saw of one order.
#[derive(Debug, Default, Clone)]
struct Seen {
    id: String,
    /// The answer to the customer's cancellation, when they asked.
    cancel_answer: Option<u16>,
    /// The execution's status once it stopped running (`SUCCEEDED`, `FAILED`, ...).
    execution: Option<String>,
}

/// Places one order (retrying through kills with its idempotency key) and cancels it if planned.
async fn run_order(site: &Site, plan: &Plan, sent: &AtomicUsize) -> Seen {
    sent.fetch_add(1, Ordering::SeqCst);
    let response = site
        .send(|| site.client.post(site.url("/api/v0/orders")).header("Idempotency-Key", &plan.key).json(&plan.body))
        .await;
    let status = response.status();
    let order: Value = response.json().await.unwrap();
    assert!(status == 202 || status == 200, "placing {} answered {status}: {order}", plan.body);
    let id = order["id"].as_str().unwrap().to_owned();
    let mut seen = Seen { id, ..Seen::default() };
    if let Some(delay) = plan.cancel_after {
        tokio::time::sleep(delay).await;
        let path = format!("/api/v0/orders/{}", seen.id);
        let answer = site.send(|| site.client.delete(site.url(&path))).await.status().as_u16();
        seen.cancel_answer = Some(answer);
    }
    seen
}

/// Waits until the order's execution has stopped running, and returns its status; `None` if it
/// did not by `deadline`.
async fn settle(site: &Site, id: &str, deadline: Instant) -> Option<String> {
    let path = format!("/api/v0/orders/{id}/execution");
    loop {
        let response = site.send(|| site.client.get(site.url(&path))).await;
        if response.status() == 200 {
            let execution: Value = response.json().await.unwrap();
            let status = execution["execution"]["status"].as_str().unwrap_or_default().to_owned();
            if status != "RUNNING" {
                return Some(status);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything the stores hold once the server has stopped.
struct Facts {
    orders: Vec<Order>,
    stock: BTreeMap<String, (u32, u32)>,
    charges: Vec<LedgerCharge>,
    labels: Vec<ShipmentRecord>,
    /// `order/stage` keys of the outbox, and the `X-Order-Id` each email carries.
    emails: Vec<(String, Option<String>)>,
    /// The next invoice number the counter would assign, for each year in use.
    next_invoice: BTreeMap<i32, u64>,
    data_dir: PathBuf,
}

/// The year and sequence of `INV-2026-000042`.
fn invoice_seq(number: &str) -> Option<(i32, u64)> {
    let mut parts = number.strip_prefix("INV-")?.splitn(2, '-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

async fn read_facts(data_dir: &Path) -> Facts {
    let db = Database::open(data_dir.join("orders.db"), Durability::Normal).unwrap();
    let store = SqliteOrderStore::new(db.clone());
    let mut orders = Vec::new();
    let mut before = None;
    loop {
        let page = store.list(&OrderQuery { before, limit: 100, ..OrderQuery::default() }).await.unwrap();
        orders.extend(page.orders);
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let stock = SqliteInventory::new(db.clone())
        .levels()
        .await
        .unwrap()
        .into_iter()
        .map(|(sku, level)| (sku.to_string(), (level.on_hand, level.reserved)))
        .collect();
    // The counter's next number says how many were assigned: asking it for a order that does not
    // exist assigns one more, which a stopped soak can spare.
    let numbers = SqliteInvoiceNumbers::new(db);
    let mut years: Vec<i32> =
        orders.iter().filter_map(|o| invoice_seq(&o.invoice.as_ref()?.number)).map(|(year, _)| year).collect();
    years.push(time::OffsetDateTime::now_utc().year());
    years.sort_unstable();
    years.dedup();
    let mut next_invoice = BTreeMap::new();
    for year in years {
        let probe = OrderId::parse("ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB").unwrap();
        let number = numbers.assign(&probe, year).await.unwrap();
        next_invoice.insert(year, invoice_seq(&number).unwrap().1);
    }
    let charges = PaymentSimulator::open(data_dir.join("payments.db"), Durability::Normal)
        .unwrap()
        .ledger()
        .await
        .unwrap()
        .charges;
    let labels =
        CarrierSimulator::open(data_dir.join("carrier.db"), Durability::Normal).unwrap().shipments().await.unwrap();
    let emails = EmlOutbox::open(data_dir.join("outbox"))
        .unwrap()
        .sent()
        .await
        .unwrap()
        .into_iter()
        .map(|email| (email.key, email.order_id))
        .collect();
    Facts { orders, stock, charges, labels, emails, next_invoice, data_dir: data_dir.to_path_buf() }
}

/// Which outcome an order had, for the summary.
fn outcome(order: &Order) -> String {
    match order.status() {
        OrderStatus::Cancelled => {
            format!("cancelled: {}", order.cancellation().map_or("no reason", |c| c.reason.as_str()))
        }
        status => status.to_string(),
    }
}

/// Checks every guarantee on the facts and returns each violation found.
fn violations(facts: &Facts, seen: &[Seen], start_stock: &BTreeMap<String, u32>) -> Vec<String> {
    let mut found = Vec::new();
    let mut shipped_units: HashMap<String, u32> = HashMap::new();

    // Idempotency: one stored order per placement, whatever the retries through the kills.
    if facts.orders.len() != seen.len() {
        found.push(format!("{} orders placed, {} stored", seen.len(), facts.orders.len()));
    }
    let mut email_count: HashMap<&str, usize> = HashMap::new();
    for (key, order_header) in &facts.emails {
        *email_count.entry(key.as_str()).or_default() += 1;
        let order_of_key = key.split_once('/').map(|(order, _)| order);
        if order_of_key != order_header.as_deref() {
            found.push(format!("email {key} carries X-Order-Id {order_header:?}"));
        }
    }

    for order in &facts.orders {
        let id = order.id.as_str();
        let execution = seen.iter().find(|s| s.id == id).and_then(|s| s.execution.as_deref());
        match execution {
            Some("SUCCEEDED") => {}
            Some(other) => found.push(format!("{id}: the execution ended {other} ({})", last_notes(order))),
            None => found.push(format!("{id}: the execution never finished (order {})", order.status())),
        }
        let charges: Vec<&LedgerCharge> = facts.charges.iter().filter(|c| c.order_id == order.id).collect();
        let succeeded: Vec<&&LedgerCharge> = charges.iter().filter(|c| c.status == ChargeStatus::Succeeded).collect();
        let charged: i64 = succeeded.iter().map(|c| c.amount.minor()).sum();
        let refunded: i64 = charges.iter().flat_map(|c| &c.refunds).map(|r| r.amount.minor()).sum();
        for charge in &charges {
            if charge.status != ChargeStatus::Succeeded && !charge.refunds.is_empty() {
                found.push(format!("{id}: a charge that did not succeed was refunded ({})", charge.reference));
            }
        }
        if succeeded.len() > 1 {
            found.push(format!("{id}: charged {} times", succeeded.len()));
        }
        let labels: Vec<&ShipmentRecord> = facts.labels.iter().filter(|label| label.order_id == order.id).collect();
        let live_labels = labels.iter().filter(|label| !label.voided).count();

        match order.status() {
            OrderStatus::Shipped => {
                if succeeded.len() != 1 || charged != order.pricing.total.minor() {
                    found.push(format!(
                        "{id}: shipped with {} successful charges for {charged} (total {})",
                        succeeded.len(),
                        order.pricing.total.minor()
                    ));
                }
                if refunded != 0 {
                    found.push(format!("{id}: shipped and refunded {refunded}"));
                }
                if labels.len() != 1 || live_labels != 1 {
                    found.push(format!("{id}: shipped with {} labels, {live_labels} not voided", labels.len()));
                }
                if let (Some(shipment), Some(label)) = (&order.shipment, labels.first())
                    && shipment.tracking_number != label.tracking_number
                {
                    found.push(format!(
                        "{id}: ships {} but the carrier holds {}",
                        shipment.tracking_number, label.tracking_number
                    ));
                }
                match &order.invoice {
                    Some(invoice) if invoice.credit_note_key.is_some() => {
                        found.push(format!("{id}: shipped with its invoice {} voided", invoice.number));
                    }
                    Some(_) => {}
                    None => found.push(format!("{id}: shipped without an invoice")),
                }
                for line in &order.lines {
                    *shipped_units.entry(line.sku.to_string()).or_default() += line.quantity.get();
                }
            }
            OrderStatus::Cancelled => {
                if charged != refunded {
                    found.push(format!(
                        "{id}: cancelled ({}) with {charged} charged and {refunded} refunded",
                        outcome(order)
                    ));
                }
                if live_labels != 0 {
                    found.push(format!("{id}: cancelled ({}) with {live_labels} label(s) kept", outcome(order)));
                }
                if let Some(invoice) = order.invoice.as_ref().filter(|i| i.credit_note_key.is_none()) {
                    found.push(format!("{id}: cancelled with a live invoice {}", invoice.number));
                }
            }
            other => found.push(format!("{id}: ended {other}")),
        }
        for key in [
            order.invoice.as_ref().map(|i| &i.document_key),
            order.invoice.as_ref().and_then(|i| i.credit_note_key.as_ref()),
        ]
        .into_iter()
        .flatten()
        {
            if !facts.data_dir.join(key).is_file() {
                found.push(format!("{id}: {key} is recorded but not filed"));
            }
        }
        check_emails(order, refunded > 0, &email_count, &mut found);
    }
    for key in email_count.keys() {
        let order = key.split_once('/').map_or(*key, |(order, _)| order);
        if !facts.orders.iter().any(|o| o.id.as_str() == order) {
            found.push(format!("email {key} is about no stored order"));
        }
    }
    check_invoice_numbers(facts, &mut found);
    for (sku, &start) in start_stock {
        let shipped = shipped_units.get(sku).copied().unwrap_or_default();
        match facts.stock.get(sku) {
            Some(&(on_hand, reserved)) => {
                if i64::from(on_hand) != i64::from(start) - i64::from(shipped) || reserved != 0 {
                    found.push(format!(
                        "stock of {sku}: {start} at the start, {shipped} shipped, now {on_hand} on hand and {reserved} reserved"
                    ));
                }
            }
            None => found.push(format!("stock of {sku} disappeared")),
        }
    }
    found
}

/// The last notes on an order's history, which say why a person is needed.
fn last_notes(order: &Order) -> String {
    let history = order.history();
    history[history.len().saturating_sub(2)..].iter().map(|h| h.detail.as_str()).collect::<Vec<_>>().join("; ")
}

/// Each stage the order's facts imply is emailed exactly once (or its failure is noted on the
/// order), and no other stage is.
fn check_emails(order: &Order, refunded: bool, sent: &HashMap<&str, usize>, found: &mut Vec<String>) {
    let reached = |status: OrderStatus| order.history().iter().any(|h| h.status == status);
    let payment_failure = order.cancellation().is_some_and(|c| {
        matches!(c.reason, CancellationReason::PaymentDeclined | CancellationReason::PaymentRequiresAction)
    });
    let cancelled = order.status() == OrderStatus::Cancelled;
    // The last forward stage a cancelled order reached may have lost its step's answer: the saga
    // then compensated without announcing that stage, and the customer hears the outcome instead.
    let last_reached = [Stage::Paid, Stage::Invoiced, Stage::Confirmed].into_iter().find(|stage| match stage {
        Stage::Paid => reached(OrderStatus::Paid),
        Stage::Invoiced => reached(OrderStatus::Invoiced),
        _ => reached(OrderStatus::Confirmed),
    });
    let may_be_unannounced = |stage: Stage| cancelled && last_reached == Some(stage);
    let expected = |stage: Stage| match stage {
        Stage::Confirmed => reached(OrderStatus::Confirmed),
        Stage::Invoiced => reached(OrderStatus::Invoiced),
        Stage::Paid => reached(OrderStatus::Paid),
        Stage::Shipped => order.status() == OrderStatus::Shipped,
        Stage::Refunded => refunded,
        Stage::PaymentFailed => cancelled && payment_failure,
        Stage::Cancelled => cancelled && !payment_failure,
    };
    for stage in Stage::ALL {
        let key = orderflow_documents::idempotency_key(&order.id, stage);
        let count = sent.get(key.as_str()).copied().unwrap_or_default();
        // The machine names the cancellation stage `cancelled` whichever email it becomes.
        let noted_as = if stage == Stage::PaymentFailed { "cancelled" } else { stage.as_str() };
        let noted =
            order.history().iter().any(|h| h.detail.starts_with(&format!("the {noted_as} email could not be sent")));
        let fine = if expected(stage) {
            count == 1 || (count == 0 && (noted || may_be_unannounced(stage)))
        } else {
            count == 0
        };
        if !fine {
            found.push(format!(
                "{}: {count} `{}` email(s) for a {} order (expected: {})",
                order.id,
                stage.as_str(),
                outcome(order),
                if expected(stage) { "one" } else { "none" }
            ));
        }
    }
}

/// Every number the counter assigned, from 1 without a gap, is on exactly one order: a live
/// invoice of a shipped order or one voided by a credit note on a cancelled order.
fn check_invoice_numbers(facts: &Facts, found: &mut Vec<String>) {
    let mut holders: HashMap<(i32, u64), Vec<&Order>> = HashMap::new();
    for order in &facts.orders {
        if let Some(invoice) = &order.invoice {
            match invoice_seq(&invoice.number) {
                Some(seq) => holders.entry(seq).or_default().push(order),
                None => found.push(format!("{}: invoice number {} is malformed", order.id, invoice.number)),
            }
        }
    }
    for (&year, &next) in &facts.next_invoice {
        for seq in 1..next {
            match holders.remove(&(year, seq)).as_deref() {
                None | Some([]) => found.push(format!("invoice number {year}/{seq} was assigned but is on no order")),
                Some([_]) => {}
                Some(many) => found.push(format!(
                    "invoice number {year}/{seq} is on {} orders: {:?}",
                    many.len(),
                    many.iter().map(|o| o.id.as_str()).collect::<Vec<_>>()
                )),
            }
        }
    }
    for ((year, seq), orders) in holders {
        found.push(format!(
            "invoice number {year}/{seq} on {} order(s) was never assigned by the counter",
            orders.len()
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_orders_through_faults_cancellations_and_kills_keep_every_guarantee_exactly() {
    let settings = Settings::from_env();
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let states = task_states();
    assert!(states.len() >= 10, "the machine has Task states: {states:?}");
    let site = Site {
        data_dir: work.path().join("data"),
        logs: work.path().to_path_buf(),
        port: free_port(),
        faults: faults_spec(&states),
        seed: settings.seed,
        client: Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
    };
    println!(
        "soak: {} orders, {} kills, seed {} (SOAK_SEED); faults in {} Task states",
        settings.orders,
        settings.kills,
        settings.seed,
        states.len()
    );

    let mut server = site.start(0).await;
    let products: Value = site.send(|| site.client.get(site.url("/api/v0/products"))).await.json().await.unwrap();
    // Nothing is reserved yet: what is available is what is on hand.
    let start_stock: BTreeMap<String, u32> = products["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["sku"].as_str().unwrap().to_owned(), u32::try_from(p["available"].as_u64().unwrap()).unwrap()))
        .collect();
    let skus: Vec<String> = start_stock.keys().cloned().collect();
    let plans = plans(settings, &skus);

    // Kills spread over the run, each at a random moment while orders are being placed.
    let mut rng = fastrand::Rng::with_seed(settings.seed ^ 0x6b69_6c6c);
    let span = settings.orders / (settings.kills + 1);
    let kill_at: Vec<usize> =
        (1..=settings.kills).map(|k| (k * span + rng.usize(0..=span / 2)).saturating_sub(span / 4)).collect();
    let sent = AtomicUsize::new(0);
    let (site_ref, sent_ref) = (&site, &sent);
    let drive = futures::stream::iter(&plans)
        .map(|plan| run_order(site_ref, plan, sent_ref))
        .buffer_unordered(24)
        .collect::<Vec<Seen>>();
    let kill = async move {
        let (site, sent) = (site_ref, sent_ref);
        let mut killed_at = Vec::new();
        for (k, &threshold) in kill_at.iter().enumerate() {
            while sent.load(Ordering::SeqCst) < threshold {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.u64(0..40))).await;
            killed_at.push(sent.load(Ordering::SeqCst));
            server.kill();
            server = site.start(k + 1).await;
        }
        (server, killed_at)
    };
    let (mut seen, (server, killed_at)) = tokio::join!(drive, kill);
    let resumed: Vec<u64> = (1..=settings.kills).map(|run| site.resumed(run)).collect();
    println!("  killed (SIGKILL) after {killed_at:?} orders sent; the restarts resumed {resumed:?} executions");

    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(100 * settings.orders as u64);
    let executions: Vec<Option<String>> =
        futures::stream::iter(&seen).map(|s| settle(&site, &s.id, deadline)).buffered(16).collect().await;
    for (seen, execution) in seen.iter_mut().zip(executions) {
        seen.execution = execution;
    }
    server.stop();
    let facts = read_facts(&site.data_dir).await;
    let mut found = violations(&facts, &seen, &start_stock);

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for order in &facts.orders {
        *outcomes.entry(outcome(order)).or_default() += 1;
    }
    let needs_attention = seen.iter().filter(|s| s.execution.as_deref() != Some("SUCCEEDED")).count();
    let asked = seen.iter().filter(|s| s.cancel_answer.is_some()).count();
    let accepted: Vec<&Seen> = seen.iter().filter(|s| s.cancel_answer == Some(202)).collect();
    let accepted_but_shipped = accepted
        .iter()
        .filter(|s| facts.orders.iter().any(|o| o.id.as_str() == s.id && o.status() == OrderStatus::Shipped))
        .count();
    // The cancellation and the shipment race on the order's version: whichever commits first
    // wins, so an accepted cancellation never ends shipped.
    for seen in &accepted {
        if facts.orders.iter().any(|o| o.id.as_str() == seen.id && o.status() == OrderStatus::Shipped) {
            found.push(format!("{}: its cancellation was accepted (202) but it shipped", seen.id));
        }
    }
    let mut summary = String::new();
    for (outcome, count) in &outcomes {
        writeln!(summary, "  {outcome}: {count}").unwrap();
    }
    writeln!(summary, "  needs attention (execution not SUCCEEDED): {needs_attention}").unwrap();
    writeln!(
        summary,
        "  cancellations asked: {asked}, accepted (202): {}, of which shipped anyway: {accepted_but_shipped}",
        accepted.len()
    )
    .unwrap();
    writeln!(summary, "  violations: {}", found.len()).unwrap();
    for violation in &found {
        writeln!(summary, "    - {violation}").unwrap();
    }
    writeln!(summary, "  wall time: {:.1} s", started.elapsed().as_secs_f64()).unwrap();
    println!("{summary}");
    if std::env::var_os("SOAK_KEEP").is_some() {
        println!("  kept the data directory and logs in {}", work.keep().display());
    }
    assert!(found.is_empty(), "{} violations of the guarantees (seed {}):\n{summary}", found.len(), settings.seed);
    assert!(resumed.iter().all(|&n| n > 0), "a kill struck no running execution: it tested nothing ({resumed:?})");
}
