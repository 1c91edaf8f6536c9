//! The two renderings of a message's content: plain text, and HTML for mail clients that show
//! it. Both open with a greeting and close with the seller's footer.

use std::fmt::Write as _;

use maud::{DOCTYPE, Markup, html};
use orderflow_domain::order::Order;

use super::content::{Block, Content};
use crate::seller::Seller;

/// Where plain text wraps: readable in any terminal or mail client.
const WIDTH: usize = 72;

/// The plain-text rendering.
pub fn text(content: &Content, order: &Order, seller: &Seller) -> String {
    let mut out = format!("Hello {},\n\n", order.customer.name);
    for block in &content.blocks {
        match block {
            Block::Paragraph(paragraph) => out.push_str(&wrap(paragraph, WIDTH)),
            Block::Facts(facts) => {
                let width = facts.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) + 1;
                for (label, value) in facts {
                    let _ = writeln!(out, "{:<width$} {value}", format!("{label}:"));
                }
            }
            Block::Summary { lines, totals } => {
                for line in lines {
                    let item = format!("{} x {} ({})", line.quantity, line.name, line.sku);
                    out.push_str(&two_columns(&item, &line.amount));
                }
                let _ = writeln!(out, "{}", "-".repeat(WIDTH));
                for (label, value) in totals {
                    out.push_str(&two_columns(label, value));
                }
            }
            Block::Lines { heading, lines } => {
                let _ = writeln!(out, "{heading}:");
                for line in lines {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Block::Bullets(items) => {
                for item in items {
                    let wrapped = wrap(item, WIDTH - 2);
                    for (index, line) in wrapped.lines().enumerate() {
                        let _ = writeln!(out, "{}{line}", if index == 0 { "- " } else { "  " });
                    }
                }
            }
            Block::Action { label, url } => {
                let _ = writeln!(out, "{label}: {url}");
            }
        }
        out.push('\n');
    }
    out.push_str("-- \n");
    for line in footer_lines(seller, order) {
        out.push_str(&wrap(&line, WIDTH));
    }
    out
}

/// `left` and `right` on one line, `right` flush with the text width; on two lines if they
/// do not fit together.
fn two_columns(left: &str, right: &str) -> String {
    let used = left.chars().count() + 1 + right.chars().count();
    if used <= WIDTH {
        format!("{left}{}{right}\n", " ".repeat(WIDTH - used + 1))
    } else {
        format!("{left}\n{right:>WIDTH$}\n")
    }
}

/// `text` wrapped at spaces to lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line = 0;
    for word in text.split_whitespace() {
        let length = word.chars().count();
        if line > 0 && line + 1 + length > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += length;
    }
    out.push('\n');
    out
}

fn footer_lines(seller: &Seller, order: &Order) -> Vec<String> {
    let mut lines = vec![seller.name.clone()];
    if !seller.address.is_empty() {
        lines.push(seller.address.join(", "));
    }
    lines.push(format!("Questions? Reply to this email or write to {}.", seller.email));
    lines.push(format!("You receive this email because you placed order {} with us.", order.id));
    lines
}

// Inline styles: most mail clients ignore `<style>` elements.
const BODY_STYLE: &str = "margin:0;padding:24px 12px;background:#f4f4f5;color:#18181b;\
                          font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5";
const CARD_STYLE: &str = "max-width:600px;margin:0 auto;background:#ffffff;padding:28px;border-radius:6px";
const MUTED: &str = "color:#71717a";
const CELL: &str = "padding:6px 0;vertical-align:top";
const AMOUNT_CELL: &str = "padding:6px 0 6px 16px;text-align:right;white-space:nowrap;vertical-align:top";
const BUTTON_STYLE: &str = "display:inline-block;background:#18181b;color:#ffffff;text-decoration:none;\
                            padding:10px 18px;border-radius:4px";

/// The HTML rendering. maud escapes every value it is given (`&`, `<`, `>`, `"`; attributes are
/// always double-quoted), so text from a customer can never become markup.
pub fn html(content: &Content, order: &Order, seller: &Seller) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (content.subject) }
            }
            body style=(BODY_STYLE) {
                div style=(CARD_STYLE) {
                    p style="margin:0 0 20px;font-size:18px;font-weight:bold" { (seller.name) }
                    p { "Hello " (order.customer.name) "," }
                    @for block in &content.blocks {
                        (html_block(block))
                    }
                    hr style="border:none;border-top:1px solid #e4e4e7;margin:28px 0 12px";
                    p style={ (MUTED) ";font-size:12px" } {
                        @for (index, line) in footer_lines(seller, order).iter().enumerate() {
                            @if index > 0 { br; }
                            (line)
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn html_block(block: &Block) -> Markup {
    html! {
        @match block {
            Block::Paragraph(paragraph) => p { (paragraph) },
            Block::Facts(facts) => table role="presentation" style="border-collapse:collapse;margin:12px 0" {
                @for (label, value) in facts {
                    tr {
                        td style={ (CELL) ";padding-right:16px;" (MUTED) } { (label) }
                        td style=(CELL) { strong { (value) } }
                    }
                }
            },
            Block::Summary { lines, totals } => {
                table role="presentation" style="width:100%;border-collapse:collapse;margin:12px 0" {
                    @for line in lines {
                        tr style="border-bottom:1px solid #f4f4f5" {
                            td style=(CELL) {
                                (line.quantity) " × " (line.name) br;
                                span style={ (MUTED) ";font-size:12px" } { (line.sku) }
                            }
                            td style=(AMOUNT_CELL) { (line.amount) }
                        }
                    }
                    @if let Some(((total_label, total), figures)) = totals.split_last() {
                        @for (label, value) in figures {
                            tr {
                                td style={ (CELL) ";" (MUTED) } { (label) }
                                td style=(AMOUNT_CELL) { (value) }
                            }
                        }
                        tr style="border-top:2px solid #18181b" {
                            td style=(CELL) { strong { (total_label) } }
                            td style=(AMOUNT_CELL) { strong { (total) } }
                        }
                    }
                }
            },
            Block::Lines { heading, lines } => p {
                span style=(MUTED) { (heading) }
                @for line in lines { br; (line) }
            },
            Block::Bullets(items) => ul {
                @for item in items { li { (item) } }
            },
            Block::Action { label, url } => {
                @if is_web_link(url) {
                    p style="margin:20px 0" {
                        a href=(url) style=(BUTTON_STYLE) { (label) }
                    }
                } @else {
                    // Not a web address (a local file path, say): shown, never made clickable.
                    p { (label) ": " (url) }
                }
            },
        }
    }
}

/// Only `http` and `https` links become clickable, so a stray `javascript:` URL cannot run.
fn is_web_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_are_clickable() {
        assert!(is_web_link("https://example.com/track?id=1"));
        assert!(is_web_link("HTTP://127.0.0.1:3000/invoices/1"));
        assert!(!is_web_link("javascript:alert(1)"));
        assert!(!is_web_link("file:///var/invoices/1.pdf"));
    }

    #[test]
    fn text_wraps_at_spaces_within_the_width() {
        let wrapped = wrap(&"word ".repeat(40), 20);
        assert!(wrapped.lines().all(|line| line.chars().count() <= 20));
        assert_eq!(wrapped.split_whitespace().count(), 40);
    }

    #[test]
    fn two_columns_put_the_right_value_flush_right() {
        let line = two_columns("Total", "USD 36.02");
        assert_eq!(line.trim_end_matches('\n').chars().count(), WIDTH);
        assert!(line.trim_end().ends_with("USD 36.02"));
        let long = two_columns(&"x".repeat(70), "USD 36.02");
        assert_eq!(long.lines().count(), 2);
    }
}
