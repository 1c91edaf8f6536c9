//! The runtime killed (SIGKILL, no chance to clean up) in the middle of 100 orders, then started
//! again on the same data directory: every order reaches `shipped`, nothing is charged or
//! emailed twice, stock is conserved.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use orderflow_tests::{Api, assert_guarantees, order_of};

/// A free port on loopback (bound then released: the server binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `orderflow` process, killed when dropped, so a failing test leaves none behind.
struct Server(Child);

impl Server {
    /// SIGKILL: the process gets no chance to finish anything.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the `orderflow` binary on `data_dir`, and waits until it answers.
async fn start(data_dir: &Path) -> (Server, Api) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .env("DATA_DIR", data_dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("TIME_SCALE", "0.001")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map(Server)
        .unwrap();
    let api = Api::new(SocketAddr::from(([127, 0, 0, 1], port)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !api.get("/health").send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_a_hundred_orders_the_runtime_finishes_every_one_exactly_once() {
    let data_dir = tempfile::tempdir().unwrap();
    let skus = ["MUG-CLASSIC-WHT", "BEANS-ETH-250", "CANDLE-CEDAR", "INK-BLUE-50"];
    let (mut child, api) = start(data_dir.path()).await;
    let mut initial = Vec::new();
    for sku in skus {
        initial.push((sku, api.available(sku).await));
    }

    let placed: Vec<serde_json::Value> = futures::stream::iter(0..100)
        .map(|i| {
            let body = order_of(skus[i % skus.len()], 1, "pm_card_visa");
            let api = &api;
            async move { api.place_order(&body).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Kill it while the sagas are under way: some orders done, others in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shipped = api.all_orders().await.iter().filter(|o| o["status"] == "shipped").count();
        if shipped >= 10 {
            assert!(shipped < 100, "every order shipped before the kill; the test proves nothing");
            break;
        }
        assert!(Instant::now() < deadline, "no order shipped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill();

    let (_child, api) = start(data_dir.path()).await;
    for order in &placed {
        let settled = api.settled_order(order["id"].as_str().unwrap()).await;
        assert_eq!(settled["status"], "shipped", "{settled}");
    }
    assert_eq!(api.charges().await.len(), 100, "one charge per order");
    let emails = api.emails().await;
    assert_eq!(emails.len(), 400, "four emails per order, none twice");
    assert_guarantees(&api, &initial).await;
}
