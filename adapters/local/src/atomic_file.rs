//! Files written whole or not at all, and durably: the blob store's documents, the mail outbox's
//! messages, the link secret.
//!
//! The bytes go to a hidden temporary file beside the target (tempfile's `NamedTempFile`), which
//! is fsync'd, then moved into place with one atomic directory operation (`persist`, or
//! `persist_noclobber` when an existing file must be kept), and the directory is fsync'd so the
//! move itself survives a power loss. Directories created on the way are fsync'd into their
//! parents for the same reason. A temporary file that is not persisted is removed when it is
//! dropped; one left by a process that died mid-write is recognised by [`is_temporary`].

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use tempfile::{Builder, NamedTempFile};

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace it (`rename`), as an object store's `put` does.
    Replace,
    /// Keep it and write nothing (a rename or link that refuses to overwrite): at most one write
    /// per name, even with concurrent writers and across restarts.
    Keep,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Created,
    Replaced,
    /// `Existing::Keep` found the file already there.
    AlreadyThere,
}

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The process's umask decides (documents anyone on the machine may read).
    Default,
    /// The owner only (`0600` on Unix): secrets. The file has that mode from its creation, so
    /// there is no moment when others could open it.
    OwnerOnly,
}

/// Writes `bytes` to `root/relative` atomically and durably, readable as `access` says. `root`
/// must exist; directories between it and the file are created.
pub(crate) fn write(
    root: &Path,
    relative: &Path,
    bytes: &[u8],
    existing: Existing,
    access: Access,
) -> io::Result<Written> {
    let target = root.join(relative);
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"));
    };
    create_dirs(root, dir)?;

    let mut temp = temporary_file(dir, &name.to_string_lossy(), access)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    let written = match existing {
        Existing::Replace => {
            let replaced = target.exists();
            temp.persist(&target)?;
            if replaced { Written::Replaced } else { Written::Created }
        }
        // On failure the temporary file comes back inside the error and is removed as it drops.
        Existing::Keep => match temp.persist_noclobber(&target) {
            Ok(_) => Written::Created,
            Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Written::AlreadyThere,
            Err(error) => return Err(error.error),
        },
    };
    sync_dir(dir)?;
    Ok(written)
}

/// A new, empty `.<name>.<random>.tmp` in `dir`, with its mode from its creation.
fn temporary_file(dir: &Path, name: &str, access: Access) -> io::Result<NamedTempFile> {
    let prefix = format!(".{name}.");
    let mut builder = Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile makes its files owner-only unless told otherwise; a document gets the mode any
    // new file gets (`0666` less the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match access {
            Access::Default => 0o666,
            Access::OwnerOnly => 0o600,
        };
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    builder.tempfile_in(dir)
}

/// Creates `dir` and its missing ancestors below `root`, fsyncing each new entry's parent.
fn create_dirs(root: &Path, dir: &Path) -> io::Result<()> {
    if dir == root || dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(root);
    create_dirs(root, parent)?;
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        // Another writer made it first.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(error) => Err(error),
    }
}

/// Makes a directory's entries durable. Only Unix lets a directory be opened and synced.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) { File::open(dir)?.sync_all() } else { Ok(()) }
}

/// Whether `name` is one of the temporary files [`write`] leaves behind when the process dies
/// mid-write.
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && Path::new(name).extension().is_some_and(|ext| ext == "tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_default(root: &Path, relative: &str, bytes: &[u8], existing: Existing) -> Written {
        write(root, Path::new(relative), bytes, existing, Access::Default).unwrap()
    }

    #[test]
    fn a_write_creates_the_directories_it_needs_and_leaves_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(write_default(root.path(), "a/b/c.txt", b"hello", Existing::Replace), Written::Created);
        assert_eq!(fs::read(root.path().join("a/b/c.txt")).unwrap(), b"hello");
        let names: Vec<_> = fs::read_dir(root.path().join("a/b")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["c.txt"]);
    }

    #[test]
    fn replace_overwrites_and_keep_does_not() {
        let root = tempfile::tempdir().unwrap();
        write_default(root.path(), "x.txt", b"one", Existing::Replace);
        assert_eq!(write_default(root.path(), "x.txt", b"two", Existing::Replace), Written::Replaced);
        assert_eq!(write_default(root.path(), "x.txt", b"three", Existing::Keep), Written::AlreadyThere);
        assert_eq!(fs::read(root.path().join("x.txt")).unwrap(), b"two");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1, "the refused temporary file is gone");
    }

    #[test]
    fn keep_creates_a_file_that_is_not_there() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(write_default(root.path(), "new.txt", b"first", Existing::Keep), Written::Created);
        assert_eq!(fs::read(root.path().join("new.txt")).unwrap(), b"first");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_files_are_told_apart_from_written_ones() {
        assert!(is_temporary(".secret.Xa9k2Q.tmp"));
        assert!(!is_temporary("INV-1.pdf"));
        assert!(!is_temporary("notes.tmp"));
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_owner_only_and_documents_get_the_mode_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let mode = |name: &str| fs::metadata(root.path().join(name)).unwrap().permissions().mode() & 0o777;

        write(root.path(), Path::new("secret"), b"s", Existing::Keep, Access::OwnerOnly).unwrap();
        assert_eq!(mode("secret"), 0o600);

        write_default(root.path(), "document.pdf", b"d", Existing::Replace);
        // The umask is the test process's, not ours to set: a document gets the mode any new
        // file gets under it, not tempfile's owner-only default.
        fs::File::create(root.path().join("plain")).unwrap();
        assert_eq!(mode("document.pdf"), mode("plain"));
    }
}
