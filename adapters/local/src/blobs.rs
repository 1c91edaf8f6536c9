//! `BlobStore` on a folder: the local twin of an S3 bucket, with presigned-style links.
//!
//! A key such as `invoices/INV-2026-000001.pdf` is the file of that relative path under the
//! store's root (the data directory), so invoices and labels can be opened straight from the
//! folder. Keys are checked before they touch the file system: a key can never name a file
//! outside the root, nor a hidden file (where temporary files live), nor a file beside the
//! databases at the top of the root.
//!
//! A link is `{base_url}/_local/blobs/{key}?expires=<unix seconds>&signature=<hex>`, the
//! signature being HMAC-SHA256 over the key and the expiry under a secret only the server knows:
//! like an S3 presigned URL, it grants reading one object until it expires and cannot be altered
//! to reach another. The route that serves it calls [`FsBlobStore::verify`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use orderflow_domain::ports::{BlobError, BlobStore, Clock, SystemClock};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::atomic_file::{self, Access, Existing};

/// The longest key accepted, in bytes (S3 allows 1024; ours are far shorter).
const MAX_KEY_LEN: usize = 512;

/// Documents kept as files under a root folder.
#[derive(Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    /// Where the API serving `/_local/blobs/...` is reached, without a trailing `/`.
    base_url: String,
    /// Signs links; never leaves the process.
    secret: Arc<[u8]>,
    /// Dates links' expiry.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsBlobStore")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A key that cannot name a blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` is not a blob key: {reason}")]
pub struct InvalidKey {
    key: String,
    reason: &'static str,
}

/// Why a link does not grant access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The key in the link cannot name a blob.
    #[error("the link names no valid blob key")]
    InvalidKey,
    /// The signature was not made by this store for this key and expiry: forged or altered.
    #[error("the link's signature does not match")]
    BadSignature,
    /// The signature is genuine but the link's time is up.
    #[error("the link has expired")]
    Expired,
}

/// The secret was empty: links signed with it could be forged by anyone.
#[derive(Debug, thiserror::Error)]
#[error("the blob link secret must not be empty")]
struct EmptySecret;

/// The shortest secret accepted, in bytes: HMAC-SHA256 wants at least its output's size.
const MIN_SECRET_LEN: usize = 32;
/// The size of a secret this store makes.
const NEW_SECRET_LEN: usize = 64;
/// The largest secret file read: anything bigger is not one of ours.
const MAX_SECRET_LEN: usize = 4096;

/// Why the link secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read, created or restricted.
    #[error("cannot use the link secret {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is there but is not a secret: too short, too long, or filled with one byte
    /// (what a write torn by a crash can leave). Links signed with it could be forged.
    #[error("{path} is damaged ({why}); delete it to make a new one (links already sent stop working)")]
    Damaged { path: PathBuf, why: String },
}

/// Reads the secret that signs links from `dir/name`, or makes one there: random bytes written
/// atomically (a crash leaves the old state or the whole file, never part of it), readable by
/// the owner only. An existing file readable by others is restricted to its owner.
pub fn load_or_create_secret(dir: &Path, name: &str) -> Result<Vec<u8>, SecretError> {
    let path = dir.join(name);
    let io = |source| SecretError::Io { path: path.clone(), source };
    match std::fs::read(&path) {
        Ok(secret) => {
            check_secret(&secret).map_err(|why| SecretError::Damaged { path: path.clone(), why })?;
            restrict_to_owner(&path).map_err(io)?;
            return Ok(secret);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io(error)),
    }
    let secret: Vec<u8> =
        std::iter::repeat_with(|| uuid::Uuid::new_v4().into_bytes()).flatten().take(NEW_SECRET_LEN).collect();
    // `Keep`: two processes starting at once agree on the first secret written.
    atomic_file::write(dir, Path::new(name), &secret, Existing::Keep, Access::OwnerOnly).map_err(io)?;
    let kept = std::fs::read(&path).map_err(io)?;
    check_secret(&kept).map_err(|why| SecretError::Damaged { path: path.clone(), why })?;
    Ok(kept)
}

fn check_secret(secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!("{} bytes, fewer than {MIN_SECRET_LEN}", secret.len()));
    }
    if secret.len() > MAX_SECRET_LEN {
        return Err(format!("{} bytes, more than {MAX_SECRET_LEN}", secret.len()));
    }
    if secret.iter().all(|b| *b == secret[0]) {
        return Err(format!("every byte is {:#04x}", secret[0]));
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the link secret was readable by others; restricting it to its owner");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Checks that `key` is a relative path of at least two segments (`folder/name`), each made of
/// ASCII letters, digits, `.`, `_` and `-`, not starting with `.`.
pub fn validate_key(key: &str) -> Result<(), InvalidKey> {
    let invalid = |reason| Err(InvalidKey { key: key.to_owned(), reason });
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return invalid("it must be 1 to 512 bytes long");
    }
    let mut segments = 0;
    for segment in key.split('/') {
        segments += 1;
        if segment.is_empty() {
            return invalid("it has an empty segment (a leading, trailing or double `/`)");
        }
        if segment.starts_with('.') {
            return invalid("a segment starts with `.` (`..` or a hidden file)");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return invalid("only ASCII letters, digits, `.`, `_`, `-` and `/` are allowed");
        }
    }
    if segments < 2 {
        return invalid("it must name a folder and a file, like `invoices/INV-2026-000001.pdf`");
    }
    Ok(())
}

/// The media type a blob is served with, from its key's extension: the store keeps files, not
/// metadata, like any static file server.
pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("pdf") => "application/pdf",
        Some("eml") => "message/rfc822",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn blob_error(error: impl std::error::Error + Send + Sync + 'static) -> BlobError {
    BlobError(Box::new(error))
}

impl FsBlobStore {
    /// A store over `root` (created if missing) whose links point at `base_url`
    /// (`http://127.0.0.1:3000`) and are signed with `secret`.
    pub fn open(root: impl Into<PathBuf>, base_url: &str, secret: impl Into<Vec<u8>>) -> Result<Self, BlobError> {
        let secret: Vec<u8> = secret.into();
        if secret.is_empty() {
            return Err(blob_error(EmptySecret));
        }
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(blob_error)?;
        Ok(Self {
            root,
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret: secret.into(),
            clock: Arc::new(SystemClock::new()),
        })
    }

    /// Uses `clock` to date links' expiry.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The folder the blobs are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding `key`.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, InvalidKey> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn mac(&self, key: &str, expires: i64) -> Hmac<Sha256> {
        // The error case is for MACs with fixed-size keys; HMAC takes a key of any length.
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC accepts keys of every length");
        // A key never contains a newline, so `key \n expires` is unambiguous.
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Checks a link's parts as the route serving `/_local/blobs/{key}` received them: the
    /// signature must be this store's for `key` and `expires` (compared in constant time), and
    /// `now` must be before `expires`.
    pub fn verify(&self, key: &str, expires: i64, signature: &str, now: OffsetDateTime) -> Result<(), LinkError> {
        validate_key(key).map_err(|_| LinkError::InvalidKey)?;
        let signature = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.mac(key, expires).verify_slice(&signature).map_err(|_| LinkError::BadSignature)?;
        if now.unix_timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    #[tracing::instrument(skip_all, fields(key, bytes = bytes.len()))]
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        validate_key(key).map_err(blob_error)?;
        if content_type_of(key) != content_type {
            tracing::debug!(
                key,
                content_type,
                served_as = content_type_of(key),
                "the key's extension decides the type"
            );
        }
        let (root, relative) = (self.root.clone(), PathBuf::from(key));
        tokio::task::spawn_blocking(move || {
            atomic_file::write(&root, &relative, &bytes, Existing::Replace, Access::Default)
        })
        .await
        .map_err(blob_error)?
        .map_err(blob_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path_of(key).map_err(blob_error)?;
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(blob_error(error)),
        })
        .await
        .map_err(blob_error)?
    }

    /// `{base_url}/_local/blobs/{key}?expires=…&signature=…`, valid for `ttl` (rounded up to a
    /// whole second). Valid keys need no percent-encoding.
    async fn link(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        validate_key(key).map_err(blob_error)?;
        let ttl = i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)).unwrap_or(i64::MAX);
        let expires = self.clock.now().unix_timestamp().saturating_add(ttl);
        let signature = hex::encode(self.mac(key, expires).finalize().into_bytes());
        Ok(format!("{}/_local/blobs/{key}?expires={expires}&signature={signature}", self.base_url))
    }
}

#[cfg(test)]
mod tests {
    use orderflow_domain::ports::VirtualClock;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn store() -> (tempfile::TempDir, FsBlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path(), "http://127.0.0.1:3000/", b"test secret".to_vec())
            .unwrap()
            .with_clock(Arc::new(VirtualClock::manual(NOW)));
        (dir, store)
    }

    /// The key, expiry and signature of a link, as the route would take them from its URL.
    fn parts(link: &str) -> (String, i64, String) {
        let rest = link.strip_prefix("http://127.0.0.1:3000/_local/blobs/").unwrap();
        let (key, query) = rest.split_once('?').unwrap();
        let (expires, signature) = query.split_once('&').unwrap();
        let expires = expires.strip_prefix("expires=").unwrap().parse().unwrap();
        (key.to_owned(), expires, signature.strip_prefix("signature=").unwrap().to_owned())
    }

    #[tokio::test]
    async fn a_blob_is_written_to_the_file_its_key_names_and_read_back() {
        let (dir, store) = store();
        store.put("invoices/INV-2026-000001.pdf", b"%PDF-1.7 one".to_vec(), "application/pdf").await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("invoices/INV-2026-000001.pdf")).unwrap(), b"%PDF-1.7 one");
        assert_eq!(store.get("invoices/INV-2026-000001.pdf").await.unwrap().unwrap(), b"%PDF-1.7 one");
    }

    #[tokio::test]
    async fn putting_again_replaces_the_blob_whole_and_leaves_no_temporary_file() {
        let (dir, store) = store();
        store.put("labels/ord_1.pdf", b"first".to_vec(), "application/pdf").await.unwrap();
        store.put("labels/ord_1.pdf", b"second".to_vec(), "application/pdf").await.unwrap();
        assert_eq!(store.get("labels/ord_1.pdf").await.unwrap().unwrap(), b"second");
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("labels")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["ord_1.pdf"]);
    }

    #[tokio::test]
    async fn a_missing_blob_is_none() {
        let (_dir, store) = store();
        assert!(store.get("credit-notes/CN-1.pdf").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn keys_that_could_escape_the_root_or_hide_are_refused() {
        let (_dir, store) = store();
        for key in [
            "",
            "../etc/passwd",
            "invoices/../../x.pdf",
            "/etc/passwd",
            "invoices//x.pdf",
            "invoices/",
            "invoices/.hidden",
            "invoices/a b.pdf",
            "invoices\\x.pdf",
            "invoices/ü.pdf",
            "orders.db",
        ] {
            assert!(validate_key(key).is_err(), "{key:?} was accepted");
            assert!(store.put(key, b"x".to_vec(), "text/plain").await.is_err(), "{key:?} was written");
            assert!(store.get(key).await.is_err(), "{key:?} was read");
            assert!(store.link(key, Duration::from_mins(1)).await.is_err(), "{key:?} was linked");
        }
        assert!(validate_key("credit-notes/CN-2026-000001.pdf").is_ok());
    }

    #[tokio::test]
    async fn a_link_verifies_until_it_expires() {
        let (_dir, store) = store();
        let link = store.link("invoices/INV-2026-000001.pdf", Duration::from_mins(15)).await.unwrap();
        let (key, expires, signature) = parts(&link);
        assert_eq!(key, "invoices/INV-2026-000001.pdf");
        assert_eq!(expires, NOW.unix_timestamp() + 900);

        assert_eq!(store.verify(&key, expires, &signature, NOW), Ok(()));
        let last_second = NOW + time::Duration::seconds(899);
        assert_eq!(store.verify(&key, expires, &signature, last_second), Ok(()));
        let too_late = NOW + time::Duration::seconds(900);
        assert_eq!(store.verify(&key, expires, &signature, too_late), Err(LinkError::Expired));
    }

    #[tokio::test]
    async fn a_tampered_link_is_refused() {
        let (dir, store) = store();
        let link = store.link("invoices/INV-2026-000001.pdf", Duration::from_mins(1)).await.unwrap();
        let (key, expires, signature) = parts(&link);

        let other_key = "invoices/INV-2026-000002.pdf";
        assert_eq!(store.verify(other_key, expires, &signature, NOW), Err(LinkError::BadSignature));
        assert_eq!(store.verify(&key, expires + 3600, &signature, NOW), Err(LinkError::BadSignature));
        let mut flipped = signature.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(store.verify(&key, expires, &flipped, NOW), Err(LinkError::BadSignature));
        assert_eq!(store.verify(&key, expires, "not hex", NOW), Err(LinkError::BadSignature));
        assert_eq!(store.verify(&key, expires, "", NOW), Err(LinkError::BadSignature));
        assert_eq!(store.verify("../secret", expires, &signature, NOW), Err(LinkError::InvalidKey));

        let other_secret = FsBlobStore::open(dir.path(), "http://127.0.0.1:3000", b"another".to_vec()).unwrap();
        assert_eq!(other_secret.verify(&key, expires, &signature, NOW), Err(LinkError::BadSignature));
    }

    #[test]
    fn an_empty_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FsBlobStore::open(dir.path(), "http://localhost", Vec::new()).is_err());
    }

    #[test]
    fn the_content_type_follows_the_extension() {
        assert_eq!(content_type_of("invoices/INV-2026-000001.pdf"), "application/pdf");
        assert_eq!(content_type_of("outbox/x.EML"), "message/rfc822");
        assert_eq!(content_type_of("misc/blob"), "application/octet-stream");
    }
}
