//! Measures how many events per second `SqliteStore::record_event` makes
//! durable, with many callers at once, and each call's latency.
//!
//! ```text
//! cargo run --release -p wamebo-store --example sqlite_ingest -- [callers] [seconds] [max_batch]
//! ```
//!
//! Defaults: 64 callers, 5 seconds, the default `max_batch`. A `max_batch`
//! of 1 gives one transaction (and one fsync) per event, for comparison.
//! Each event is a 700-byte body with one delivery, in a temporary
//! directory on the default temporary file system.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};
use wamebo_core::{StoreId, TargetId};
use wamebo_store::{EventStatus, NewEvent, RecordOutcome, SqliteOptions, SqliteStore, Store};

fn argument(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|text| text.parse().expect("arguments are whole numbers"))
        .unwrap_or(default)
}

fn order_event(order_id: u64) -> NewEvent {
    let mut body = format!(
        r#"{{"event":"order.created","timestamp":"2026-01-05T10:00:00Z","data":{{"order_id":{order_id},"meta_order_id":"wamebo-{order_id}","customer":{{"name":"A Customer","phone_number":"919876543210"}},"financials":{{"total_amount":250.00,"currency":"USD"}},"items":[{{"sku":"PROD-A1","quantity":2,"unit_price":100.00}},{{"sku":"PROD-B2","quantity":1,"unit_price":50.00}}]}}}}"#
    );
    body.push_str(&" ".repeat(700usize.saturating_sub(body.len())));
    NewEvent {
        store_id: StoreId::new("demo").unwrap(),
        key: format!("order:{order_id}"),
        event_type: "order.created".to_owned(),
        order_id: Some(order_id),
        body_sha256: Sha256::digest(body.as_bytes()).into(),
        body: body.into_bytes(),
        received_at: Utc::now(),
        occurred_at: None,
        status: EventStatus::Accepted,
        targets: vec![TargetId::new("demo-file").unwrap()],
    }
}

/// Returns the CPU time the `sqlite-writer` thread has used so far, read
/// from Linux's `/proc`, or `None` elsewhere.
fn writer_cpu_time() -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?.path();
        let name = std::fs::read_to_string(task.join("comm")).ok()?;
        if name.trim() != "sqlite-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("stat")).ok()?;
        // Fields after the parenthesised name; utime and stime are the
        // 12th and 13th of them, in clock ticks of 10 ms.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        return Some(Duration::from_millis(ticks * 10));
    }
    None
}

#[tokio::main]
async fn main() {
    let callers = argument(1, 64);
    let seconds = argument(2, 5);
    let options = SqliteOptions {
        max_batch: argument(3, SqliteOptions::default().max_batch),
        ..SqliteOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("bridge.db").display().to_string();
    let store = Arc::new(SqliteStore::open(&location, options.clone()).unwrap());
    let deadline = Instant::now() + Duration::from_secs(seconds as u64);
    // Wamebo's order ids grow over time, so the callers share one sequence.
    let next_order_id = Arc::new(AtomicU64::new(100_000));

    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let store = Arc::clone(&store);
            let next_order_id = Arc::clone(&next_order_id);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let event = order_event(next_order_id.fetch_add(1, Ordering::Relaxed));
                    let call = Instant::now();
                    let outcome = store.record_event(event).await.expect("recording an event");
                    latencies.push(call.elapsed());
                    assert!(matches!(outcome, RecordOutcome::Recorded { .. }));
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    let writer_cpu = writer_cpu_time();

    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let counts = store.delivery_counts().await.unwrap();
    assert_eq!(
        counts.pending as usize,
        latencies.len(),
        "every acknowledged event has its delivery"
    );
    let writer_cpu_per_event = writer_cpu.map(|cpu| cpu / latencies.len() as u32);
    println!(
        "callers={callers} max_batch={} events={} seconds={:.2} events_per_second={:.0} p50={:?} p99={:?} max={:?} writer_cpu_per_event={writer_cpu_per_event:?}",
        options.max_batch,
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.last().unwrap(),
    );
}
