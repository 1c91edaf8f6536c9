//! Invoice PDFs and customer emails.
