//! What every `InvoiceNumbers` guarantees: sequential numbers, without gaps, one per order.
//!
//! The port leaves the shape of a number to the adapter; the suites only assume that it ends in
//! its sequence (`INV-2026-000042`), which is how a gap is seen. Each function wants numbers no
//! other test assigns in the same year.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use orderflow_domain::ports::InvoiceNumbers;

use crate::fixtures::order_id;

/// The year the suites number in.
const YEAR: i32 = 2026;

/// The sequence a number ends in.
fn sequence(number: &str) -> u64 {
    let digits = number.len() - number.bytes().rev().take_while(u8::is_ascii_digit).count();
    number[digits..].parse().unwrap_or_else(|_| panic!("the invoice number {number:?} does not end in its sequence"))
}

pub async fn invoice_numbers_are_gap_free_and_stable_per_order(numbers: &dyn InvoiceNumbers) {
    let orders: Vec<_> = (0..4).map(|_| order_id()).collect();
    let mut assigned = Vec::new();
    for order in &orders {
        assigned.push(numbers.assign(order, YEAR).await.expect("assigning a number"));
    }
    let sequences: Vec<u64> = assigned.iter().map(|n| sequence(n)).collect();
    let first = sequences[0];
    assert_eq!(sequences, [first, first + 1, first + 2, first + 3], "sequential, without gaps: {assigned:?}");

    for (order, number) in orders.iter().zip(&assigned) {
        assert_eq!(&numbers.assign(order, YEAR).await.expect("asking again"), number, "an order keeps its number");
        assert_eq!(&numbers.assign(order, YEAR + 1).await.expect("asking in another year"), number);
    }
    let next = numbers.assign(&order_id(), YEAR).await.expect("assigning a number");
    assert_eq!(sequence(&next), first + 4, "asking again burnt no number: {next}");
}

pub async fn the_number_an_order_was_assigned_is_found_without_assigning_one(numbers: &dyn InvoiceNumbers) {
    let (numbered, never) = (order_id(), order_id());
    assert_eq!(numbers.assigned(&numbered).await.expect("looking a number up"), None);
    let number = numbers.assign(&numbered, YEAR).await.expect("assigning a number");
    assert_eq!(numbers.assigned(&numbered).await.expect("looking a number up"), Some(number.clone()));

    assert_eq!(numbers.assigned(&never).await.expect("looking a number up"), None);
    let next = numbers.assign(&order_id(), YEAR).await.expect("assigning a number");
    assert_eq!(sequence(&next), sequence(&number) + 1, "looking up burnt no number");
}

pub async fn concurrent_assignments_give_each_order_one_number_without_gaps(numbers: &dyn InvoiceNumbers) {
    let orders: Vec<_> = (0..10).map(|_| order_id()).collect();
    // Every order asked three times at once.
    let asked: Vec<_> = orders.iter().cycle().take(orders.len() * 3).collect();
    let assigned = join_all(asked.iter().map(|order| numbers.assign(order, YEAR))).await;

    let mut by_order = HashMap::new();
    for (order, number) in asked.into_iter().zip(assigned) {
        let number = number.expect("every concurrent call is answered");
        let first = by_order.entry(order.clone()).or_insert_with(|| number.clone());
        assert_eq!(*first, number, "order {order} got two numbers");
    }
    let sequences: HashSet<u64> = by_order.values().map(|n| sequence(n)).collect();
    let lowest = *sequences.iter().min().expect("ten numbers");
    assert_eq!(sequences, (lowest..lowest + 10).collect(), "ten orders, ten consecutive numbers");
}
