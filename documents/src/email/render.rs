//! The two renderings of a message's content: plain text, and HTML for mail clients that show
//! it. Both open with a greeting and close with the seller's footer.

use std::fmt::Write as _;

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
                out.push_str(&format!("{}\n", "-".repeat(WIDTH)));
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

/// The HTML rendering. Every string from the content goes through [`escape`].
pub fn html(content: &Content, order: &Order, seller: &Seller) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n</head>\n\
         <body style=\"{BODY_STYLE}\">\n<div style=\"{CARD_STYLE}\">\n\
         <p style=\"margin:0 0 20px;font-size:18px;font-weight:bold\">{}</p>\n<p>Hello {},</p>\n",
        escape(&content.subject),
        escape(&seller.name),
        escape(order.customer.name.as_ref()),
    );
    for block in &content.blocks {
        html_block(&mut out, block);
    }
    let _ = write!(
        out,
        "<hr style=\"border:none;border-top:1px solid #e4e4e7;margin:28px 0 12px\">\n<p style=\"{MUTED};font-size:12px\">"
    );
    let footer: Vec<String> = footer_lines(seller, order).iter().map(|line| escape(line)).collect();
    out.push_str(&footer.join("<br>\n"));
    out.push_str("</p>\n</div>\n</body>\n</html>\n");
    out
}

fn html_block(out: &mut String, block: &Block) {
    match block {
        Block::Paragraph(paragraph) => {
            let _ = writeln!(out, "<p>{}</p>", escape(paragraph));
        }
        Block::Facts(facts) => {
            out.push_str("<table role=\"presentation\" style=\"border-collapse:collapse;margin:12px 0\">\n");
            for (label, value) in facts {
                let _ = writeln!(
                    out,
                    "<tr><td style=\"{CELL};padding-right:16px;{MUTED}\">{}</td><td style=\"{CELL}\"><strong>{}</strong></td></tr>",
                    escape(label),
                    escape(value)
                );
            }
            out.push_str("</table>\n");
        }
        Block::Summary { lines, totals } => {
            out.push_str("<table role=\"presentation\" style=\"width:100%;border-collapse:collapse;margin:12px 0\">\n");
            for line in lines {
                let _ = writeln!(
                    out,
                    "<tr style=\"border-bottom:1px solid #f4f4f5\"><td style=\"{CELL}\">{} &times; {}<br><span style=\"{MUTED};font-size:12px\">{}</span></td><td style=\"{AMOUNT_CELL}\">{}</td></tr>",
                    line.quantity,
                    escape(&line.name),
                    escape(&line.sku),
                    escape(&line.amount)
                );
            }
            if let Some(((total_label, total), figures)) = totals.split_last() {
                for (label, value) in figures {
                    let _ = writeln!(
                        out,
                        "<tr><td style=\"{CELL};{MUTED}\">{}</td><td style=\"{AMOUNT_CELL}\">{}</td></tr>",
                        escape(label),
                        escape(value)
                    );
                }
                let _ = writeln!(
                    out,
                    "<tr style=\"border-top:2px solid #18181b\"><td style=\"{CELL}\"><strong>{}</strong></td><td style=\"{AMOUNT_CELL}\"><strong>{}</strong></td></tr>",
                    escape(total_label),
                    escape(total)
                );
            }
            out.push_str("</table>\n");
        }
        Block::Lines { heading, lines } => {
            let lines: Vec<String> = lines.iter().map(|line| escape(line)).collect();
            let _ = writeln!(
                out,
                "<p><span style=\"{MUTED}\">{}</span><br>\n{}</p>",
                escape(heading),
                lines.join("<br>\n")
            );
        }
        Block::Bullets(items) => {
            out.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", escape(item));
            }
            out.push_str("</ul>\n");
        }
        Block::Action { label, url } => {
            if is_web_link(url) {
                let _ = writeln!(
                    out,
                    "<p style=\"margin:20px 0\"><a href=\"{}\" style=\"display:inline-block;background:#18181b;color:#ffffff;\
                     text-decoration:none;padding:10px 18px;border-radius:4px\">{}</a></p>",
                    escape(url),
                    escape(label)
                );
            } else {
                // Not a web address (a local file path, say): shown, never made clickable.
                let _ = writeln!(out, "<p>{}: {}</p>", escape(label), escape(url));
            }
        }
    }
}

/// Only `http` and `https` links become clickable, so a stray `javascript:` URL cannot run.
fn is_web_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// `text` with the five characters that mean something in HTML replaced by references, safe in
/// element content and in quoted attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape("<script>alert('x & \"y\"')</script>"),
            "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;"
        );
    }

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
