use time::macros::datetime;

use super::*;
use crate::address::AddressFields;
use crate::cart::{Cart, CartLine, Quantity};
use crate::catalog::{Catalog, Sku};
use crate::customer::{CustomerId, PersonName};
use crate::money::Currency;
use crate::pricing::Pricer;
use crate::pricing::shipping::ShippingRates;
use crate::pricing::tax::RateTable;

const AT: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn pending_order() -> Order {
    let catalog = Catalog::from_json(include_str!("../../../data/catalog.json")).unwrap();
    let request = OrderRequest {
        customer: Customer {
            id: CustomerId::parse("cus_1").unwrap(),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            name: PersonName::parse("Ada").unwrap(),
        },
        cart: Cart::new(vec![CartLine {
            sku: Sku::parse("MUG-CLASSIC-WHT").unwrap(),
            quantity: Quantity::parse(2).unwrap(),
        }])
        .unwrap(),
        shipping_address: PostalAddress::parse(&AddressFields {
            name: "Ada",
            line1: "1 Main St",
            city: "Portland",
            region: Some("OR"),
            postal_code: "97201",
            country: "US",
            ..AddressFields::default()
        })
        .unwrap(),
        payment_method: PaymentMethodId::parse("pm_card_visa").unwrap(),
        promo_code: None,
    };
    let pricer = Pricer { catalog: &catalog, tax: &RateTable, shipping: &ShippingRates::default() };
    let quote = pricer.quote(&request.cart, &request.shipping_address, None, AT).unwrap();
    Order::place(OrderId::from_ulid(Ulid::nil()), request, quote, AT)
}

fn invoice() -> InvoiceRecord {
    InvoiceRecord { number: "INV-2026-000001".into(), issued_at: AT, document_key: "k".into(), credit_note_key: None }
}

fn payment(order: &Order) -> PaymentRecord {
    PaymentRecord {
        status: PaymentStatus::Succeeded,
        reference: "pi_1".into(),
        amount: order.pricing.total,
        refund_reference: None,
    }
}

fn shipment() -> ShipmentRecord {
    ShipmentRecord {
        carrier: "parcelpost".into(),
        service: "ground".into(),
        tracking_number: "PP1".into(),
        label_key: "l".into(),
    }
}

/// Tries to move `order` to `to` through the method the lifecycle uses for it.
fn attempt(order: &mut Order, to: OrderStatus) -> Result<(), IllegalTransition> {
    match to {
        OrderStatus::Pending => Err(IllegalTransition { from: order.status(), to }),
        OrderStatus::Confirmed => order.confirm(AT),
        OrderStatus::Invoiced => order.record_invoice(invoice(), AT),
        OrderStatus::Paid => {
            let payment = payment(order);
            order.record_payment(payment, AT)
        }
        OrderStatus::Shipped => order.record_shipment(shipment(), AT),
        OrderStatus::Cancelled => order.cancel(CancellationReason::CustomerRequest, None, AT),
    }
}

/// An order brought to `status` along the lifecycle.
fn order_in(status: OrderStatus) -> Order {
    let mut order = pending_order();
    let path: &[OrderStatus] = match status {
        OrderStatus::Pending => &[],
        OrderStatus::Confirmed => &[OrderStatus::Confirmed],
        OrderStatus::Invoiced => &[OrderStatus::Confirmed, OrderStatus::Invoiced],
        OrderStatus::Paid => &[OrderStatus::Confirmed, OrderStatus::Invoiced, OrderStatus::Paid],
        OrderStatus::Shipped => {
            &[OrderStatus::Confirmed, OrderStatus::Invoiced, OrderStatus::Paid, OrderStatus::Shipped]
        }
        OrderStatus::Cancelled => &[OrderStatus::Cancelled],
    };
    for step in path {
        attempt(&mut order, *step).unwrap();
    }
    assert_eq!(order.status(), status);
    order
}

#[test]
fn an_order_moves_forward_through_its_lifecycle_to_shipped() {
    let order = order_in(OrderStatus::Shipped);
    let statuses: Vec<_> = order.history().iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Invoiced, OrderStatus::Paid, OrderStatus::Shipped]
    );
    assert_eq!(order.shipment.unwrap().tracking_number, "PP1");
}

#[test]
fn every_non_terminal_status_may_be_cancelled() {
    for from in [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Invoiced, OrderStatus::Paid] {
        let mut order = order_in(from);
        order.cancel(CancellationReason::PaymentDeclined, Some("insufficient_funds".into()), AT).unwrap();
        assert_eq!(order.status(), OrderStatus::Cancelled);
        assert_eq!(order.cancellation().unwrap().reason, CancellationReason::PaymentDeclined);
    }
}

#[test]
fn every_illegal_transition_is_refused_and_leaves_the_order_unchanged() {
    let legal = [
        (OrderStatus::Pending, OrderStatus::Confirmed),
        (OrderStatus::Confirmed, OrderStatus::Invoiced),
        (OrderStatus::Invoiced, OrderStatus::Paid),
        (OrderStatus::Paid, OrderStatus::Shipped),
        (OrderStatus::Pending, OrderStatus::Cancelled),
        (OrderStatus::Confirmed, OrderStatus::Cancelled),
        (OrderStatus::Invoiced, OrderStatus::Cancelled),
        (OrderStatus::Paid, OrderStatus::Cancelled),
    ];
    let mut refused = 0;
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            let mut order = order_in(from);
            let before = order.clone();
            let result = attempt(&mut order, to);
            if legal.contains(&(from, to)) {
                assert!(result.is_ok(), "{from} -> {to} should be allowed");
                assert!(from.may_become(to));
            } else {
                assert_eq!(result, Err(IllegalTransition { from, to }), "{from} -> {to} should be refused");
                assert!(!from.may_become(to));
                assert_eq!(order, before, "a refused {from} -> {to} changed the order");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 36 - legal.len());
}

#[test]
fn a_cancellation_request_is_accepted_until_the_order_ships() {
    let mut order = order_in(OrderStatus::Paid);
    assert_eq!(order.request_cancellation(AT), Ok(CancellationRequest::Accepted));
    assert_eq!(order.request_cancellation(AT), Ok(CancellationRequest::AlreadyRequested));
    assert_eq!(order.cancellation_requested_at(), Some(AT));

    let mut shipped = order_in(OrderStatus::Shipped);
    assert_eq!(shipped.request_cancellation(AT), Err(NoLongerModifiable::Status(OrderStatus::Shipped)));
    assert_eq!(order_in(OrderStatus::Cancelled).request_cancellation(AT), Ok(CancellationRequest::AlreadyRequested));
}

#[test]
fn contact_details_can_change_only_before_the_order_is_final() {
    let email = EmailAddress::parse("new@example.com").unwrap();
    let mut order = order_in(OrderStatus::Invoiced);
    order.change_email(email.clone(), AT).unwrap();
    assert_eq!(order.customer.email, email);
    assert!(order_in(OrderStatus::Shipped).change_email(email.clone(), AT).is_err());
    assert!(order_in(OrderStatus::Cancelled).change_email(email, AT).is_err());
}

#[test]
fn order_ids_round_trip_and_reject_garbage() {
    let id = OrderId::from_ulid(Ulid::from_parts(1_700_000_000_000, 42));
    assert_eq!(OrderId::parse(id.as_str()), Ok(id.clone()));
    assert!(OrderId::parse("ord_not-a-ulid").is_err());
    assert!(OrderId::parse("01JD4S5Z8X3Q9V7W2N6M1K0TRB").is_err());
}

#[test]
fn an_order_survives_a_round_trip_through_json() {
    let order = order_in(OrderStatus::Shipped);
    let json = serde_json::to_string(&order).unwrap();
    let back: Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back, order);
    assert_eq!(back.pricing.currency, Currency::Usd);
}

#[test]
fn the_shipping_address_is_fixed_once_shipping_has_begun_but_the_email_is_not() {
    let mut order = order_in(OrderStatus::Paid);
    let mut elsewhere = order.shipping_address.clone();
    elsewhere.line1 = "500 Howard Street".to_owned();
    assert!(order.begin_shipping(AT));
    assert!(!order.begin_shipping(AT), "beginning again changes nothing");

    assert_eq!(order.change_shipping_address(elsewhere, AT), Err(NoLongerModifiable::ShippingStarted));
    let same = order.shipping_address.clone();
    assert_eq!(order.change_shipping_address(same, AT), Ok(()), "setting the same address is no change");
    order.change_email(EmailAddress::parse("new@example.com").unwrap(), AT).unwrap();
}

#[test]
fn an_invoice_whose_number_was_never_recorded_is_voided_with_it() {
    let mut order = order_in(OrderStatus::Confirmed);
    assert!(order.invoice.is_none());
    assert!(order.void_invoice(invoice(), "credit-notes/CN-1.pdf".into(), AT));
    assert_eq!(order.invoice.as_ref().unwrap().credit_note_key.as_deref(), Some("credit-notes/CN-1.pdf"));
    assert!(!order.void_invoice(invoice(), "credit-notes/CN-1.pdf".into(), AT), "voiding again changes nothing");
}

#[test]
fn the_history_keeps_its_first_entry_and_the_latest_ones_within_its_limit() {
    let mut order = pending_order();
    for n in 0..200 {
        order.note(AT, format!("note {n}"));
    }
    assert_eq!(order.history().len(), HISTORY_LIMIT);
    assert_eq!(order.history()[0].detail, "order received");
    assert_eq!(order.history().last().unwrap().detail, "note 199");
}
