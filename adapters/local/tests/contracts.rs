//! Every local adapter runs the contract suites of the ports it implements
//! (`orderflow-port-contracts`): one test per promise, each on a fresh adapter in a temporary
//! directory.

use orderflow_adapters_local::sqlite::{Database, Durability, SqliteInventory, SqliteInvoiceNumbers, SqliteOrderStore};
use orderflow_adapters_local::{CarrierSimulator, EmlOutbox, FsBlobStore, PaymentSimulator};
use orderflow_port_contracts as contracts;
use tempfile::TempDir;

/// One `#[tokio::test]` per function of a suite, named as the function, each with a fresh
/// adapter made by `$fresh` (with the directory that holds it), bound to `$adapter` for the
/// suite's arguments.
macro_rules! contract_tests {
    ($suite:ident, fresh $fresh:expr, |$adapter:ident| $args:tt => $($name:ident),+ $(,)?) => {
        mod $suite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, $adapter) = $fresh;
                    contracts::$suite::$name $args.await;
                }
            )+
        }
    };
}

fn orders_db(dir: &TempDir) -> Database {
    Database::open(dir.path().join("orders.db"), Durability::Normal).expect("opening the orders database")
}

fn sqlite_order_store() -> (TempDir, SqliteOrderStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteOrderStore::new(orders_db(&dir));
    (dir, store)
}

/// An inventory seeded from the suites' catalog.
async fn sqlite_inventory() -> (TempDir, SqliteInventory) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inventory = SqliteInventory::new(orders_db(&dir));
    inventory.seed(&contracts::fixtures::catalog()).await.expect("seeding the stock");
    (dir, inventory)
}

fn sqlite_invoice_numbers() -> (TempDir, SqliteInvoiceNumbers) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let numbers = SqliteInvoiceNumbers::new(orders_db(&dir));
    (dir, numbers)
}

fn payment_simulator() -> (TempDir, PaymentSimulator) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let payments = PaymentSimulator::open(dir.path().join("payments.db"), Durability::Normal).expect("a ledger");
    (dir, payments)
}

fn carrier_simulator() -> (TempDir, CarrierSimulator) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let carrier = CarrierSimulator::open(dir.path().join("carrier.db"), Durability::Normal).expect("a carrier");
    (dir, carrier)
}

fn eml_outbox() -> (TempDir, EmlOutbox) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outbox = EmlOutbox::open(dir.path().join("outbox")).expect("an outbox");
    (dir, outbox)
}

/// What the outbox holds for `key`: the one file a key can have.
async fn sent_under(outbox: &EmlOutbox, key: &str) -> Vec<Vec<u8>> {
    outbox.message(key).await.expect("reading the outbox").into_iter().collect()
}

const BASE_URL: &str = "http://127.0.0.1:3000";

fn fs_blob_store() -> (TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FsBlobStore::open(dir.path(), BASE_URL, b"contract secret".to_vec()).expect("a blob store");
    (dir, store)
}

/// What the local server's `/_local/blobs/{key}` route answers to `link` now: the blob, if the
/// link is this store's, unexpired.
async fn follow(store: &FsBlobStore, link: &str) -> Option<Vec<u8>> {
    use orderflow_domain::ports::BlobStore as _;

    let path = link.strip_prefix(BASE_URL)?.strip_prefix("/_local/blobs/")?;
    let (key, query) = path.split_once('?')?;
    let (mut expires, mut signature) = (None, None);
    for pair in query.split('&') {
        match pair.split_once('=')? {
            ("expires", value) => expires = value.parse().ok(),
            ("signature", value) => signature = Some(value),
            _ => return None,
        }
    }
    store.verify(key, expires?, signature?, time::OffsetDateTime::now_utc()).ok()?;
    store.get(key).await.expect("reading a blob")
}

contracts::suite!(order_store => contract_tests! { fresh sqlite_order_store(), |store| (&store) });

contracts::suite!(workflow_outbox => contract_tests! { fresh sqlite_order_store(), |store| (&store, &store) });

contracts::suite!(inventory => contract_tests! { fresh sqlite_inventory().await, |inventory| (&inventory) });

contracts::suite!(invoice_numbers => contract_tests! { fresh sqlite_invoice_numbers(), |numbers| (&numbers) });

contracts::suite!(payments => contract_tests! { fresh payment_simulator(), |payments| (&payments, &contracts::payments::TestCards::stripe_test_mode()) });

contracts::suite!(carrier => contract_tests! { fresh carrier_simulator(), |carrier| (&carrier) });

contracts::suite!(mailer => contract_tests! { fresh eml_outbox(), |outbox| (&outbox, async |key: &str| sent_under(&outbox, key).await) });

contracts::suite!(blobs => contract_tests! { fresh fs_blob_store(), |store| (&store) });

#[tokio::test]
async fn a_link_to_a_local_blob_leads_to_it() {
    let (_dir, store) = fs_blob_store();
    contracts::blobs::a_link_leads_to_its_blob(&store, async |link: &str| follow(&store, link).await).await;
}
