//! The secret that signs document links: made private and whole, and a damaged one refused.

#![allow(clippy::unwrap_used)]

use orderflow::{Config, Runtime};

async fn open(dir: &std::path::Path) -> anyhow::Result<Runtime> {
    Runtime::open(&Config::for_tests(dir), "http://127.0.0.1:1").await
}

#[tokio::test]
async fn the_link_secret_is_created_readable_by_its_owner_only_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).await.unwrap());
    let path = dir.path().join("link-secret");
    let secret = std::fs::read(&path).unwrap();
    assert!(secret.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.') && std::path::Path::new(name).extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    drop(open(dir.path()).await.unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), secret, "a restart keeps the secret");
}

#[tokio::test]
async fn a_short_link_secret_stops_the_start_with_a_message_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("link-secret"), b"short").unwrap();
    let error = format!("{:#}", open(dir.path()).await.unwrap_err());
    assert!(error.contains("link-secret") && error.contains("damaged"), "{error}");
}

#[tokio::test]
async fn a_zero_filled_link_secret_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("link-secret"), [0_u8; 64]).unwrap();
    let error = format!("{:#}", open(dir.path()).await.unwrap_err());
    assert!(error.contains("link-secret") && error.contains("damaged"), "{error}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_link_secret_readable_by_others_is_restricted_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("link-secret");
    std::fs::write(&path, (0..64_u8).collect::<Vec<_>>()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(open(dir.path()).await.unwrap());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}
