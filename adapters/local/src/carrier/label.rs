//! The shipping label: a 4 × 6 inch PDF page, as thermal label printers take, with the carrier,
//! the service, both addresses, the parcel's weight and order, and the tracking number as a
//! Code 39 barcode and in writing.

use orderflow_domain::address::PostalAddress;
use orderflow_domain::catalog::Grams;
use orderflow_domain::order::OrderId;
use printpdf::{
    BuiltinFont, Color, Greyscale, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    Rect, TextItem,
};
use time::Date;

/// What a label shows.
#[derive(Debug)]
pub(super) struct Label<'a> {
    pub carrier: &'a str,
    pub service: &'a str,
    pub tracking_number: &'a str,
    pub order: &'a OrderId,
    pub destination: &'a PostalAddress,
    pub weight: Grams,
    pub date: Date,
}

/// Where every parcel leaves from: the store's warehouse.
const SHIP_FROM: [&str; 3] = ["Orderflow Fulfilment", "1 Warehouse Way", "Reno NV 89502 US"];

const WIDTH: f32 = 101.6;
const HEIGHT: f32 = 152.4;
const MARGIN: f32 = 6.0;
const MM_PER_PT: f32 = 25.4 / 72.0;

/// Lays out a page with text and boxes, top to bottom.
struct Page {
    ops: Vec<Op>,
}

impl Page {
    fn text(&mut self, x: f32, y: f32, font: BuiltinFont, size: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::Builtin(font), size: Pt(size) },
            Op::SetTextCursor { pos: Point::new(Mm(x), Mm(y)) },
            Op::ShowText { items: vec![TextItem::Text(text.to_owned())] },
            Op::EndTextSection,
        ]);
    }

    /// A filled rectangle, from its lower left corner.
    fn fill(&mut self, x: f32, y: f32, width: f32, height: f32) {
        let rectangle = Rect {
            x: Mm(x).into_pt(),
            y: Mm(y).into_pt(),
            width: Mm(width).into_pt(),
            height: Mm(height).into_pt(),
            mode: Some(PaintMode::Fill),
            winding_order: None,
        };
        self.ops.push(Op::DrawRectangle { rectangle });
    }

    /// A horizontal rule across the label.
    fn rule(&mut self, y: f32) {
        self.fill(MARGIN, y, WIDTH - 2.0 * MARGIN, 0.4);
    }
}

/// `1.250 kg`.
fn kilograms(weight: Grams) -> String {
    format!("{}.{:03} kg", weight.0 / 1000, weight.0 % 1000)
}

/// The label as PDF bytes.
pub(super) fn render(label: &Label<'_>) -> Vec<u8> {
    let mut page = Page { ops: Vec::new() };
    let left = MARGIN;
    let mut y = HEIGHT - MARGIN - 6.0;

    page.text(left, y, BuiltinFont::HelveticaBold, 16.0, label.carrier);
    // The service in white on a black box sized to it (capitals of Helvetica Bold are at most
    // about 0.72 em wide).
    let service = label.service.to_uppercase();
    #[allow(clippy::cast_precision_loss)] // A word.
    let box_width = service.chars().count() as f32 * 11.0 * 0.72 * MM_PER_PT + 4.0;
    let box_left = WIDTH - MARGIN - box_width;
    page.fill(box_left, y - 2.5, box_width, 9.0);
    page.ops.push(Op::SetFillColor { col: Color::Greyscale(Greyscale::new(1.0, None)) });
    page.text(box_left + 2.0, y, BuiltinFont::HelveticaBold, 11.0, &service);
    page.ops.push(Op::SetFillColor { col: Color::Greyscale(Greyscale::new(0.0, None)) });
    y -= 6.0;
    page.rule(y);

    y -= 5.0;
    page.text(left, y, BuiltinFont::HelveticaBold, 7.0, "SHIP FROM");
    for line in SHIP_FROM {
        y -= 3.6;
        page.text(left, y, BuiltinFont::Helvetica, 8.0, line);
    }
    y -= 4.0;
    page.rule(y);

    y -= 6.0;
    page.text(left, y, BuiltinFont::HelveticaBold, 8.0, "SHIP TO");
    let address = label.destination;
    let locality =
        [Some(address.city.as_str()), address.region.as_ref().map(AsRef::as_ref), Some(address.postal_code.as_ref())]
            .into_iter()
            .flatten()
            .collect::<Vec<&str>>()
            .join(" ");
    let lines = [
        Some(address.name.as_ref()),
        Some(address.line1.as_str()),
        address.line2.as_deref(),
        Some(&locality),
        Some(address.country.as_str()),
    ];
    for line in lines.into_iter().flatten() {
        y -= 6.0;
        page.text(left + 4.0, y, BuiltinFont::HelveticaBold, 13.0, line);
    }
    y -= 5.0;
    page.rule(y);

    y -= 5.0;
    page.text(left, y, BuiltinFont::Helvetica, 8.0, &format!("WEIGHT  {}", kilograms(label.weight)));
    page.text(WIDTH / 2.0, y, BuiltinFont::Helvetica, 8.0, &format!("SHIP DATE  {}", label.date));
    y -= 4.0;
    page.text(left, y, BuiltinFont::Helvetica, 8.0, &format!("ORDER  {}", label.order));
    y -= 4.0;
    page.rule(y);

    y -= 6.0;
    page.text(left, y, BuiltinFont::HelveticaBold, 8.0, "TRACKING NUMBER");
    let bars_top = y - 4.0;
    let bars_height = 22.0;
    code39(&mut page, label.tracking_number, left, bars_top - bars_height, WIDTH - 2.0 * MARGIN, bars_height);
    y = bars_top - bars_height - 6.0;
    page.text(left, y, BuiltinFont::Courier, 12.0, label.tracking_number);

    let mut doc = PdfDocument::new(&format!("{} label {}", label.carrier, label.tracking_number));
    let mut warnings = Vec::new();
    // Uncompressed: a label is small, and its text stays greppable.
    let options = PdfSaveOptions { optimize: false, ..PdfSaveOptions::default() };
    let bytes = doc.with_pages(vec![PdfPage::new(Mm(WIDTH), Mm(HEIGHT), page.ops)]).save(&options, &mut warnings);
    for warning in warnings {
        tracing::debug!(message = %warning.msg, "label PDF warning");
    }
    bytes
}

/// The Code 39 pattern of `c` as the wide elements among its five bars and four spaces (1-based
/// positions), or `None` for a character Code 39 cannot show.
///
/// Code 39 is built from two codes: two of the five bars are wide (by the "two of five" weights
/// 1, 2, 4, 7 and parity), and one of the four spaces is wide, picking the group of ten.
fn code39_wide(c: char) -> Option<([usize; 2], usize)> {
    const BARS: [[usize; 2]; 10] = [[1, 5], [2, 5], [1, 2], [3, 5], [1, 3], [2, 3], [4, 5], [1, 4], [2, 4], [3, 4]];
    const GROUPS: [(&str, usize); 4] = [("1234567890", 2), ("ABCDEFGHIJ", 3), ("KLMNOPQRST", 4), ("UVWXYZ-. *", 1)];
    GROUPS.iter().find_map(|(chars, space)| chars.find(c).map(|i| (BARS[i], *space)))
}

/// Draws `text` framed by the `*` start and stop characters, scaled to `width`.
fn code39(page: &mut Page, text: &str, x: f32, y: f32, width: f32, height: f32) {
    const WIDE: f32 = 3.0;
    let symbols: Vec<_> =
        std::iter::once('*').chain(text.chars()).chain(std::iter::once('*')).filter_map(code39_wide).collect();
    // Each symbol: 3 wide and 6 narrow elements, then a narrow gap.
    #[allow(clippy::cast_precision_loss)] // A few dozen symbols.
    let modules = symbols.len() as f32 * (3.0 * WIDE + 7.0);
    let narrow = width / modules;
    let mut cursor = x;
    for (bars, space) in symbols {
        for element in 0..9 {
            let is_bar = element % 2 == 0;
            let position = element / 2 + 1;
            let wide = if is_bar { bars.contains(&position) } else { position == space };
            let element_width = if wide { WIDE * narrow } else { narrow };
            if is_bar {
                page.fill(cursor, y, element_width, height);
            }
            cursor += element_width;
        }
        cursor += narrow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code39_patterns_have_three_wide_elements_and_known_characters() {
        // `*`: narrow bar, wide space, narrow bar, narrow space, wide bar, narrow space, wide bar, ...
        assert_eq!(code39_wide('*'), Some(([3, 4], 1)));
        assert_eq!(code39_wide('0'), Some(([3, 4], 2)));
        assert_eq!(code39_wide('A'), Some(([1, 5], 3)));
        assert_eq!(code39_wide('Z'), Some(([2, 3], 1)));
        assert_eq!(code39_wide('a'), None);
    }

    #[test]
    fn weights_are_shown_in_kilograms() {
        assert_eq!(kilograms(Grams(1250)), "1.250 kg");
        assert_eq!(kilograms(Grams(80)), "0.080 kg");
    }
}
