//! Pushes orders through the whole local runtime, without faults, and reports orders completed
//! per second, the time from `202` to `shipped` (p50, p99) and the process's peak RSS.
//!
//! `cargo run --release --example saga_bench -- [orders] [concurrency]` (or `bench/saga.sh`).
//! The runtime runs in this process on a fresh data directory, with `synchronous=FULL`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use orderflow::{Config, Runtime, serve};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn order(i: usize) -> Value {
    let skus = ["MUG-CLASSIC-WHT", "BEANS-ETH-250", "NOTEBOOK-A5-DOT", "SOCKS-WOOL-3PK", "TEA-SENCHA-100"];
    json!({
        "customer": {"id": format!("cus_{}", i % 50), "email": "bench@example.com", "name": "Bench Mark"},
        "items": [{"sku": skus[i % skus.len()], "quantity": 1}, {"sku": "GIFT-CARD-CASE", "quantity": 1}],
        "shippingAddress": {"name": "Bench Mark", "line1": "1 Main Street", "city": "Portland", "region": "OR",
                            "postalCode": "97201", "country": "US"},
        "paymentMethod": "pm_card_visa"
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// The peak resident set of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let orders: usize = args.next().map_or(Ok(1000), |a| a.parse()).context("orders")?;
    let concurrency: usize = args.next().map_or(Ok(64), |a| a.parse()).context("concurrency")?;

    let data_dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(data_dir.path());
    config.time_scale = 1.0;
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    let address = listener.local_addr()?;
    let runtime = Runtime::open(&config, &format!("http://{address}")).await?;
    let engine = runtime.engine.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, runtime, async move {
        let _ = stopped.await;
    }));

    let client = Arc::new(reqwest::Client::new());
    let url = format!("http://{address}/api/v0/orders");
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..orders)
        .map(|i| {
            let (client, url) = (Arc::clone(&client), url.clone());
            async move {
                let response = client.post(&url).json(&order(i)).send().await?;
                anyhow::ensure!(response.status() == 202, "POST answered {}", response.status());
                let order: Value = response.json().await?;
                Ok::<_, anyhow::Error>(order["id"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let accepted = started.elapsed();

    // Done when every execution has finished (the shipped email sent too).
    loop {
        let mut finished = 0;
        for id in &ids {
            if engine.describe(id).await.is_ok_and(|d| d.status != asl_engine::ExecutionStatus::Running) {
                finished += 1;
            }
        }
        if finished == ids.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let completed = started.elapsed();

    let mut to_shipped = Vec::with_capacity(ids.len());
    let mut shipped = 0;
    for id in &ids {
        let order: Value = client.get(format!("{url}/{id}")).send().await?.json().await?;
        let at = |entry: &Value| OffsetDateTime::parse(entry["at"].as_str().unwrap_or_default(), &Rfc3339).ok();
        let history = order["history"].as_array().cloned().unwrap_or_default();
        let placed = history.first().and_then(at);
        let done = history.iter().find(|h| h["status"] == "shipped").and_then(at);
        if let (Some(placed), Some(done)) = (placed, done) {
            shipped += 1;
            to_shipped.push((done - placed).as_seconds_f64() * 1000.0);
        }
    }
    to_shipped.sort_by(f64::total_cmp);
    let _ = stop.send(());
    server.await??;

    #[allow(clippy::cast_precision_loss)]
    let rate = ids.len() as f64 / completed.as_secs_f64();
    println!("orders: {} placed, {shipped} shipped, concurrency {concurrency}", ids.len());
    println!("accepted in {:.2} s; all workflows finished in {:.2} s", accepted.as_secs_f64(), completed.as_secs_f64());
    println!("completed orders per second: {rate:.0}");
    if !to_shipped.is_empty() {
        println!(
            "202 -> shipped: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&to_shipped, 0.50),
            percentile(&to_shipped, 0.99),
            percentile(&to_shipped, 1.0)
        );
    }
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS: {rss:.0} MiB");
    }
    Ok(())
}
