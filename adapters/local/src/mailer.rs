//! `Mailer` as an outbox folder of `.eml` files: the local twin of Amazon SES.
//!
//! Each email is written whole to `<outbox>/<key>.eml`, where any mail client opens it. The
//! file is moved into place from a synced temporary file by a rename that refuses to replace an
//! existing name: so a key is sent at most once, even when two sends race or the process
//! restarts between a send and its acknowledgement, and a send that returned `Ok` is on disk.
//!
//! Keys become file names reversibly: letters, digits, `_`, `-` and `.` stay (a leading `.` is
//! escaped), `/` becomes `+`, and every other byte is `%XX`. So `ord_01J…/shipped` is the file
//! `ord_01J…+shipped.eml`, and two keys never share a file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use mail_parser::{HeaderName, HeaderValue, MessageParser};
use orderflow_domain::ports::{MailError, Mailer, OutgoingEmail};

use crate::atomic_file::{self, Access, Existing, Written};

const EXTENSION: &str = ".eml";

/// Longest file name made from a key, leaving room under the usual 255-byte limit for the
/// extension and the temporary file's decorations.
const MAX_FILE_STEM: usize = 200;

/// Emails written as `.eml` files to a folder (`DATA_DIR/outbox`).
#[derive(Debug, Clone)]
pub struct EmlOutbox {
    dir: PathBuf,
}

/// A key that cannot be made into a file name.
#[derive(Debug, thiserror::Error)]
#[error("the email key `{key}` is {reason}")]
struct BadKey {
    key: String,
    reason: &'static str,
}

/// A message with no bytes: nothing a mail server would accept.
#[derive(Debug, thiserror::Error)]
#[error("the email `{0}` has an empty message")]
struct EmptyMessage(String);

/// An email found in the outbox, with the headers tests and tools look at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentEmail {
    /// The key it was sent under.
    pub key: String,
    /// Its file.
    pub path: PathBuf,
    /// The `Subject` header, decoded.
    pub subject: Option<String>,
    /// The `X-Order-Id` header: which order the email is about.
    pub order_id: Option<String>,
    /// The first address of the `To` header.
    pub to: Option<String>,
}

/// Where an email stands in the newest-first listing of [`EmlOutbox::recent`]: when its file
/// was written, then its key. Shown as `<nanoseconds since 1970>_<key>`, an opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmailPosition {
    written_nanos: u128,
    key: String,
}

impl std::fmt::Display for EmailPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.written_nanos, self.key)
    }
}

impl std::str::FromStr for EmailPosition {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (nanos, key) = text.split_once('_').ok_or(())?;
        Ok(Self { written_nanos: nanos.parse().map_err(|_| ())?, key: key.to_owned() })
    }
}

/// `key` as a file stem: reversible, and safe in any file system.
fn file_stem(key: &str) -> Result<String, BadKey> {
    if key.is_empty() {
        return Err(BadKey { key: key.to_owned(), reason: "empty" });
    }
    let mut stem = String::with_capacity(key.len());
    for (i, byte) in key.bytes().enumerate() {
        match byte {
            b'.' if i == 0 => stem.push_str("%2E"),
            b'/' => stem.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') => stem.push(char::from(b)),
            b => {
                let _ = write!(stem, "%{b:02X}");
            }
        }
    }
    if stem.len() > MAX_FILE_STEM {
        return Err(BadKey { key: key.to_owned(), reason: "too long to be a file name" });
    }
    Ok(stem)
}

/// The key a file stem was made from, if it was made by [`file_stem`].
fn key_of(stem: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(stem.len());
    let mut rest = stem.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => bytes.push(b'/'),
            b'%' => {
                let hex = tail.get(..2)?;
                bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                rest = &tail[2..];
                continue;
            }
            b => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8(bytes).ok()
}

/// Reads the headers of a stored email.
fn describe(key: String, path: PathBuf, message: &[u8]) -> SentEmail {
    let parser = MessageParser::new().with_address_headers().header_text(HeaderName::Subject).default_header_text();
    let parsed = parser.parse_headers(message);
    let text = |name: &'static str| {
        parsed.as_ref().and_then(|m| m.header(name)).and_then(HeaderValue::as_text).map(|t| t.trim().to_owned())
    };
    SentEmail {
        key,
        path,
        subject: parsed.as_ref().and_then(|m| m.subject()).map(str::to_owned),
        order_id: text("X-Order-Id"),
        to: parsed.as_ref().and_then(|m| m.to()).and_then(|to| to.first()).and_then(|a| a.address()).map(str::to_owned),
    }
}

impl EmlOutbox {
    /// An outbox in `dir`, created if missing. Temporary files left by a crash mid-write are
    /// removed: their emails were never acknowledged, so their senders will send them again.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(atomic_file::is_temporary) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Self { dir })
    }

    /// The folder the emails are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the email sent under `key` is (or would be) in.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        file_stem(key).ok().map(|stem| self.dir.join(stem + EXTENSION))
    }

    /// The whole message sent under `key`, if one was.
    pub async fn message(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path_of(key) else { return Ok(None) };
        tokio::task::spawn_blocking(move || match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        })
        .await?
    }

    /// Up to `limit` emails, newest first (by file time, then key), each with its position;
    /// `before` (a position from an earlier page) continues after that email. Only the files
    /// of the page are read, and only `limit` names are held while the folder is scanned.
    pub async fn recent(
        &self,
        limit: usize,
        before: Option<EmailPosition>,
    ) -> std::io::Result<Vec<(EmailPosition, SentEmail)>> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            // The newest `limit` seen so far; the oldest of them on top, to be dropped first. A
            // huge `limit` must not reserve memory for emails the folder does not hold.
            let mut newest = BinaryHeap::with_capacity(limit.saturating_add(1).min(MAX_PREALLOCATED));
            for found in emails_in(&dir)? {
                let (position, path) = found?;
                if before.as_ref().is_some_and(|before| position >= *before) {
                    continue;
                }
                newest.push(Reverse((position, path)));
                if newest.len() > limit {
                    newest.pop();
                }
            }
            // Ascending `Reverse` order is newest first.
            newest.into_sorted_vec().into_iter().map(|Reverse((position, path))| read(position, path)).collect()
        })
        .await?
    }

    /// Every email in the outbox, oldest first as far as the file system's clock can tell
    /// (modification times are coarse: emails written within a few milliseconds may be listed by
    /// key instead).
    pub async fn sent(&self) -> std::io::Result<Vec<SentEmail>> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut all = emails_in(&dir)?.collect::<std::io::Result<Vec<_>>>()?;
            all.sort_unstable();
            all.into_iter().map(|(position, path)| read(position, path).map(|(_, email)| email)).collect()
        })
        .await?
    }
}

/// The most room [`EmlOutbox::recent`] reserves up front for a page; a longer page grows as it
/// fills.
const MAX_PREALLOCATED: usize = 1024;

/// The emails in the outbox folder, in the order the folder lists them: each one's position and
/// file. Files that are not emails (temporary files, anything else put there) are skipped.
fn emails_in(dir: &Path) -> std::io::Result<impl Iterator<Item = std::io::Result<(EmailPosition, PathBuf)>>> {
    Ok(std::fs::read_dir(dir)?.filter_map(|entry| {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => return Some(Err(error)),
        };
        let key = entry.file_name().to_str().and_then(|name| name.strip_suffix(EXTENSION)).and_then(key_of)?;
        let written = entry.metadata().and_then(|metadata| metadata.modified());
        Some(written.map(|written| {
            let written_nanos = written.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
            (EmailPosition { written_nanos, key }, entry.path())
        }))
    }))
}

/// An email found by [`emails_in`], read and described.
fn read(position: EmailPosition, path: PathBuf) -> std::io::Result<(EmailPosition, SentEmail)> {
    let message = std::fs::read(&path)?;
    let email = describe(position.key.clone(), path, &message);
    Ok((position, email))
}

#[async_trait]
impl Mailer for EmlOutbox {
    #[tracing::instrument(skip_all, fields(key = %email.key))]
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let stem = file_stem(&email.key).map_err(|e| MailError::Rejected(Box::new(e)))?;
        if email.message.is_empty() {
            return Err(MailError::Rejected(Box::new(EmptyMessage(email.key.clone()))));
        }
        let (dir, message) = (self.dir.clone(), email.message.clone());
        let file = PathBuf::from(stem + EXTENSION);
        let written = tokio::task::spawn_blocking(move || {
            atomic_file::write(&dir, &file, &message, Existing::Keep, Access::Default)
        })
        .await
        .map_err(|e| MailError::Transient(Box::new(e)))?
        .map_err(|e| MailError::Transient(Box::new(e)))?;
        if written == Written::AlreadyThere {
            tracing::debug!("already sent; not sending again");
        } else {
            tracing::info!("email written to the outbox");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use orderflow_domain::customer::EmailAddress;

    use super::*;

    fn email(key: &str, subject: &str) -> OutgoingEmail {
        let message = format!(
            "From: Orderflow <orders@example.com>\r\nTo: Ada Lovelace <ada@example.com>\r\n\
             Subject: {subject}\r\nX-Order-Id: ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nHello Ada.\r\n"
        );
        OutgoingEmail {
            key: key.to_owned(),
            to: EmailAddress::parse("ada@example.com").unwrap(),
            message: message.into_bytes(),
        }
    }

    #[tokio::test]
    async fn an_email_is_written_as_an_eml_file_named_after_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::open(dir.path().join("outbox")).unwrap();
        let sent = email("ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/shipped", "Your order has shipped");
        outbox.send(&sent).await.unwrap();

        let file = dir.path().join("outbox/ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB+shipped.eml");
        assert_eq!(std::fs::read(&file).unwrap(), sent.message);
        let listed = outbox.sent().await.unwrap();
        assert_eq!(
            listed,
            [SentEmail {
                key: "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/shipped".to_owned(),
                path: file,
                subject: Some("Your order has shipped".to_owned()),
                order_id: Some("ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB".to_owned()),
                to: Some("ada@example.com".to_owned()),
            }]
        );
    }

    #[tokio::test]
    async fn a_key_is_sent_once_even_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = "ord_01JD4S5Z8X3Q9V7W2N6M1K0TRB/paid";
        {
            let outbox = EmlOutbox::open(dir.path()).unwrap();
            outbox.send(&email(key, "Payment received")).await.unwrap();
            outbox.send(&email(key, "Payment received (again)")).await.unwrap();
        }
        let reopened = EmlOutbox::open(dir.path()).unwrap();
        reopened.send(&email(key, "Payment received (after a restart)")).await.unwrap();

        let listed = reopened.sent().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].subject.as_deref(), Some("Payment received"));
        assert_eq!(reopened.message(key).await.unwrap().unwrap(), email(key, "Payment received").message);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_of_one_key_write_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::open(dir.path()).unwrap();
        let sends: Vec<_> = (0..20)
            .map(|i| {
                let outbox = outbox.clone();
                tokio::spawn(async move { outbox.send(&email("ord_x/received", &format!("attempt {i}"))).await })
            })
            .collect();
        for send in sends {
            send.await.unwrap().unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn every_email_sent_is_listed_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::open(dir.path()).unwrap();
        for stage in ["received", "invoiced", "paid", "shipped"] {
            outbox.send(&email(&format!("ord_x/{stage}"), stage)).await.unwrap();
        }
        let mut listed: Vec<_> =
            outbox.sent().await.unwrap().into_iter().map(|e| (e.key, e.subject.unwrap_or_default())).collect();
        listed.sort();
        let expected =
            [("invoiced"), ("paid"), ("received"), ("shipped")].map(|s| (format!("ord_x/{s}"), s.to_owned()));
        assert_eq!(listed, expected);
    }

    #[tokio::test]
    async fn recent_pages_newest_first_and_sent_lists_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::open(dir.path()).unwrap();
        let start = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_000_000);
        for (offset, stage) in (0..).zip(["received", "invoiced", "paid"]) {
            let key = format!("ord_x/{stage}");
            outbox.send(&email(&key, stage)).await.unwrap();
            // File times a second apart, so the order does not rest on how fast the sends ran.
            let file = std::fs::File::options().write(true).open(outbox.path_of(&key).unwrap()).unwrap();
            file.set_modified(start + std::time::Duration::from_secs(offset)).unwrap();
        }
        let keys = |page: &[(EmailPosition, SentEmail)]| page.iter().map(|(_, e)| e.key.clone()).collect::<Vec<_>>();

        let first = outbox.recent(2, None).await.unwrap();
        assert_eq!(keys(&first), ["ord_x/paid", "ord_x/invoiced"]);
        let second = outbox.recent(2, Some(first[1].0.clone())).await.unwrap();
        assert_eq!(keys(&second), ["ord_x/received"]);
        let everything = outbox.recent(usize::MAX, None).await.unwrap();
        assert_eq!(keys(&everything), ["ord_x/paid", "ord_x/invoiced", "ord_x/received"]);
        assert!(outbox.recent(0, None).await.unwrap().is_empty());

        let sent: Vec<_> = outbox.sent().await.unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(sent, ["ord_x/received", "ord_x/invoiced", "ord_x/paid"]);
    }

    #[test]
    fn file_names_are_reversible_and_never_shared() {
        for key in ["ord_1/shipped", "a+b/c", "a%2Fb", ".hidden", "../escape", "ünïcode/ß", "x y\r\n"] {
            let stem = file_stem(key).unwrap();
            assert!(stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.+%".contains(&b)), "{stem}");
            assert!(!stem.starts_with('.'));
            assert_eq!(key_of(&stem).as_deref(), Some(key));
        }
        assert_ne!(file_stem("a/b").unwrap(), file_stem("a+b").unwrap());
        assert!(file_stem("").is_err());
        assert!(file_stem(&"k".repeat(300)).is_err());
    }

    #[tokio::test]
    async fn a_key_that_cannot_be_a_file_name_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = EmlOutbox::open(dir.path()).unwrap();
        let result = outbox.send(&email(&"k".repeat(300), "too long")).await;
        assert!(matches!(result, Err(MailError::Rejected(_))));
    }
}
