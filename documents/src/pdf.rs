//! Drawing on PDF pages with the built-in Helvetica: text placed by its baseline, right-aligned
//! figures, rules and shaded bands, and saving the result.
//!
//! The 14 built-in PDF fonts need no embedding (an invoice stays a couple of kilobytes), but they
//! only know the WinAnsi character set (Latin-1 plus a few typographic signs and `€`). Every
//! string is therefore passed through [`printable`] before it is measured or drawn: what the
//! font cannot show becomes `?`, so a customer called "李雷" still gets an invoice. The email,
//! which is UTF-8, carries the name in full.
//!
//! Coordinates are millimetres from the bottom-left corner of an A4 page, as in PDF itself.

use lopdf::{Object, StringFormat};
use printpdf::{
    BuiltinFont, Color, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, TextItem,
};
use time::OffsetDateTime;

use crate::DocumentError;

/// A4, in millimetres.
pub const PAGE_WIDTH: f32 = 210.0;
pub const PAGE_HEIGHT: f32 = 297.0;

/// Millimetres per typographic point.
const MM_PER_PT: f32 = 25.4 / 72.0;

/// The two faces documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
}

impl Face {
    fn builtin(self) -> BuiltinFont {
        match self {
            Self::Regular => BuiltinFont::Helvetica,
            Self::Bold => BuiltinFont::HelveticaBold,
        }
    }

    /// Advance widths of the printable ASCII characters (0x20 to 0x7E) in thousandths of an em,
    /// from Adobe's font metrics for the standard 14 fonts. Any PDF viewer draws the built-in
    /// fonts with these widths, so right-aligned figures line up.
    fn ascii_widths(self) -> &'static [u16; 95] {
        match self {
            Self::Regular => &HELVETICA_WIDTHS,
            Self::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }

    /// A generous width for characters outside ASCII (accented capitals are the widest), so
    /// measured text never overflows its column.
    fn other_width(self) -> u16 {
        match self {
            Self::Regular => 722,
            Self::Bold => 778,
        }
    }
}

#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' ' to '/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // '0' to '?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // '@' to 'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 'P' to '_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // '`' to 'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,      // 'p' to '~'
];

#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' ' to '/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // '0' to '?'
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // '@' to 'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 'P' to '_'
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // '`' to 'o'
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,      // 'p' to '~'
];

/// How a run of text looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    pub face: Face,
    /// In points.
    pub size: f32,
    /// 0 is black, 1 is white.
    pub grey: f32,
}

impl Style {
    pub const fn regular(size: f32) -> Self {
        Self { face: Face::Regular, size, grey: 0.0 }
    }

    pub const fn bold(size: f32) -> Self {
        Self { face: Face::Bold, size, grey: 0.0 }
    }

    /// The same style in a muted grey, for labels and footnotes.
    pub const fn muted(self) -> Self {
        Self { grey: 0.42, ..self }
    }

    /// The width of `text` in this style, in millimetres, as it will be drawn.
    pub fn width(self, text: &str) -> f32 {
        let em_thousandths: u32 = printable(text)
            .chars()
            .map(|c| {
                let ascii = u32::from(c).checked_sub(0x20).and_then(|i| self.face.ascii_widths().get(i as usize));
                u32::from(ascii.copied().unwrap_or_else(|| self.face.other_width()))
            })
            .sum();
        // A line of text is at most a few hundred characters: the sum is exact in an f32.
        #[allow(clippy::cast_precision_loss)]
        let em = em_thousandths as f32 / 1000.0;
        em * self.size * MM_PER_PT
    }

    /// `text`, shortened with an ellipsis if it is wider than `max_width` millimetres.
    pub fn fit(self, text: &str, max_width: f32) -> String {
        let text = printable(text);
        if self.width(&text) <= max_width {
            return text;
        }
        let mut fitted: String = text.chars().collect();
        while !fitted.is_empty() && self.width(&format!("{fitted}\u{2026}")) > max_width {
            fitted.pop();
        }
        format!("{}\u{2026}", fitted.trim_end())
    }

    /// The largest size, no larger than this style's, at which `text` fits in `max_width`
    /// millimetres: for values that must never be cut, such as SKUs.
    pub fn shrunk_to_fit(self, text: &str, max_width: f32) -> Self {
        let width = self.width(text);
        if width <= max_width || width <= 0.0 { self } else { Self { size: self.size * max_width / width, ..self } }
    }
}

/// The characters WinAnsi places in 0x80 to 0x9F, where Latin-1 has control codes.
const WINANSI_EXTRAS: &str = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ\u{2018}\u{2019}“”•–—˜™š›œžŸ";

/// `text` in the characters the built-in fonts can draw: WinAnsi (Latin-1 and a few more), with
/// control characters as spaces and anything else as `?`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            ' '..='~' | '\u{A0}'..='\u{FF}' => c,
            c if WINANSI_EXTRAS.contains(c) => c,
            // A Unicode minus sign reads as a hyphen-minus.
            '\u{2212}' => '-',
            _ => '?',
        })
        .collect()
}

/// The drawing operations of one page.
#[derive(Debug, Default)]
pub struct Page {
    ops: Vec<Op>,
}

impl Page {
    /// Draws `text` with its baseline starting at (`x`, `y`).
    pub fn text(&mut self, x: f32, y: f32, style: Style, text: &str) {
        let text = printable(text);
        if text.trim().is_empty() {
            return;
        }
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::Builtin(style.face.builtin()), size: Pt(style.size) },
            Op::SetFillColor { col: grey(style.grey) },
            Op::SetTextCursor { pos: Point::new(Mm(x), Mm(y)) },
            Op::ShowText { items: vec![TextItem::Text(text)] },
            Op::EndTextSection,
        ]);
    }

    /// Draws `text` so that it ends at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, style: Style, text: &str) {
        self.text(right - style.width(text), y, style, text);
    }

    /// A horizontal line from `x1` to `x2` at height `y`.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness_pt: f32, shade: f32) {
        let point = |x: f32| LinePoint { p: Point::new(Mm(x), Mm(y)), bezier: false };
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetOutlineColor { col: grey(shade) },
            Op::SetOutlineThickness { pt: Pt(thickness_pt) },
            Op::DrawLine { line: Line { points: vec![point(x1), point(x2)], is_closed: false } },
            Op::RestoreGraphicsState,
        ]);
    }

    /// A filled rectangle whose bottom-left corner is (`x`, `y`).
    pub fn band(&mut self, x: f32, y: f32, width: f32, height: f32, shade: f32) {
        let mut rectangle =
            Rect::from_xywh(Mm(x).into_pt(), Mm(y).into_pt(), Mm(width).into_pt(), Mm(height).into_pt());
        rectangle.mode = Some(PaintMode::Fill);
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetFillColor { col: grey(shade) },
            Op::DrawRectangle { rectangle },
            Op::RestoreGraphicsState,
        ]);
    }
}

fn grey(shade: f32) -> Color {
    Color::Greyscale(Greyscale { percent: shade, icc_profile: None })
}

/// Facts about the document itself, for its metadata.
#[derive(Debug)]
pub struct Metadata<'a> {
    pub title: &'a str,
    pub author: &'a str,
    pub created_at: OffsetDateTime,
    /// Identifies the document for good (`invoice:INV-2026-000042`): the PDF file identifier is
    /// derived from it, so rendering the same document again gives the same bytes.
    pub identity: &'a str,
}

/// The finished PDF file.
pub fn save(pages: Vec<Page>, metadata: &Metadata<'_>) -> Result<Vec<u8>, DocumentError> {
    let mut document = PdfDocument::new(&printable(metadata.title));
    let info = &mut document.metadata.info;
    info.author = printable(metadata.author);
    "orderflow-documents".clone_into(&mut info.creator);
    "printpdf".clone_into(&mut info.producer);
    // The document's own date, not the time of rendering, so that re-rendering changes nothing.
    if let Ok(date) = printpdf::DateTime::from_unix_timestamp(metadata.created_at.unix_timestamp()) {
        info.creation_date = date;
        info.modification_date = date;
        info.metadata_date = date;
    }
    metadata.identity.clone_into(&mut info.identifier);
    document
        .with_pages(pages.into_iter().map(|page| PdfPage::new(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), page.ops)).collect());

    // Saving through lopdf rather than `PdfDocument::save`: printpdf's save drops write errors
    // and stamps a random file identifier, where we want errors reported and a file that is a
    // pure function of the document.
    let mut warnings = Vec::new();
    let mut pdf = document.to_lopdf_document(&PdfSaveOptions::default(), &mut warnings);
    let identifier = Object::String(metadata.identity.as_bytes().to_vec(), StringFormat::Literal);
    pdf.trailer.set("ID", Object::Array(vec![identifier.clone(), identifier]));
    pdf.compress();
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes).map_err(|source| DocumentError::Pdf(Box::new(source)))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_the_builtin_fonts_lack_become_question_marks() {
        assert_eq!(printable("Müller € ß – “ok”"), "Müller € ß – “ok”");
        assert_eq!(printable("李雷 Łukasz 😀"), "?? ?ukasz ?");
        assert_eq!(printable("tab\there\r\nnext"), "tab here  next");
    }

    #[test]
    fn widths_follow_the_font_metrics() {
        let style = Style::regular(10.0);
        // Every digit is 556/1000 em wide: "1000" at 10 pt is 22.24 pt.
        let expected = 4.0 * 0.556 * 10.0 * MM_PER_PT;
        assert!((style.width("1000") - expected).abs() < 1e-4);
        assert!(Style::bold(10.0).width("Total") > style.width("Total"));
    }

    #[test]
    fn text_too_wide_for_its_column_is_cut_with_an_ellipsis() {
        let style = Style::regular(9.0);
        let long = "A very long product name that cannot possibly fit in a narrow column";
        let fitted = style.fit(long, 30.0);
        assert!(fitted.ends_with('\u{2026}'));
        assert!(style.width(&fitted) <= 30.0);
        assert_eq!(style.fit("Mug", 30.0), "Mug");
    }

    #[test]
    fn values_that_must_not_be_cut_are_shrunk_instead() {
        let style = Style::regular(9.0);
        let sku = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-01234";
        let shrunk = style.shrunk_to_fit(sku, 40.0);
        assert!(shrunk.size < 9.0);
        assert!(shrunk.width(sku) <= 40.0 + 1e-3);
    }
}
