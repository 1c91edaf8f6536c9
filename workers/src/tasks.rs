//! The tasks. Each reads the order, does its one thing idempotently, and records the outcome on
//! the order. Forward steps first check whether the customer asked to cancel.

use orderflow_documents::{CreditNoteDetails, credit_note_number};
use orderflow_domain::cart::Quantity;
use orderflow_domain::catalog::Sku;
use orderflow_domain::order::{
    CancellationReason, InvoiceRecord, Order, OrderId, OrderStatus, PaymentRecord, PaymentStatus, ShipmentRecord,
};
use orderflow_domain::ports::{CarrierError, Charge, ChargeRequest, PaymentError, Shipment, ShipmentRequest};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::error::cancellation_reason;
use crate::{Saga, TaskError};

/// Stops a forward step when the customer asked to cancel.
fn ensure_not_cancelled(order: &Order) -> Result<(), TaskError> {
    if order.cancellation_requested_at().is_some() || order.status() == OrderStatus::Cancelled {
        return Err(TaskError::OrderCancelled);
    }
    Ok(())
}

fn illegal(error: impl std::fmt::Display) -> TaskError {
    TaskError::Invalid(error.to_string())
}

/// Checks the order against the catalog and fixes the amount to charge: the price the customer
/// was quoted when the order was accepted.
pub async fn price_order(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    ensure_not_cancelled(&order)?;
    if let Some(line) = order.lines.iter().find(|line| saga.catalog.product(&line.sku).is_none()) {
        return Err(TaskError::Invalid(format!("{} is no longer in the catalog", line.sku)));
    }
    let total = order.pricing.total;
    Ok(json!({"amount": total.minor(), "currency": total.currency().code()}))
}

/// Reserves every line, all or nothing, and confirms the order.
pub async fn reserve_stock(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if order.status() != OrderStatus::Pending && order.status() != OrderStatus::Cancelled {
        // Done by an attempt whose answer was lost: finish the step, so the customer hears of
        // it, and let the next step see a cancellation.
        return Ok(Value::Null);
    }
    ensure_not_cancelled(&order)?;
    let lines: Vec<(Sku, Quantity)> = order.lines.iter().map(|line| (line.sku.clone(), line.quantity)).collect();
    saga.inventory.reserve(id, &lines).await?;
    let now = saga.clock.now();
    saga.update(id, |order| match order.status() {
        OrderStatus::Pending => order.confirm(now).map(|()| true).map_err(illegal),
        _ => Ok(false),
    })
    .await?;
    Ok(Value::Null)
}

/// The blob key of an invoice's PDF.
fn invoice_key(number: &str) -> String {
    format!("invoices/{number}.pdf")
}

/// Assigns the order's invoice number (once), renders the PDF, files it, and records it.
pub async fn issue_invoice(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if let Some(invoice) = &order.invoice {
        return Ok(json!({"number": invoice.number, "documentKey": invoice.document_key}));
    }
    ensure_not_cancelled(&order)?;
    let now = saga.clock.now();
    let number = saga.invoice_numbers.assign(id, now.year()).await?;
    let record = file_invoice(saga, &order, number, now).await?;
    let order = saga
        .update(id, |order| match order.status() {
            OrderStatus::Confirmed => order.record_invoice(record.clone(), now).map(|()| true).map_err(illegal),
            _ if order.invoice.is_some() => Ok(false),
            status => Err(TaskError::Invalid(format!("cannot invoice an order that is {status}"))),
        })
        .await?;
    let invoice =
        order.invoice.as_ref().ok_or_else(|| TaskError::Invalid("the invoice was not recorded".to_owned()))?;
    Ok(json!({"number": invoice.number, "documentKey": invoice.document_key}))
}

/// Renders the invoice numbered `number` and files it in the blob store.
async fn file_invoice(
    saga: &Saga,
    order: &Order,
    number: String,
    issued_at: OffsetDateTime,
) -> Result<InvoiceRecord, TaskError> {
    let record = InvoiceRecord { document_key: invoice_key(&number), number, issued_at, credit_note_key: None };
    let pdf = orderflow_documents::render_invoice(order, &record, &saga.seller)
        .map_err(|e| TaskError::Invalid(e.to_string()))?;
    saga.blobs.put(&record.document_key, pdf, "application/pdf").await?;
    Ok(record)
}

/// The invoice numbered `number`, which an issue took and never recorded on the order. The issue
/// may have died before it filed the PDF: file it now, so the credit note voids a document that
/// exists. If it cannot be filed (the issue failed for good on just that), the number is voided
/// all the same: the credit note is the record that matters, and refusing it would leave the
/// number neither issued nor voided.
async fn unfiled_invoice(saga: &Saga, order: &Order, number: String, now: OffsetDateTime) -> InvoiceRecord {
    match file_invoice(saga, order, number.clone(), now).await {
        Ok(record) => record,
        Err(error) => {
            tracing::warn!(invoice = %number, error = %error.cause(), "voiding an invoice that could not be filed");
            InvoiceRecord { document_key: invoice_key(&number), number, issued_at: now, credit_note_key: None }
        }
    }
}

/// The idempotency key of the order's one charge.
fn charge_key(id: &OrderId) -> String {
    format!("{id}/charge")
}

/// Charges the customer's saved payment method off-session, once.
pub async fn charge_payment(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if let Some(payment) = &order.payment {
        return Ok(json!({"reference": payment.reference, "amount": payment.amount.minor()}));
    }
    ensure_not_cancelled(&order)?;
    let request = ChargeRequest {
        order: id.clone(),
        customer: order.customer.id.clone(),
        amount: order.pricing.total,
        payment_method: order.payment_method.clone(),
        idempotency_key: charge_key(id),
    };
    // The payment's reference is on the order before any money can move: whatever becomes of the
    // charge's answer, the compensations read the charge back by it.
    let reference = if let Some(reference) = order.payment_reference() {
        reference.to_owned()
    } else {
        let reference = saga.payments.open(&request).await?;
        saga.update(id, |order| Ok(order.record_payment_opened(&reference))).await?;
        reference
    };
    let charge = match saga.payments.charge(&reference, &request).await {
        Ok(charge) => charge,
        Err(PaymentError::Declined { code }) => {
            // The decline code is a fact for the customer's email: it travels on the order, not
            // in the error's text (which Lambda wraps in a JSON `Cause`).
            let now = saga.clock.now();
            saga.update(id, |order| Ok(order.record_decline(&code, now))).await?;
            return Err(TaskError::PaymentDeclined(code));
        }
        Err(error) => return Err(error.into()),
    };
    let now = saga.clock.now();
    let payment = PaymentRecord {
        status: PaymentStatus::Succeeded,
        reference: charge.reference.clone(),
        amount: charge.amount,
        refund_reference: None,
    };
    saga.update(id, |order| match order.status() {
        OrderStatus::Invoiced => order.record_payment(payment.clone(), now).map(|()| true).map_err(illegal),
        _ if order.payment.is_some() => Ok(false),
        status => Err(TaskError::Invalid(format!("cannot record a payment on an order that is {status}"))),
    })
    .await?;
    Ok(json!({"reference": charge.reference, "amount": charge.amount.minor()}))
}

/// The key the order's shipment is opened under.
fn ship_key(id: &OrderId) -> String {
    format!("{id}/ship")
}

/// Buys a label from the preferred (`primary`) carrier, or from the others in order of
/// preference (`fallback`), files it, records the shipment, and takes the stock out of the
/// warehouse.
///
/// The address is fixed on the order before the shipment is opened, so the label always matches
/// the order (a change of address arriving meanwhile is refused). The shipment's reference is
/// recorded on the order before any label is bought on it, and every carrier is asked to buy on
/// that one shipment: a retry, or the fallback after a primary whose answer was lost, gets the
/// label already bought back instead of a second one. The shipment is recorded before the stock
/// is committed: once an order is `shipped`, a retry only finishes the stock.
pub async fn ship_order(saga: &Saga, id: &OrderId, which: &str) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if let Some(shipment) = &order.shipment {
        saga.inventory.commit(id).await?;
        return Ok(shipment_json(shipment));
    }
    ensure_not_cancelled(&order)?;
    let carriers = saga.carrier.carriers();
    let candidates = match which {
        "primary" => carriers.get(..1),
        "fallback" => carriers.get(1..),
        other => return Err(TaskError::Invalid(format!("carrier must be primary or fallback, not {other:?}"))),
    }
    .filter(|candidates| !candidates.is_empty())
    .ok_or_else(|| TaskError::CarrierUnavailable(format!("no {which} carrier is configured")))?;
    let reference = open_shipment(saga, id).await?;
    let mut unavailable = Vec::new();
    for carrier in candidates {
        match saga.carrier.ship(&reference, carrier).await {
            Ok(shipment) => {
                return match record_shipment(saga, id, &reference, shipment).await? {
                    Some(record) => Ok(shipment_json(&record)),
                    None => Err(TaskError::OrderCancelled),
                };
            }
            Err(CarrierError::Unavailable(name)) => unavailable.push(name),
            Err(error) => return Err(error.into()),
        }
    }
    Err(TaskError::CarrierUnavailable(unavailable.join(", ")))
}

/// Fixes the order's address and opens its shipment, once: the reference is recorded on the
/// order before anything can be bought on it.
async fn open_shipment(saga: &Saga, id: &OrderId) -> Result<String, TaskError> {
    let now = saga.clock.now();
    let order = saga
        .update(id, |order| {
            ensure_not_cancelled(order)?;
            Ok(order.begin_shipping(now))
        })
        .await?;
    if let Some(reference) = order.shipment_reference() {
        return Ok(reference.to_owned());
    }
    let request = ShipmentRequest {
        order: id.clone(),
        destination: order.shipping_address.clone(),
        weight: orderflow_domain::catalog::Grams(order.lines.iter().map(|l| l.weight.0).sum()),
        idempotency_key: ship_key(id),
    };
    let opened = saga.carrier.open(&request).await?;
    let order = saga.update(id, |order| Ok(order.record_shipment_opened(&opened))).await?;
    // A racing attempt may have recorded its own shipment first: that one is the order's.
    Ok(order.shipment_reference().unwrap_or(&opened).to_owned())
}

/// Records a label the carrier holds for the order, files it and commits the stock; or, when the
/// customer asked to cancel before the order was recorded as shipped, voids the label instead
/// and returns `None`.
async fn record_shipment(
    saga: &Saga,
    id: &OrderId,
    reference: &str,
    shipment: Shipment,
) -> Result<Option<ShipmentRecord>, TaskError> {
    if shipment.voided {
        return Ok(None);
    }
    let record = ShipmentRecord {
        carrier: shipment.carrier,
        service: shipment.service,
        tracking_number: shipment.tracking_number,
        label_key: format!("labels/{id}.pdf"),
    };
    saga.blobs.put(&record.label_key, shipment.label, "application/pdf").await?;
    let now = saga.clock.now();
    let mut cancelled = false;
    saga.update(id, |order| match order.status() {
        OrderStatus::Shipped => Ok(false),
        OrderStatus::Paid if order.cancellation_requested_at().is_some() => {
            cancelled = true;
            Ok(false)
        }
        OrderStatus::Paid => order.record_shipment(record.clone(), now).map(|()| true).map_err(illegal),
        status => Err(TaskError::Invalid(format!("cannot ship an order that is {status}"))),
    })
    .await?;
    if cancelled {
        saga.carrier.void(reference).await?;
        return Ok(None);
    }
    saga.inventory.commit(id).await?;
    Ok(Some(record))
}

/// The label the carrier holds on the order's shipment, if a shipment was ever opened.
async fn held_label(saga: &Saga, order: &Order) -> Result<Option<(String, Shipment)>, TaskError> {
    let Some(reference) = order.shipment_reference() else {
        return Ok(None);
    };
    Ok(saga.carrier.find(reference).await?.map(|label| (reference.to_owned(), label)))
}

/// The first compensation, whatever failed: what does the carrier hold for this order?
///
/// A label means the order shipped even if no answer said so: it is recorded and the saga goes
/// on forward (`shipped: true`). If the customer asked to cancel before the shipment was
/// recorded, the label is voided and the saga compensates (`shipped: false`), as it does when
/// the carrier holds nothing.
pub async fn reconcile_shipment(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if let Some(shipment) = &order.shipment {
        saga.inventory.commit(id).await?;
        return Ok(json!({"shipped": true, "shipment": shipment_json(shipment)}));
    }
    let Some((reference, held)) = held_label(saga, &order).await? else {
        return Ok(json!({"shipped": false}));
    };
    if order.cancellation_requested_at().is_some() || order.status() == OrderStatus::Cancelled {
        saga.carrier.void(&reference).await?;
        return Ok(json!({"shipped": false, "labelVoided": true}));
    }
    Ok(match record_shipment(saga, id, &reference, held).await? {
        Some(record) => json!({"shipped": true, "shipment": shipment_json(&record)}),
        None => json!({"shipped": false, "labelVoided": true}),
    })
}

/// Refuses a compensation for an order the facts say has shipped: the store records a shipment,
/// or the carrier holds a label it has not voided.
async fn ensure_not_shipped(saga: &Saga, order: &Order) -> Result<(), TaskError> {
    if order.status() == OrderStatus::Shipped {
        return Err(TaskError::OrderShipped(format!("order {} is recorded as shipped", order.id)));
    }
    if let Some((_, label)) = held_label(saga, order).await?.filter(|(_, label)| !label.voided) {
        return Err(TaskError::OrderShipped(format!("the carrier holds label {} for it", label.tracking_number)));
    }
    Ok(())
}

fn shipment_json(shipment: &ShipmentRecord) -> Value {
    json!({"carrier": shipment.carrier, "service": shipment.service, "trackingNumber": shipment.tracking_number})
}

/// Emails the customer about a stage of the order, once per stage.
///
/// The state machine names the stage; a cancellation for a payment reason is told as a failed
/// payment, so the customer reads what happened, not only that it was cancelled.
pub async fn notify_customer(saga: &Saga, id: &OrderId, stage: &str) -> Result<Value, TaskError> {
    use orderflow_documents::{EmailContext, PaymentFailure, Stage};

    let mut stage: Stage = stage.parse().map_err(|_| TaskError::Invalid(format!("unknown email stage {stage:?}")))?;
    let order = saga.load(id).await?;
    let mut context = EmailContext::new(&saga.seller, saga.clock.now());
    if let Some(invoice) = &order.invoice {
        context.invoice_link = Some(saga.blobs.link(&invoice.document_key, saga.link_ttl).await?);
        if stage == Stage::Invoiced {
            context.invoice_pdf = saga.blobs.get(&invoice.document_key).await?;
        }
    }
    if let Some(shipment) = &order.shipment {
        context.label_link = Some(saga.blobs.link(&shipment.label_key, saga.link_ttl).await?);
    }
    if let Some(payment) = &order.payment {
        context.refund = Some(payment.amount);
    }
    if let Some(cancellation) = order.cancellation() {
        context.cancellation_reason = Some(cancellation.reason);
        context.payment_failure = match cancellation.reason {
            CancellationReason::PaymentDeclined => Some(PaymentFailure::Declined { code: cancellation.detail.clone() }),
            CancellationReason::PaymentRequiresAction => Some(PaymentFailure::RequiresAction),
            _ => None,
        };
        if stage == Stage::Cancelled && context.payment_failure.is_some() {
            stage = Stage::PaymentFailed;
        }
    }
    let email = orderflow_documents::compose(stage, &order, &context);
    saga.mailer.send(&email).await?;
    Ok(json!({"sent": email.key}))
}

/// Notes on the order that an email could not be sent, so a person can follow up.
pub async fn note_email_failure(saga: &Saga, id: &OrderId, stage: &str, error: &str) -> Result<Value, TaskError> {
    let now = saga.clock.now();
    let detail = format!("the {stage} email could not be sent ({error})");
    saga.update(id, |order| {
        let noted = order.history().iter().any(|entry| entry.detail == detail);
        if !noted {
            order.note(now, detail.clone());
        }
        Ok(!noted)
    })
    .await?;
    Ok(Value::Null)
}

/// Refunds the order's charge in full, if there is one. The payment partner is the source of
/// truth, asked by the payment's reference, which the order records before the charge: a charge
/// whose answer was lost is found and refunded too.
pub async fn refund_payment(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    ensure_not_shipped(saga, &order).await?;
    let Some(reference) = order.payment_reference() else {
        return Ok(json!({"refunded": false})); // nothing was opened, so nothing was charged
    };
    let Some(charge) = saga.payments.find_charge(reference).await? else {
        return Ok(json!({"refunded": false}));
    };
    let refund = saga.payments.refund(id, &charge).await?;
    let now = saga.clock.now();
    let Charge { reference, amount } = charge;
    let charged = PaymentRecord { status: PaymentStatus::Succeeded, reference, amount, refund_reference: None };
    saga.update(id, |order| {
        let already = order.payment.as_ref().is_some_and(|p| p.status == PaymentStatus::Refunded);
        if !already {
            order.record_refund(charged.clone(), refund.reference.clone(), now);
        }
        Ok(!already)
    })
    .await?;
    Ok(json!({"refunded": true, "amount": refund.amount.minor(), "reference": refund.reference}))
}

/// Voids the order's invoice with a credit note, if a number was assigned to the order: the
/// numbering is gapless, so a number taken by an issue that then failed for good is voided too.
pub async fn void_invoice(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    ensure_not_shipped(saga, &order).await?;
    let now = saga.clock.now();
    let invoice = match order.invoice.clone() {
        Some(invoice) => invoice,
        None => match saga.invoice_numbers.assigned(id).await? {
            Some(number) => unfiled_invoice(saga, &order, number, now).await,
            None => return Ok(json!({"voided": false})),
        },
    };
    if invoice.credit_note_key.is_some() {
        return Ok(json!({"voided": false}));
    }
    let key = format!("credit-notes/{}.pdf", credit_note_number(&invoice.number));
    let credit_note = CreditNoteDetails::voiding(&invoice, now, order.cancellation().map(|c| c.reason));
    let pdf = orderflow_documents::render_credit_note(&order, &credit_note, &saga.seller)
        .map_err(|e| TaskError::Invalid(e.to_string()))?;
    saga.blobs.put(&key, pdf, "application/pdf").await?;
    saga.update(id, |order| Ok(order.void_invoice(invoice.clone(), key.clone(), now))).await?;
    Ok(json!({"voided": true, "creditNoteKey": key}))
}

/// Gives back the stock the order reserved, if any.
pub async fn release_stock(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    ensure_not_shipped(saga, &saga.load(id).await?).await?;
    saga.inventory.release(id).await?;
    Ok(Value::Null)
}

/// Cancels the order with the reason named by the error that stopped its saga. The cause is for
/// the logs and the execution history: the order, which the customer reads, gets no internals.
pub async fn cancel_order(saga: &Saga, id: &OrderId, error: &str, cause: &str) -> Result<Value, TaskError> {
    let reason = cancellation_reason(error);
    let order = saga.load(id).await?;
    ensure_not_shipped(saga, &order).await?;
    if reason == CancellationReason::InternalError {
        tracing::warn!(order_id = %id, error, cause, "cancelling an order stopped by an unexpected error");
    }
    let now = saga.clock.now();
    saga.update(id, |order| {
        if order.status() == OrderStatus::Cancelled {
            return Ok(false);
        }
        let detail = (reason == CancellationReason::PaymentDeclined).then(|| order.decline_code().map(str::to_owned));
        order.cancel(reason, detail.flatten(), now).map_err(illegal)?;
        Ok(true)
    })
    .await?;
    Ok(json!({"reason": reason.as_str()}))
}

/// Notes on the order, once, what the partners and the store say is left to undo after a
/// compensation failed for good, for a person to finish. The error's cause goes to the logs,
/// not to the order the customer reads.
pub async fn record_compensation_failure(
    saga: &Saga,
    id: &OrderId,
    error: &str,
    cause: &str,
) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    let mut outstanding = Vec::new();
    let charge = match order.payment_reference() {
        Some(reference) => saga.payments.find_charge(reference).await,
        None => Ok(None),
    };
    match charge {
        Ok(Some(charge)) if order.payment.as_ref().is_none_or(|p| p.status != PaymentStatus::Refunded) => {
            outstanding.push(format!("the charge of {} is not refunded", charge.amount));
        }
        Ok(_) => {}
        Err(_) => outstanding.push("whether a charge is to be refunded is unknown".to_owned()),
    }
    match held_label(saga, &order).await {
        Ok(Some((_, label))) if !label.voided && order.shipment.is_none() => {
            outstanding.push(format!("label {} is neither recorded nor voided", label.tracking_number));
        }
        Ok(_) => {}
        Err(_) => outstanding.push("whether a label is to be voided is unknown".to_owned()),
    }
    if let Some(invoice) = order.invoice.as_ref().filter(|i| i.credit_note_key.is_none() && order.shipment.is_none()) {
        outstanding.push(format!("invoice {} is not voided", invoice.number));
    }
    if !matches!(order.status(), OrderStatus::Shipped | OrderStatus::Cancelled) {
        outstanding.push(format!("the order is still {}", order.status()));
    }
    let detail = if outstanding.is_empty() {
        "needs attention: an undo step failed; nothing is known to be left to undo".to_owned()
    } else {
        format!("needs attention: {}", outstanding.join("; "))
    };
    let now = saga.clock.now();
    saga.update(id, |order| {
        let noted = order.history().iter().any(|entry| entry.detail.starts_with("needs attention:"));
        if !noted {
            order.note(now, detail.clone());
        }
        Ok(!noted)
    })
    .await?;
    tracing::error!(order_id = %id, error, cause, left = %detail, "a compensation failed after its retries; the order needs a person");
    Ok(Value::Null)
}
