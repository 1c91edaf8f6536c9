//! What each stage's email says, as blocks that both renderings draw from.

use orderflow_domain::Money;
use orderflow_domain::order::{CancellationReason, Order, OrderStatus, PaymentStatus};

use super::{EmailContext, PaymentFailure, Stage};
use crate::format;

/// A message's words, before rendering.
#[derive(Debug)]
pub struct Content {
    pub subject: String,
    pub blocks: Vec<Block>,
}

/// One block of a message.
#[derive(Debug)]
pub enum Block {
    Paragraph(String),
    /// Labelled facts: "Tracking number: 7946…".
    Facts(Vec<(String, String)>),
    /// The order's lines and its totals, the last total in bold.
    Summary {
        lines: Vec<SummaryLine>,
        totals: Vec<(String, String)>,
    },
    /// A heading followed by lines printed as they are (an address).
    Lines {
        heading: String,
        lines: Vec<String>,
    },
    /// A short list.
    Bullets(Vec<String>),
    /// A link to follow, as a button in HTML.
    Action {
        label: String,
        url: String,
    },
}

#[derive(Debug)]
pub struct SummaryLine {
    pub quantity: u32,
    pub name: String,
    pub sku: String,
    pub amount: String,
}

/// The content of `stage`'s email about `order`.
pub fn for_stage(stage: Stage, order: &Order, context: &EmailContext<'_>) -> Content {
    let mut content = match stage {
        Stage::Confirmed => confirmed(order),
        Stage::Invoiced => invoiced(order, context),
        Stage::Paid => paid(order),
        Stage::Shipped => shipped(order, context),
        Stage::PaymentFailed => payment_failed(order, context),
        Stage::Refunded => refunded(order, context),
        Stage::Cancelled => cancelled(order, context),
    };
    if let Some(url) = &context.order_link {
        content.blocks.push(Block::Action { label: "View your order".to_owned(), url: url.clone() });
    }
    content
}

fn confirmed(order: &Order) -> Content {
    Content {
        subject: format!("Your order {} is confirmed", order.id),
        blocks: vec![
            Block::Paragraph(
                "Thank you for your order. We have received it, priced it and set the items aside for you. \
                 Next we will send your invoice and charge your saved payment method; we will write to you at \
                 each step."
                    .to_owned(),
            ),
            Block::Facts(vec![
                ("Order".to_owned(), order.id.to_string()),
                ("Placed on".to_owned(), format::long_date(order.created_at)),
            ]),
            summary(order),
            ship_to(order),
        ],
    }
}

fn invoiced(order: &Order, context: &EmailContext<'_>) -> Content {
    let number = order.invoice.as_ref().map(|invoice| invoice.number.clone());
    let subject = match &number {
        Some(number) => format!("Invoice {number} for your order {}", order.id),
        None => format!("Your invoice for order {}", order.id),
    };
    let mut facts = Vec::new();
    if let Some(invoice) = &order.invoice {
        facts.push(("Invoice number".to_owned(), invoice.number.clone()));
        facts.push(("Invoice date".to_owned(), format::long_date(invoice.issued_at)));
    }
    facts.push(("Order".to_owned(), order.id.to_string()));
    facts.push(("Total".to_owned(), format::money(order.pricing.total)));

    let where_it_is = match (context.invoice_pdf.is_some(), context.invoice_link.is_some()) {
        (true, true) => "It is attached to this email as a PDF, and you can also download it with the link below.",
        (true, false) => "It is attached to this email as a PDF.",
        (false, true) => "You can download it with the link below; the link works for a limited time.",
        (false, false) => "Reply to this email if you would like a copy.",
    };
    let mut blocks = vec![
        Block::Paragraph(format!("Your invoice for order {} is ready. {where_it_is}", order.id)),
        Block::Facts(facts),
        Block::Paragraph(format!(
            "We will now charge {} to your saved payment method.",
            format::money(order.pricing.total)
        )),
    ];
    if let Some(url) = &context.invoice_link {
        blocks.push(Block::Action { label: "Download your invoice".to_owned(), url: url.clone() });
    }
    Content { subject, blocks }
}

fn paid(order: &Order) -> Content {
    // The charge is always the order's total; the payment record says so once it exists.
    let amount = order.payment.as_ref().map_or(order.pricing.total, |payment| payment.amount);
    let mut facts = vec![("Amount charged".to_owned(), format::money(amount))];
    if let Some(payment) = &order.payment {
        facts.push(("Payment reference".to_owned(), payment.reference.clone()));
    }
    if let Some(invoice) = &order.invoice {
        facts.push(("Invoice".to_owned(), invoice.number.clone()));
    }
    facts.push(("Order".to_owned(), order.id.to_string()));
    Content {
        subject: format!("Payment received for your order {}", order.id),
        blocks: vec![
            Block::Paragraph(format!(
                "We have charged {} to your saved payment method for order {}. Thank you.",
                format::money(amount),
                order.id
            )),
            Block::Facts(facts),
            Block::Paragraph(
                "We are packing your parcel now and will send you its tracking number as soon as it ships.".to_owned(),
            ),
        ],
    }
}

fn shipped(order: &Order, context: &EmailContext<'_>) -> Content {
    let mut blocks = vec![Block::Paragraph(format!("Good news: your order {} is on its way.", order.id))];
    if let Some(shipment) = &order.shipment {
        blocks.push(Block::Facts(vec![
            ("Carrier".to_owned(), shipment.carrier.clone()),
            ("Service".to_owned(), shipment.service.clone()),
            ("Tracking number".to_owned(), shipment.tracking_number.clone()),
        ]));
    }
    if let Some(url) = &context.tracking_link {
        blocks.push(Block::Action { label: "Track your parcel".to_owned(), url: url.clone() });
    }
    if let Some(url) = &context.label_link {
        blocks.push(Block::Action { label: "View the shipping label".to_owned(), url: url.clone() });
    }
    blocks.push(ship_to(order));
    Content { subject: format!("Your order {} has shipped", order.id), blocks }
}

fn payment_failed(order: &Order, context: &EmailContext<'_>) -> Content {
    let failure = context.payment_failure.clone().or_else(|| match reason(order, context) {
        Some(CancellationReason::PaymentRequiresAction) => Some(PaymentFailure::RequiresAction),
        Some(CancellationReason::PaymentDeclined) => Some(PaymentFailure::Declined { code: None }),
        _ => None,
    });
    let what_happened = match &failure {
        Some(PaymentFailure::Declined { code }) => {
            let why = code.as_deref().and_then(decline_in_words).map_or_else(
                || " Your bank did not tell us why; they can tell you more.".to_owned(),
                |why| format!(" The reason given: {why}."),
            );
            format!("We could not take payment for order {}: your bank declined it.{why}", order.id)
        }
        Some(PaymentFailure::RequiresAction) => format!(
            "We could not take payment for order {}: your bank asked you to confirm the payment (for example \
             with a code sent to your phone), which we cannot do for you when charging your saved payment method.",
            order.id
        ),
        None => format!("We could not take payment for order {}.", order.id),
    };
    let mut undone = vec!["You have not been charged.".to_owned()];
    if let Some(invoice) = &order.invoice {
        undone.push(format!("Invoice {} is void.", invoice.number));
    }
    undone.push("The items we set aside for you have been released.".to_owned());
    Content {
        subject: format!("Payment failed for order {}: you have not been charged", order.id),
        blocks: vec![
            Block::Paragraph(what_happened),
            Block::Paragraph("We have cancelled the order:".to_owned()),
            Block::Bullets(undone),
            Block::Paragraph(
                "If you still want these items, please place a new order, perhaps with another payment method."
                    .to_owned(),
            ),
        ],
    }
}

/// A decline code in words the customer can act on, or `None` where the code should not be
/// shown: Stripe advises against telling a customer that a card was flagged as lost, stolen or
/// fraudulent, and a generic decline says nothing useful.
fn decline_in_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "insufficient_funds" => "there were not enough funds available",
        "expired_card" => "the card has expired",
        "incorrect_cvc"
        | "invalid_cvc"
        | "incorrect_number"
        | "invalid_number"
        | "invalid_expiry_month"
        | "invalid_expiry_year"
        | "incorrect_zip" => "some of the card's details were not accepted",
        "card_velocity_exceeded" | "withdrawal_count_limit_exceeded" => "the card's spending limit was reached",
        "card_not_supported" | "currency_not_supported" => "the card cannot be used for this purchase",
        "processing_error" => "an error occurred while processing the card; trying again later may work",
        _ => return None,
    })
}

fn refunded(order: &Order, context: &EmailContext<'_>) -> Content {
    let amount =
        context.refund.or_else(|| order.payment.as_ref().map(|payment| payment.amount)).unwrap_or(order.pricing.total);
    let mut facts = vec![("Amount refunded".to_owned(), format::money(amount))];
    if let Some(payment) = &order.payment {
        if let Some(refund) = &payment.refund_reference {
            facts.push(("Refund reference".to_owned(), refund.clone()));
        }
        facts.push(("Original payment".to_owned(), payment.reference.clone()));
    }
    facts.push(("Order".to_owned(), order.id.to_string()));
    let why = reason(order, context).map_or_else(String::new, |reason| {
        format!(" We are cancelling the order because {}.", format::reason_clause(reason))
    });
    Content {
        subject: format!("Refund of {} for your order {}", format::money(amount), order.id),
        blocks: vec![
            Block::Paragraph(format!(
                "We have refunded {} to the payment method you used for order {}.{why}",
                format::money(amount),
                order.id
            )),
            Block::Facts(facts),
            Block::Paragraph(
                "Refunds usually appear on your statement within 5 to 10 business days, depending on your bank."
                    .to_owned(),
            ),
        ],
    }
}

fn cancelled(order: &Order, context: &EmailContext<'_>) -> Content {
    let reason = reason(order, context);
    let opening = match reason {
        Some(CancellationReason::CustomerRequest) => {
            format!("As you asked, we have cancelled your order {}.", order.id)
        }
        Some(reason) => {
            format!("We are sorry: we had to cancel your order {} because {}.", order.id, format::reason_clause(reason))
        }
        None => format!("We have cancelled your order {}.", order.id),
    };
    Content {
        subject: format!("Your order {} is cancelled", order.id),
        blocks: vec![
            Block::Paragraph(opening),
            Block::Paragraph("Here is what we undid:".to_owned()),
            Block::Bullets(what_was_undone(order)),
            Block::Paragraph("If you still want these items, you are welcome to order again.".to_owned()),
        ],
    }
}

/// The compensations a cancelled order went through, read from what the order records.
fn what_was_undone(order: &Order) -> Vec<String> {
    let mut undone = Vec::new();
    match &order.payment {
        None => undone.push("You have not been charged.".to_owned()),
        Some(payment) if payment.status == PaymentStatus::Refunded => {
            let reference = payment.refund_reference.as_ref().map_or_else(String::new, |r| format!(" (reference {r})"));
            undone.push(format!(
                "We refunded the {} we charged{reference}; it reaches your account within a few business days.",
                format::money(payment.amount)
            ));
        }
        Some(payment) => undone.push(format!(
            "We are refunding the {} we charged, and will email you when it is done.",
            format::money(payment.amount)
        )),
    }
    if let Some(invoice) = &order.invoice {
        let credit_note = if invoice.credit_note_key.is_some() { ", cancelled by a credit note" } else { "" };
        undone.push(format!("Invoice {} is void{credit_note}.", invoice.number));
    }
    let reserved = order.history().iter().any(|entry| entry.status == OrderStatus::Confirmed);
    if reserved {
        undone.push("The items we set aside for you are back in stock.".to_owned());
    } else {
        undone.push("Nothing was set aside for you, so there is nothing to return.".to_owned());
    }
    undone
}

fn reason(order: &Order, context: &EmailContext<'_>) -> Option<CancellationReason> {
    order.cancellation().map(|cancellation| cancellation.reason).or(context.cancellation_reason)
}

/// The lines and totals of the order.
fn summary(order: &Order) -> Block {
    let pricing = &order.pricing;
    let lines = order
        .lines
        .iter()
        .map(|line| SummaryLine {
            quantity: line.quantity.get(),
            name: line.name.clone(),
            sku: line.sku.to_string(),
            amount: format::money(line.line_total),
        })
        .collect();
    let mut totals = vec![("Subtotal".to_owned(), format::money(pricing.subtotal))];
    if !pricing.discount.is_zero() {
        let label =
            order.promo_code.as_ref().map_or_else(|| "Discount".to_owned(), |code| format!("Discount ({code})"));
        totals.push((label, format::money(negate_for_display(pricing.discount))));
    }
    totals.push(("Shipping".to_owned(), format::money(pricing.shipping)));
    totals.push((format::tax_label(&pricing.tax_rate), format::money(pricing.tax)));
    totals.push(("Total".to_owned(), format::money(pricing.total)));
    Block::Summary { lines, totals }
}

/// A discount shown as the negative amount it is; a discount no order can reach shows as is.
fn negate_for_display(amount: Money) -> Money {
    format::negated(amount).unwrap_or(amount)
}

fn ship_to(order: &Order) -> Block {
    Block::Lines { heading: "Shipping to".to_owned(), lines: format::address_lines(&order.shipping_address) }
}
