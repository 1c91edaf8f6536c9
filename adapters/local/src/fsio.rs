//! Durable file writes shared by the blob store and the mail outbox.
//!
//! A file is written whole or not at all: the bytes go to a hidden temporary file beside the
//! target, which is fsync'd, then moved into place with one atomic directory operation, and the
//! directory is fsync'd so the move itself survives a power loss. Directories created on the way
//! are fsync'd into their parents for the same reason.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace it (`rename`), as an object store's `put` does.
    Replace,
    /// Keep it and write nothing (`link`, which refuses to overwrite): at most one write per
    /// name, even with concurrent writers and across restarts.
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

/// Writes `bytes` to `root/relative` atomically and durably. `root` must exist; directories
/// between it and the file are created.
pub(crate) fn write_atomically(root: &Path, relative: &Path, bytes: &[u8], existing: Existing) -> io::Result<Written> {
    write_atomically_with(root, relative, bytes, existing, Access::Default)
}

/// [`write_atomically`], choosing who may read the file.
pub(crate) fn write_atomically_with(
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

    let temp = dir.join(format!(".{}.{:016x}.tmp", name.to_string_lossy(), fastrand::u64(..)));
    let placed = write_synced(&temp, bytes, access).and_then(|()| match existing {
        Existing::Replace => {
            let replaced = target.exists();
            fs::rename(&temp, &target)?;
            Ok(if replaced { Written::Replaced } else { Written::Created })
        }
        Existing::Keep => match fs::hard_link(&temp, &target) {
            Ok(()) => Ok(Written::Created),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(Written::AlreadyThere),
            Err(error) => Err(error),
        },
    });
    // After a rename the temporary name is gone; after a link (or a failure) it must go.
    if existing == Existing::Keep || placed.is_err() {
        let _ = fs::remove_file(&temp);
    }
    let placed = placed?;
    sync_dir(dir)?;
    Ok(placed)
}

fn write_synced(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::OwnerOnly {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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

/// Whether `name` is one of the temporary files `write_atomically` leaves behind when the process
/// dies mid-write.
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && Path::new(name).extension().is_some_and(|ext| ext == "tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_creates_the_directories_it_needs_and_leaves_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let written = write_atomically(root.path(), Path::new("a/b/c.txt"), b"hello", Existing::Replace).unwrap();
        assert_eq!(written, Written::Created);
        assert_eq!(fs::read(root.path().join("a/b/c.txt")).unwrap(), b"hello");
        let names: Vec<_> = fs::read_dir(root.path().join("a/b")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["c.txt"]);
    }

    #[test]
    fn replace_overwrites_and_keep_does_not() {
        let root = tempfile::tempdir().unwrap();
        let path = Path::new("x.txt");
        write_atomically(root.path(), path, b"one", Existing::Replace).unwrap();
        assert_eq!(write_atomically(root.path(), path, b"two", Existing::Replace).unwrap(), Written::Replaced);
        assert_eq!(write_atomically(root.path(), path, b"three", Existing::Keep).unwrap(), Written::AlreadyThere);
        assert_eq!(fs::read(root.path().join(path)).unwrap(), b"two");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
