//! The tasks. Each reads the order, does its one thing idempotently, and records the outcome on
//! the order. Forward steps first check whether the customer asked to cancel.

use orderflow_documents::{CreditNoteDetails, credit_note_number};
use orderflow_domain::cart::Quantity;
use orderflow_domain::catalog::Sku;
use orderflow_domain::order::{
    CancellationReason, InvoiceRecord, Order, OrderId, OrderStatus, PaymentRecord, PaymentStatus, ShipmentRecord,
};
use orderflow_domain::ports::{Charge, ChargeRequest, ShipmentRequest};
use serde_json::{Value, json};

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
    let record = InvoiceRecord {
        number: number.clone(),
        issued_at: now,
        document_key: invoice_key(&number),
        credit_note_key: None,
    };
    let pdf = orderflow_documents::render_invoice(&order, &record, &saga.seller)
        .map_err(|e| TaskError::Invalid(e.to_string()))?;
    saga.blobs
        .put(&record.document_key, pdf, "application/pdf")
        .await
        .map_err(|e| TaskError::Transient(Box::new(e)))?;
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
    let charge = saga.payments.charge(&request).await?;
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

/// Buys a label from the preferred (`primary`) or the `fallback` carrier, files it, records the
/// shipment, and takes the stock out of the warehouse.
///
/// The shipment is recorded before the stock is committed: once an order is `shipped`, a retry
/// (after a lost answer or a crash) only finishes the stock, and a cancellation arriving
/// meanwhile can no longer undo a parcel that has left.
pub async fn ship_order(saga: &Saga, id: &OrderId, which: &str) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    if let Some(shipment) = &order.shipment {
        saga.inventory.commit(id).await?;
        return Ok(shipment_json(shipment));
    }
    ensure_not_cancelled(&order)?;
    let carriers = saga.carrier.carriers();
    let carrier = match which {
        "primary" => carriers.first(),
        "fallback" => carriers.get(1),
        other => return Err(TaskError::Invalid(format!("carrier must be primary or fallback, not {other:?}"))),
    }
    .ok_or_else(|| TaskError::CarrierUnavailable(format!("no {which} carrier is configured")))?;
    let weight = orderflow_domain::catalog::Grams(order.lines.iter().map(|l| l.weight.0).sum());
    let request = ShipmentRequest {
        order: id.clone(),
        carrier: carrier.clone(),
        destination: order.shipping_address.clone(),
        weight,
        // One key for the order, whichever carrier: a retry of the primary after the fallback
        // succeeded returns that shipment instead of buying a second label.
        idempotency_key: format!("{id}/ship"),
    };
    let shipment = saga.carrier.ship(&request).await?;
    let record = ShipmentRecord {
        carrier: shipment.carrier,
        service: shipment.service,
        tracking_number: shipment.tracking_number,
        label_key: format!("labels/{id}.pdf"),
    };
    saga.blobs
        .put(&record.label_key, shipment.label, "application/pdf")
        .await
        .map_err(|e| TaskError::Transient(Box::new(e)))?;
    let now = saga.clock.now();
    saga.update(id, |order| match order.status() {
        OrderStatus::Paid => order.record_shipment(record.clone(), now).map(|()| true).map_err(illegal),
        OrderStatus::Shipped => Ok(false),
        status => Err(TaskError::Invalid(format!("cannot ship an order that is {status}"))),
    })
    .await?;
    saga.inventory.commit(id).await?;
    Ok(shipment_json(&record))
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
        context.invoice_link = Some(saga.blobs.link(&invoice.document_key, saga.link_ttl));
        if stage == Stage::Invoiced {
            context.invoice_pdf =
                saga.blobs.get(&invoice.document_key).await.map_err(|e| TaskError::Transient(Box::new(e)))?;
        }
    }
    if let Some(shipment) = &order.shipment {
        context.label_link = Some(saga.blobs.link(&shipment.label_key, saga.link_ttl));
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
/// truth: a charge whose answer was lost is found and refunded too.
pub async fn refund_payment(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let Some(charge) = saga.payments.find_charge(id).await? else {
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

/// Voids the order's invoice with a credit note, if an invoice was issued.
pub async fn void_invoice(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    let order = saga.load(id).await?;
    let Some(invoice) = order.invoice.clone().filter(|invoice| invoice.credit_note_key.is_none()) else {
        return Ok(json!({"voided": false}));
    };
    let key = format!("credit-notes/{}.pdf", credit_note_number(&invoice.number));
    let now = saga.clock.now();
    let credit_note = CreditNoteDetails::voiding(&invoice, now, order.cancellation().map(|c| c.reason));
    let pdf = orderflow_documents::render_credit_note(&order, &credit_note, &saga.seller)
        .map_err(|e| TaskError::Invalid(e.to_string()))?;
    saga.blobs.put(&key, pdf, "application/pdf").await.map_err(|e| TaskError::Transient(Box::new(e)))?;
    saga.update(id, |order| Ok(order.void_invoice(key.clone(), now))).await?;
    Ok(json!({"voided": true, "creditNoteKey": key}))
}

/// Gives back the stock the order reserved, if any.
pub async fn release_stock(saga: &Saga, id: &OrderId) -> Result<Value, TaskError> {
    saga.inventory.release(id).await?;
    Ok(Value::Null)
}

/// Cancels the order with the reason named by the error that stopped its saga.
pub async fn cancel_order(saga: &Saga, id: &OrderId, error: &str, cause: &str) -> Result<Value, TaskError> {
    let reason = cancellation_reason(error);
    // A decline's cause ends with the partner's decline code: worth telling the customer.
    let detail = (reason == CancellationReason::PaymentDeclined)
        .then(|| cause.rsplit(": ").next().unwrap_or_default().to_owned())
        .filter(|code| !code.is_empty() && !code.contains(' '));
    let now = saga.clock.now();
    saga.update(id, |order| {
        if order.status() == OrderStatus::Cancelled {
            return Ok(false);
        }
        order.cancel(reason, detail.clone(), now).map_err(illegal)?;
        if !cause.is_empty() && reason == CancellationReason::InternalError {
            order.note(now, format!("stopped by {error}: {cause}"));
        }
        Ok(true)
    })
    .await?;
    Ok(json!({"reason": reason.as_str()}))
}

/// Notes on the order what is left to undo after a compensation failed for good.
pub async fn record_compensation_failure(
    saga: &Saga,
    id: &OrderId,
    error: &str,
    cause: &str,
) -> Result<Value, TaskError> {
    let now = saga.clock.now();
    let detail = format!("needs attention: a compensation failed ({error}: {cause})");
    saga.update(id, |order| {
        order.note(now, detail.clone());
        Ok(true)
    })
    .await?;
    tracing::error!(order_id = %id, error, cause, "a compensation failed after its retries; the order needs a person");
    Ok(Value::Null)
}
