//! The invoice and the credit note that voids it, as A4 PDF files.
//!
//! Both are pure functions of the order and a few facts the order does not hold until they are
//! issued (a number, a date). Rendering the same document twice gives the same bytes, so a
//! retried saga step that stores the PDF again stores the identical file.
//!
//! # Layout
//!
//! The first page carries the letterhead (the seller: name, address, tax id, email), the
//! document's facts (number, date, order, currency), who is billed and where the goods ship,
//! then the table of lines: SKU, description, quantity, unit price, amount. Lines that do not fit
//! flow onto further pages, each with a short header and the table's column titles again. The
//! totals (subtotal, discount with its code, shipping, tax with its jurisdiction and rate, total)
//! follow the last line, on a page of their own if they do not fit under it. Every page's
//! footer names the document and the order, and says "Page n of N".
//!
//! A credit note is the same sheet with every amount negated, the invoice it voids and the
//! reason in plain words.

use orderflow_domain::Money;
use orderflow_domain::order::{CancellationReason, InvoiceRecord, Order};
use orderflow_domain::pricing::PricedLine;
use time::OffsetDateTime;

use crate::DocumentError;
use crate::format;
use crate::pdf::{self, Page, Style};
use crate::seller::Seller;

/// The media type to store and send these documents with.
pub const PDF_CONTENT_TYPE: &str = "application/pdf";

/// What an invoice needs beyond the order: the number and date it is issued with.
///
/// The domain's `InvoiceRecord` converts into it, but rendering does not need one: a PDF can be
/// drawn from a freshly assigned number before anything is stored or recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDetails {
    /// Sequential, from `InvoiceNumbers::assign`: `INV-2026-000042`.
    pub number: String,
    /// The invoice date printed on the document.
    pub issued_at: OffsetDateTime,
}

impl From<&InvoiceRecord> for InvoiceDetails {
    /// The details of an invoice as the order records them.
    fn from(record: &InvoiceRecord) -> Self {
        Self { number: record.number.clone(), issued_at: record.issued_at }
    }
}

impl From<&InvoiceDetails> for InvoiceDetails {
    fn from(details: &InvoiceDetails) -> Self {
        details.clone()
    }
}

/// What a credit note needs beyond the order: its own number and date, the invoice it voids and
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNoteDetails {
    /// The credit note's own number. Many tax authorities require credit notes to be numbered
    /// in a sequence of their own; the domain does not assign one yet, so the caller chooses
    /// (see [`credit_note_number`]).
    pub number: String,
    pub issued_at: OffsetDateTime,
    /// The invoice this credit note voids in full.
    pub invoice: InvoiceDetails,
    /// Why the order is cancelled, printed in plain words. When `None`, the order's recorded
    /// cancellation gives it (the credit note may be issued before the order is cancelled).
    pub reason: Option<CancellationReason>,
}

impl CreditNoteDetails {
    /// The credit note voiding `invoice`, numbered after it (see [`credit_note_number`]).
    pub fn voiding(invoice: &InvoiceRecord, issued_at: OffsetDateTime, reason: Option<CancellationReason>) -> Self {
        Self { number: credit_note_number(&invoice.number), issued_at, invoice: invoice.into(), reason }
    }
}

/// A credit note number derived from the number of the invoice it voids (`INV-2026-000042` gives
/// `CN-2026-000042`): one credit note per invoice, so it is unique and stable across retries.
pub fn credit_note_number(invoice_number: &str) -> String {
    match invoice_number.strip_prefix("INV-") {
        Some(rest) => format!("CN-{rest}"),
        None => format!("CN-{invoice_number}"),
    }
}

/// A file name for a document with this number (`invoice-INV-2026-000042.pdf`), safe in a
/// `Content-Disposition` header and on any file system.
pub fn file_name(kind: &str, number: &str) -> String {
    let safe = |text: &str| -> String {
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
    };
    format!("{}-{}.pdf", safe(kind), safe(number))
}

/// Renders the invoice of `order` as a PDF. `invoice` is an [`InvoiceDetails`] or the order's
/// `&InvoiceRecord`.
///
/// Errors: [`DocumentError::AmountOutOfRange`] cannot happen for an order priced by the domain;
/// [`DocumentError::Pdf`] if the file cannot be written.
pub fn render_invoice(
    order: &Order,
    invoice: impl Into<InvoiceDetails>,
    seller: &Seller,
) -> Result<Vec<u8>, DocumentError> {
    let invoice = invoice.into();
    let sheet = Sheet {
        title: "INVOICE",
        document_name: "Invoice",
        number: &invoice.number,
        facts: vec![
            ("Invoice number", invoice.number.clone()),
            ("Invoice date", format::iso_date(invoice.issued_at)),
            ("Order", order.id.to_string()),
            ("Order date", format::iso_date(order.created_at)),
            ("Currency", order.pricing.currency.code().to_owned()),
        ],
        notes: vec![],
        sign: Sign::AsCharged,
        total_label: "Total",
        closing: "Thank you for your order.",
    };
    let metadata = pdf::Metadata {
        title: &format!("Invoice {} for order {}", invoice.number, order.id),
        author: &seller.name,
        created_at: invoice.issued_at,
        identity: &format!("orderflow:invoice:{}", invoice.number),
    };
    pdf::save(sheet.draw(order, seller)?, &metadata)
}

/// Renders the credit note voiding the invoice of `order`: the same lines, every amount negated,
/// the voided invoice and the reason.
///
/// Errors: as [`render_invoice`].
pub fn render_credit_note(
    order: &Order,
    credit_note: &CreditNoteDetails,
    seller: &Seller,
) -> Result<Vec<u8>, DocumentError> {
    let invoice = &credit_note.invoice;
    let reason = credit_note.reason.or_else(|| order.cancellation().map(|cancellation| cancellation.reason));
    let reason = reason.map_or("Order cancelled", format::reason_label);
    let sheet = Sheet {
        title: "CREDIT NOTE",
        document_name: "Credit note",
        number: &credit_note.number,
        facts: vec![
            ("Credit note number", credit_note.number.clone()),
            ("Date", format::iso_date(credit_note.issued_at)),
            ("Voids invoice", invoice.number.clone()),
            ("Invoice date", format::iso_date(invoice.issued_at)),
            ("Order", order.id.to_string()),
            ("Currency", order.pricing.currency.code().to_owned()),
        ],
        notes: vec![
            format!("Reason: {reason}."),
            format!(
                "This credit note voids invoice {} of {} in full: nothing is owed for this order.",
                invoice.number,
                format::iso_date(invoice.issued_at)
            ),
        ],
        sign: Sign::Credited,
        total_label: "Total credited",
        closing: "",
    };
    let metadata = pdf::Metadata {
        title: &format!("Credit note {} voiding invoice {}", credit_note.number, invoice.number),
        author: &seller.name,
        created_at: credit_note.issued_at,
        identity: &format!("orderflow:credit-note:{}", credit_note.number),
    };
    pdf::save(sheet.draw(order, seller)?, &metadata)
}

/// Whether amounts print as charged (an invoice) or negated (a credit note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    AsCharged,
    Credited,
}

impl Sign {
    fn apply(self, amount: Money) -> Result<Money, DocumentError> {
        match self {
            Self::AsCharged => Ok(amount),
            Self::Credited => format::negated(amount).ok_or(DocumentError::AmountOutOfRange),
        }
    }

    fn money(self, amount: Money) -> Result<String, DocumentError> {
        self.apply(amount).map(format::money)
    }
}

// Page geometry, in millimetres.
const LEFT: f32 = 20.0;
const RIGHT: f32 = pdf::PAGE_WIDTH - 20.0;
const TOP: f32 = pdf::PAGE_HEIGHT - 20.0;
/// Content stops above this line; the footer sits below it.
const BOTTOM: f32 = 28.0;
const FOOTER_RULE: f32 = 22.0;
const FOOTER_BASELINE: f32 = 16.0;
/// Where the "Ship to" block starts, and the totals' labels.
const MIDDLE: f32 = 110.0;

const ROW_HEIGHT: f32 = 6.0;
const TOTALS_ROW_HEIGHT: f32 = 5.5;
/// Space between table columns.
const GUTTER: f32 = 5.0;

const BODY: Style = Style::regular(9.0);
const SMALL: Style = Style::regular(8.0);
const LABEL: Style = Style::regular(8.0).muted();
const HEADING: Style = Style::bold(8.5);

/// One document to draw: what differs between an invoice and a credit note.
struct Sheet<'a> {
    title: &'static str,
    /// "Invoice", for the footer and the continuation header.
    document_name: &'static str,
    number: &'a str,
    /// Label and value, printed in a row of columns under the letterhead.
    facts: Vec<(&'static str, String)>,
    /// Paragraphs printed above the table.
    notes: Vec<String>,
    sign: Sign,
    total_label: &'static str,
    /// A line under the totals; empty for none.
    closing: &'static str,
}

/// Where the table's columns are, sized to the widest value each must hold so that no amount
/// and no SKU is ever cut.
struct Columns {
    sku_x: f32,
    sku_width: f32,
    description_x: f32,
    description_width: f32,
    quantity_right: f32,
    unit_price_right: f32,
    amount_right: f32,
}

impl Columns {
    fn measure(rows: &[Row]) -> Self {
        let widest = |title: &str, value: fn(&Row) -> &str, style: Style| {
            rows.iter().map(|row| style.width(value(row))).fold(HEADING.width(title), f32::max)
        };
        let amount_right = RIGHT;
        let unit_price_right = amount_right - widest("Amount", |r| &r.amount, BODY) - GUTTER;
        let quantity_right = unit_price_right - widest("Unit price", |r| &r.unit_price, BODY) - GUTTER;
        let quantity_left = quantity_right - widest("Qty", |r| &r.quantity, BODY);
        // SKUs are shrunk rather than cut when one is unusually long; the description gives way.
        let sku_width = widest("SKU", |r| &r.sku, SMALL).min(45.0);
        let description_x = LEFT + sku_width + GUTTER;
        Self {
            sku_x: LEFT,
            sku_width,
            description_x,
            description_width: (quantity_left - GUTTER - description_x).max(15.0),
            quantity_right,
            unit_price_right,
            amount_right,
        }
    }
}

/// A line of the table, formatted.
struct Row {
    sku: String,
    description: String,
    quantity: String,
    unit_price: String,
    amount: String,
}

impl Row {
    fn of(line: &PricedLine, sign: Sign) -> Result<Self, DocumentError> {
        Ok(Self {
            sku: line.sku.to_string(),
            description: line.name.clone(),
            quantity: line.quantity.get().to_string(),
            unit_price: format::money(line.unit_price),
            amount: sign.money(line.line_total)?,
        })
    }
}

impl Sheet<'_> {
    fn draw(&self, order: &Order, seller: &Seller) -> Result<Vec<Page>, DocumentError> {
        let rows = order.lines.iter().map(|line| Row::of(line, self.sign)).collect::<Result<Vec<_>, _>>()?;
        let totals = self.totals(order)?;
        let columns = Columns::measure(&rows);

        let mut pages = Vec::new();
        let mut page = Page::default();
        let mut y = self.draw_letterhead(&mut page, seller);
        y = self.draw_facts(&mut page, y);
        y = draw_parties(&mut page, order, y);
        y = self.draw_notes(&mut page, y);
        y = draw_table_header(&mut page, &columns, y);
        let totals_height = totals_height(&totals, self.closing);
        let mut rows_on_page = 0;
        for (index, row) in rows.iter().enumerate() {
            let page_is_full = y - ROW_HEIGHT < BOTTOM;
            // Carry the last lines over with the totals rather than leave the totals alone on a page.
            let rows_left = rows.len() - index;
            #[allow(clippy::cast_precision_loss)] // at most 2
            let totals_would_be_alone =
                rows_left <= 2 && rows_on_page > 0 && y - rows_left as f32 * ROW_HEIGHT - totals_height < BOTTOM;
            if page_is_full || totals_would_be_alone {
                pages.push(std::mem::take(&mut page));
                y = self.draw_continuation_header(&mut page, seller);
                y = draw_table_header(&mut page, &columns, y);
                rows_on_page = 0;
            }
            y = draw_row(&mut page, &columns, row, y);
            rows_on_page += 1;
        }
        if y - totals_height < BOTTOM {
            pages.push(std::mem::take(&mut page));
            y = self.draw_continuation_header(&mut page, seller);
        }
        self.draw_totals(&mut page, &totals, y);
        pages.push(page);

        let count = pages.len();
        for (index, page) in pages.iter_mut().enumerate() {
            self.draw_footer(page, order, seller, index + 1, count);
        }
        Ok(pages)
    }

    fn draw_letterhead(&self, page: &mut Page, seller: &Seller) -> f32 {
        let title = Style::bold(18.0);
        page.text_right(RIGHT, TOP, title, self.title);
        let name_room = RIGHT - title.width(self.title) - GUTTER - LEFT;
        let name = Style::bold(15.0);
        page.text(LEFT, TOP, name, &name.fit(&seller.name, name_room));

        let mut y = TOP - 7.0;
        let mut details: Vec<String> = seller.address.clone();
        details.push(format!("Tax ID: {}", seller.tax_id));
        details.push(seller.email.to_string());
        details.extend(seller.website.clone());
        for detail in &details {
            page.text(LEFT, y, BODY.muted(), &BODY.fit(detail, MIDDLE - LEFT));
            y -= 4.2;
        }
        y -= 1.0;
        page.rule(LEFT, RIGHT, y, 0.6, 0.0);
        y - 7.0
    }

    /// The facts as a row of labelled columns, wrapping to a second row if they do not fit.
    fn draw_facts(&self, page: &mut Page, top: f32) -> f32 {
        let value_style = Style::bold(9.5);
        let mut x = LEFT;
        let mut y = top;
        for (label, value) in &self.facts {
            let width = LABEL.width(label).max(value_style.width(value));
            if x > LEFT && x + width > RIGHT {
                x = LEFT;
                y -= 11.0;
            }
            page.text(x, y, LABEL, label);
            page.text(x, y - 4.5, value_style, &value_style.fit(value, RIGHT - x));
            x += width + 8.0;
        }
        y - 14.0
    }

    fn draw_notes(&self, page: &mut Page, top: f32) -> f32 {
        let mut y = top;
        for note in &self.notes {
            page.text(LEFT, y, BODY, &BODY.fit(note, RIGHT - LEFT));
            y -= 5.0;
        }
        if self.notes.is_empty() { y } else { y - 4.0 }
    }

    fn draw_continuation_header(&self, page: &mut Page, seller: &Seller) -> f32 {
        let style = Style::bold(10.0);
        let title = format!("{} {} (continued)", self.document_name, self.number);
        page.text_right(RIGHT, TOP, style, &title);
        page.text(LEFT, TOP, style, &style.fit(&seller.name, RIGHT - LEFT - style.width(&title) - GUTTER));
        page.rule(LEFT, RIGHT, TOP - 3.0, 0.6, 0.0);
        TOP - 10.0
    }

    fn totals(&self, order: &Order) -> Result<Vec<(String, String)>, DocumentError> {
        let pricing = &order.pricing;
        let mut totals = vec![("Subtotal".to_owned(), self.sign.money(pricing.subtotal)?)];
        if !pricing.discount.is_zero() || order.promo_code.is_some() {
            let label = match &order.promo_code {
                Some(code) => format!("Discount ({code})"),
                None => "Discount".to_owned(),
            };
            let discount = format::negated(pricing.discount).ok_or(DocumentError::AmountOutOfRange)?;
            totals.push((label, self.sign.money(discount)?));
        }
        totals.push(("Shipping".to_owned(), self.sign.money(pricing.shipping)?));
        totals.push((format::tax_label(&pricing.tax_rate), self.sign.money(pricing.tax)?));
        totals.push((self.total_label.to_owned(), self.sign.money(pricing.total)?));
        Ok(totals)
    }

    /// The totals, the last of which is the total in bold.
    fn draw_totals(&self, page: &mut Page, totals: &[(String, String)], top: f32) {
        let mut y = top - 4.0;
        let Some(((total_label, total), figures)) = totals.split_last() else { return };
        for (label, value) in figures {
            page.text(MIDDLE, y, BODY, label);
            page.text_right(RIGHT, y, BODY, value);
            y -= TOTALS_ROW_HEIGHT;
        }
        page.rule(MIDDLE, RIGHT, y + TOTALS_ROW_HEIGHT - 1.8, 0.6, 0.0);
        y -= 1.5;
        let bold = Style::bold(10.5);
        page.text(MIDDLE, y, bold, total_label);
        page.text_right(RIGHT, y, bold, total);
        if !self.closing.is_empty() {
            page.text(LEFT, y - 12.0, BODY, self.closing);
        }
    }

    fn draw_footer(&self, page: &mut Page, order: &Order, seller: &Seller, number: usize, count: usize) {
        let style = Style::regular(7.5).muted();
        let position = format!("Page {number} of {count}");
        let about = format!("{} \u{b7} {} {} \u{b7} Order {}", seller.name, self.document_name, self.number, order.id);
        page.rule(LEFT, RIGHT, FOOTER_RULE, 0.4, 0.6);
        page.text(LEFT, FOOTER_BASELINE, style, &style.fit(&about, RIGHT - LEFT - style.width(&position) - GUTTER));
        page.text_right(RIGHT, FOOTER_BASELINE, style, &position);
    }
}

/// The vertical room the totals and the closing line take.
fn totals_height(totals: &[(String, String)], closing: &str) -> f32 {
    #[allow(clippy::cast_precision_loss)] // a handful of rows
    let rows = totals.len() as f32;
    let closing = if closing.is_empty() { 0.0 } else { 12.0 };
    4.0 + rows * TOTALS_ROW_HEIGHT + 1.5 + closing + 2.0
}

/// Who is billed (the customer) and where the goods go (the shipping address), side by side.
fn draw_parties(page: &mut Page, order: &Order, top: f32) -> f32 {
    let width = MIDDLE - LEFT - GUTTER;
    page.text(LEFT, top, LABEL, "Billed to");
    let name = Style::bold(9.5);
    page.text(LEFT, top - 5.0, name, &name.fit(order.customer.name.as_ref(), width));
    page.text(LEFT, top - 9.5, BODY, &BODY.fit(order.customer.email.as_str(), width));

    page.text(MIDDLE, top, LABEL, "Ship to");
    let mut y = top - 5.0;
    for line in format::address_lines(&order.shipping_address) {
        page.text(MIDDLE, y, BODY, &BODY.fit(&line, RIGHT - MIDDLE));
        y -= 4.5;
    }
    y.min(top - 9.5) - 8.0
}

fn draw_table_header(page: &mut Page, columns: &Columns, top: f32) -> f32 {
    let height = 7.0;
    page.band(LEFT - 1.5, top - height, RIGHT - LEFT + 3.0, height, 0.92);
    let baseline = top - 4.7;
    page.text(columns.sku_x, baseline, HEADING, "SKU");
    page.text(columns.description_x, baseline, HEADING, "Description");
    page.text_right(columns.quantity_right, baseline, HEADING, "Qty");
    page.text_right(columns.unit_price_right, baseline, HEADING, "Unit price");
    page.text_right(columns.amount_right, baseline, HEADING, "Amount");
    top - height
}

fn draw_row(page: &mut Page, columns: &Columns, row: &Row, top: f32) -> f32 {
    let baseline = top - 4.2;
    page.text(columns.sku_x, baseline, SMALL.shrunk_to_fit(&row.sku, columns.sku_width), &row.sku);
    page.text(columns.description_x, baseline, BODY, &BODY.fit(&row.description, columns.description_width));
    page.text_right(columns.quantity_right, baseline, BODY, &row.quantity);
    page.text_right(columns.unit_price_right, baseline, BODY, &row.unit_price);
    page.text_right(columns.amount_right, baseline, BODY, &row.amount);
    let bottom = top - ROW_HEIGHT;
    page.rule(LEFT, RIGHT, bottom, 0.3, 0.85);
    bottom
}

#[cfg(test)]
mod tests;
