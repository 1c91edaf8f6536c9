//! What every `BlobStore` guarantees, for the keys the saga files documents under
//! (`invoices/INV-2026-000001.pdf`, `labels/ord_….pdf`).

use std::time::Duration;

use orderflow_domain::ports::BlobStore;

use crate::fixtures::order_id;

/// A key no other test uses, in the `folder/name.pdf` shape of the saga's documents.
fn key(folder: &str) -> String {
    format!("{folder}/{}.pdf", order_id())
}

async fn get(store: &dyn BlobStore, key: &str) -> Option<Vec<u8>> {
    store.get(key).await.expect("reading a blob")
}

pub async fn a_blob_put_is_got_back_whole(store: &dyn BlobStore) {
    let key = key("invoices");
    let bytes: Vec<u8> = (0..=255).cycle().take(100_000).collect();
    store.put(&key, bytes.clone(), "application/pdf").await.expect("putting a blob");
    assert_eq!(get(store, &key).await, Some(bytes));
}

pub async fn putting_a_blob_twice_keeps_the_last(store: &dyn BlobStore) {
    let key = key("labels");
    store.put(&key, b"%PDF-1.7 the first, and longer".to_vec(), "application/pdf").await.expect("putting a blob");
    store.put(&key, b"%PDF-1.7 the last".to_vec(), "application/pdf").await.expect("putting it again");
    assert_eq!(get(store, &key).await.as_deref(), Some(&b"%PDF-1.7 the last"[..]), "replaced whole");
}

pub async fn a_key_never_put_is_none(store: &dyn BlobStore) {
    assert_eq!(get(store, &key("credit-notes")).await, None);
}

/// `follow` fetches what a link leads to, as the customer's browser would: `None` when the link
/// leads nowhere.
pub async fn a_link_leads_to_its_blob(store: &dyn BlobStore, follow: impl AsyncFn(&str) -> Option<Vec<u8>>) {
    let (invoice, label) = (key("invoices"), key("labels"));
    store.put(&invoice, b"%PDF-1.7 invoice".to_vec(), "application/pdf").await.expect("putting a blob");
    store.put(&label, b"%PDF-1.7 label".to_vec(), "application/pdf").await.expect("putting a blob");
    let ttl = Duration::from_secs(3600);
    assert_eq!(
        follow(&store.link(&invoice, ttl).await.expect("linking the invoice")).await.as_deref(),
        Some(&b"%PDF-1.7 invoice"[..])
    );
    assert_eq!(
        follow(&store.link(&label, ttl).await.expect("linking the label")).await.as_deref(),
        Some(&b"%PDF-1.7 label"[..])
    );
}
