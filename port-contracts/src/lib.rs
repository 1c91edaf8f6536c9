//! The guarantees the domain's ports document, as test suites every adapter runs: the local ones
//! today, DynamoDB, S3, SES and Stripe as they come. A port's doc comments say what it promises;
//! here each promise is one public async function, named as the sentence it checks, that takes
//! the adapter through the port and panics when the promise is broken.
//!
//! An adapter's tests call every function of the suites that apply, one test each, with a fresh
//! adapter (a new temporary directory, a new table):
//!
//! ```text
//! #[tokio::test]
//! async fn reserving_is_all_or_nothing() {
//!     let (_dir, inventory) = sqlite_inventory().await;     // seeded from fixtures::catalog()
//!     contracts::inventory::reserving_is_all_or_nothing(&inventory).await;
//! }
//! ```
//!
//! Where a port cannot show what it did (what a `Mailer` sent, where a `BlobStore` link leads),
//! the function also takes a closure that asks the adapter's backend.
//!
//! This is test code in a crate of its own, not a module of the domain behind a feature: it
//! races calls (`futures`) and panics by design, the adapters take it as a dev-dependency, and so
//! neither the domain nor any product build carries it or its dependencies.
//!
//! # Layout
//!
//! - [`fixtures`]: valid orders, customers, addresses and the small catalog the suites assume.
//! - [`order_store`]: `OrderStore`, idempotent and optimistic.
//! - [`workflow_outbox`]: the `WorkflowOutbox` entries an `OrderStore` writes with each order.
//! - [`inventory`]: `Inventory`, seeded from [`fixtures::catalog`].
//! - [`invoice_numbers`]: `InvoiceNumbers`, gap-free.
//! - [`payments`]: `PaymentGateway`, with Stripe's test payment methods.
//! - [`carrier`]: `Carrier`, one label per shipment, found and voided by its reference.
//! - [`mailer`]: `Mailer`, read back through the adapter's backend.
//! - [`blobs`]: `BlobStore`, and its links.

pub mod blobs;
pub mod carrier;
pub mod fixtures;
pub mod inventory;
pub mod invoice_numbers;
pub mod mailer;
pub mod order_store;
pub mod payments;
pub mod workflow_outbox;

/// The tests of a suite, listed once: `suite!(inventory => my_tests! { fresh .., .. })` expands
/// to `my_tests! { inventory, fresh .., .. => levels_show_every_sku_kept_and_none_other, .. }`,
/// so an adapter's test file names the suites it runs and how to make a fresh adapter, and a
/// guarantee added to a suite reaches every adapter. (`blobs::a_link_leads_to_its_blob` takes
/// the way to follow a link, which differs per backend: adapters call it on their own.)
#[macro_export]
macro_rules! suite {
    (order_store => $callback:ident! { $($args:tt)* }) => {
        $callback! { order_store, $($args)* =>
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
    };
    (workflow_outbox => $callback:ident! { $($args:tt)* }) => {
        $callback! { workflow_outbox, $($args)* =>
                every_placed_order_waits_to_start_oldest_first_until_marked,
                a_replayed_placement_queues_no_second_start,
                pending_starts_returns_at_most_the_limit,
                marking_an_order_twice_or_none_at_all_is_harmless,
        }
    };
    (inventory => $callback:ident! { $($args:tt)* }) => {
        $callback! { inventory, $($args)* =>
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
    };
    (invoice_numbers => $callback:ident! { $($args:tt)* }) => {
        $callback! { invoice_numbers, $($args)* =>
                invoice_numbers_are_gap_free_and_stable_per_order,
                the_number_an_order_was_assigned_is_found_without_assigning_one,
                concurrent_assignments_give_each_order_one_number_without_gaps,
        }
    };
    (payments => $callback:ident! { $($args:tt)* }) => {
        $callback! { payments, $($args)* =>
                a_charge_takes_the_amount_asked,
                opening_a_payment_charges_nothing_and_opening_it_again_names_the_same_one,
                charging_twice_charges_once,
                concurrent_charges_of_one_payment_charge_once,
                a_declined_card_is_declined_with_the_partners_code,
                a_card_that_needs_its_owner_requires_action,
                a_charge_is_found_by_its_reference_at_once_even_when_its_answer_was_lost,
                refunding_twice_refunds_once,
        }
    };
    (carrier => $callback:ident! { $($args:tt)* }) => {
        $callback! { carrier, $($args)* =>
                a_label_is_a_pdf_from_the_carrier_named,
                opening_a_shipment_buys_nothing,
                buying_twice_on_a_shipment_buys_one_label,
                a_shipment_with_a_label_gives_it_back_whichever_carrier_is_named,
                a_label_is_found_by_its_shipment_even_when_its_answer_was_lost,
                a_voided_label_is_found_voided,
                voiding_again_or_a_shipment_without_a_label_is_a_no_op,
        }
    };
    (mailer => $callback:ident! { $($args:tt)* }) => {
        $callback! { mailer, $($args)* =>
                sending_twice_with_the_same_key_sends_the_first_email_once,
                concurrent_sends_of_one_key_send_one_email,
                emails_under_different_keys_are_each_sent,
        }
    };
    (blobs => $callback:ident! { $($args:tt)* }) => {
        $callback! { blobs, $($args)* =>
                a_blob_put_is_got_back_whole,
                putting_a_blob_twice_keeps_the_last,
                a_key_never_put_is_none,
        }
    };
}
