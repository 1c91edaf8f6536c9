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

contract_tests! {
    order_store, fresh sqlite_order_store(), |store| (&store) =>
    a_placed_order_is_stored_as_it_was_given,
    getting_an_order_never_placed_is_none,
    placing_twice_with_the_same_key_returns_the_first_order,
    reusing_a_key_for_another_request_is_refused,
    idempotency_keys_are_scoped_to_the_customer,
    the_order_placed_under_a_key_is_found_as_it_is_now,
    concurrent_first_placements_under_one_key_make_one_order,
    saving_returns_the_order_with_its_next_version,
    saving_a_stale_version_conflicts,
    concurrent_saves_of_one_version_let_one_win,
    saving_an_order_never_placed_is_not_found,
    list_pages_newest_first,
    list_filters_by_customer_and_status,
    list_without_a_customer_shows_every_customers_orders_newest_first,
}

contract_tests! {
    workflow_outbox, fresh sqlite_order_store(), |store| (&store, &store) =>
    every_placed_order_waits_to_start_oldest_first_until_marked,
    a_replayed_placement_queues_no_second_start,
    pending_starts_returns_at_most_the_limit,
    marking_an_order_twice_or_none_at_all_is_harmless,
}

contract_tests! {
    inventory, fresh sqlite_inventory().await, |inventory| (&inventory) =>
    levels_show_every_sku_kept_and_none_other,
    reserving_holds_units_in_the_warehouse,
    reserving_is_all_or_nothing,
    reserving_a_sku_the_inventory_does_not_keep_is_refused,
    reserving_again_for_the_same_order_is_a_no_op,
    release_gives_the_reserved_units_back,
    release_after_release_is_a_no_op,
    releasing_an_order_that_reserved_nothing_is_a_no_op,
    commit_takes_the_reserved_units_out_of_the_warehouse_once,
    release_after_commit_is_a_no_op,
    stock_is_never_negative_under_concurrent_reservations,
}

contract_tests! {
    invoice_numbers, fresh sqlite_invoice_numbers(), |numbers| (&numbers) =>
    invoice_numbers_are_gap_free_and_stable_per_order,
    the_number_an_order_was_assigned_is_found_without_assigning_one,
    concurrent_assignments_give_each_order_one_number_without_gaps,
}

contract_tests! {
    payments, fresh payment_simulator(), |payments| (&payments) =>
    a_charge_takes_the_amount_asked,
    charging_twice_with_the_same_key_charges_once,
    concurrent_charges_with_one_key_charge_once,
    a_declined_card_is_declined_with_the_partners_code,
    a_card_that_needs_its_owner_requires_action,
    the_charge_of_an_order_is_found_even_when_its_answer_was_lost,
    refunding_twice_refunds_once,
}

contract_tests! {
    carrier, fresh carrier_simulator(), |carrier| (&carrier) =>
    a_label_is_a_pdf_for_the_requested_destination,
    shipping_twice_with_the_same_key_buys_one_label,
    a_repeated_key_gets_its_shipment_back_whatever_the_request_says,
    a_shipment_is_found_by_its_key_even_when_its_answer_was_lost,
    a_voided_label_is_found_voided,
    voiding_again_or_a_key_that_bought_nothing_is_a_no_op,
}

contract_tests! {
    mailer, fresh eml_outbox(), |outbox| (&outbox, async |key: &str| sent_under(&outbox, key).await) =>
    sending_twice_with_the_same_key_sends_the_first_email_once,
    concurrent_sends_of_one_key_send_one_email,
    emails_under_different_keys_are_each_sent,
}

contract_tests! {
    blobs, fresh fs_blob_store(), |store| (&store) =>
    a_blob_put_is_got_back_whole,
    putting_a_blob_twice_keeps_the_last,
    a_key_never_put_is_none,
}

#[tokio::test]
async fn a_link_to_a_local_blob_leads_to_it() {
    let (_dir, store) = fs_blob_store();
    contracts::blobs::a_link_leads_to_its_blob(&store, async |link: &str| follow(&store, link).await).await;
}
