//! The real binary killed with SIGKILL while it accepts and delivers
//! orders, then started again: every acknowledged order ends up in the file
//! exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use wamebo_e2e::{read_orders, sample_order, sign, wait_until, BridgeProcess, TestConfig, SECRET};

/// Orders offered to the first process; it is killed after
/// [`KILL_AFTER_ACKNOWLEDGED`] of them are acknowledged.
const ORDERS: u64 = 400;
const KILL_AFTER_ACKNOWLEDGED: usize = 150;
const CONCURRENT_REQUESTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_bridge_delivers_acknowledged_orders_once() {
    // One worker delivers more slowly than the receiver accepts, so some
    // acknowledged orders are still undelivered when the process dies.
    let config = TestConfig {
        workers: 1,
        ..TestConfig::default()
    };
    let config_path = config.write();
    let orders_path = config.orders_path();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let first = BridgeProcess::start(&config_path);
    let url = format!("{}/webhooks/demo", first.address);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let first = Arc::new(Mutex::new(Some(first)));

    stream::iter(1..=ORDERS)
        .for_each_concurrent(CONCURRENT_REQUESTS, |order_id| {
            let client = client.clone();
            let url = url.clone();
            let acknowledged = Arc::clone(&acknowledged);
            let killed = Arc::clone(&killed);
            let first = Arc::clone(&first);
            async move {
                if killed.load(Ordering::SeqCst) {
                    return;
                }
                let body = sample_order(order_id);
                let signature = sign(SECRET, body.as_bytes());
                let response = client
                    .post(&url)
                    .header("X-Webhook-Signature", signature)
                    .body(body)
                    .send()
                    .await;
                let Ok(response) = response else { return };
                if response.status().as_u16() != 200 {
                    return;
                }
                let count = {
                    let mut acknowledged = acknowledged.lock().unwrap();
                    acknowledged.insert(order_id);
                    acknowledged.len()
                };
                if count >= KILL_AFTER_ACKNOWLEDGED && !killed.swap(true, Ordering::SeqCst) {
                    if let Some(process) = first.lock().unwrap().take() {
                        process.kill();
                    }
                }
            }
        })
        .await;

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        killed.load(Ordering::SeqCst),
        "the first process was never killed"
    );
    assert!(acknowledged.len() >= KILL_AFTER_ACKNOWLEDGED);
    let delivered_before_restart = read_orders(&orders_path).len();
    eprintln!(
        "{} orders acknowledged, {delivered_before_restart} delivered when the process was killed",
        acknowledged.len()
    );

    let second = BridgeProcess::start(&config_path);
    wait_until(
        "every acknowledged order in the file",
        Duration::from_secs(60),
        || async {
            let delivered: BTreeSet<u64> = read_orders(&orders_path)
                .iter()
                .filter_map(|line| line["order_id"].as_u64())
                .collect();
            acknowledged.is_subset(&delivered)
        },
    )
    .await;
    let status = second.terminate(Duration::from_secs(30));

    assert!(
        status.success(),
        "the restarted bridge exited with {status}"
    );
    let mut lines_per_order: BTreeMap<u64, usize> = BTreeMap::new();
    for line in read_orders(&orders_path) {
        let order_id = line["order_id"]
            .as_u64()
            .expect("every line has an order id");
        *lines_per_order.entry(order_id).or_default() += 1;
    }
    let repeated: Vec<_> = lines_per_order
        .iter()
        .filter(|(_, count)| **count > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "orders written more than once: {repeated:?}"
    );
    for order_id in &acknowledged {
        assert_eq!(lines_per_order.get(order_id), Some(&1), "order {order_id}");
    }
}
