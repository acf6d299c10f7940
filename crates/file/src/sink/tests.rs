use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use wamebo_core::{classify, ClassifyPolicy, StoreId, TargetId};

use super::*;

fn order(order_id: u64, currency: &str, unit_price: &str, total: &str) -> Order {
    let body = format!(
        r#"{{"event":"order.created","timestamp":"2026-05-27T14:30:22Z","data":{{"order_id":{order_id},"meta_order_id":"wamid.X","customer":{{"name":"Michael Smith","phone_number":"15551234567"}},"financials":{{"total_amount":{total},"currency":"{currency}"}},"items":[{{"sku":"PROD-A1","quantity":2,"unit_price":{unit_price}}}]}}}}"#
    );
    let policy = ClassifyPolicy {
        max_event_age: None,
        ..ClassifyPolicy::default()
    };
    let classified = classify(body.as_bytes(), &policy, Utc::now());
    classified
        .order()
        .cloned()
        .unwrap_or_else(|| panic!("test order is invalid: {:?}", classified.verdict))
}

fn usd_order(order_id: u64) -> Order {
    order(order_id, "USD", "100.00", "200.00")
}

fn context(store: &str) -> DeliveryContext {
    let received_at: DateTime<Utc> = "2026-05-27T14:31:00Z".parse().unwrap();
    DeliveryContext {
        store_id: StoreId::new(store).unwrap(),
        target_id: TargetId::new("demo-file").unwrap(),
        event_id: 1,
        delivery_id: 1,
        attempt: 1,
        received_at,
    }
}

fn open(path: &Path) -> FileSink {
    FileSink::open(&FileTargetConfig {
        path: path.to_path_buf(),
    })
    .unwrap()
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn order_is_written_as_canonical_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = open(&path);

    let delivered = sink
        .create_order(&context("demo"), &usd_order(5542))
        .await
        .unwrap();

    let lines = read_lines(&path);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["store_id"], "demo");
    assert_eq!(lines[0]["order_id"], 5542);
    assert_eq!(lines[0]["total_amount"], "200.00");
    assert_eq!(lines[0]["items"][0]["line_total"], "200.00");
    assert_eq!(delivered.remote_id.as_deref(), Some("line 1"));
    assert_eq!(delivered.note, None);
    assert!(std::fs::read(&path).unwrap().ends_with(b"\n"));
}

#[tokio::test]
async fn zero_decimal_currency_keeps_whole_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = open(&path);

    sink.create_order(&context("demo"), &order(7, "JPY", "1250", "2500"))
        .await
        .unwrap();

    let lines = read_lines(&path);
    assert_eq!(lines[0]["total_amount"], "2500");
    assert_eq!(lines[0]["items"][0]["unit_price"], "1250");
}

#[tokio::test]
async fn repeated_create_appends_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = open(&path);
    let ctx = context("demo");

    sink.create_order(&ctx, &usd_order(1)).await.unwrap();
    let again = sink.create_order(&ctx, &usd_order(1)).await.unwrap();

    assert_eq!(read_lines(&path).len(), 1);
    assert_eq!(again.remote_id.as_deref(), Some("line 1"));
    assert!(again.note.is_some());
}

#[tokio::test]
async fn find_existing_sees_written_orders_only() {
    let dir = tempfile::tempdir().unwrap();
    let sink = open(&dir.path().join("orders.jsonl"));
    let ctx = context("demo");

    sink.create_order(&ctx, &usd_order(1)).await.unwrap();
    sink.create_order(&ctx, &usd_order(2)).await.unwrap();

    let found = sink.find_existing(&ctx, &usd_order(2)).await.unwrap();
    assert_eq!(found.unwrap().remote_id.as_deref(), Some("line 2"));
    let missing = sink.find_existing(&ctx, &usd_order(3)).await.unwrap();
    assert_eq!(missing, None);
}

#[tokio::test]
async fn reopened_file_remembers_its_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let ctx = context("demo");
    {
        let sink = open(&path);
        sink.create_order(&ctx, &usd_order(1)).await.unwrap();
        sink.create_order(&ctx, &usd_order(2)).await.unwrap();
    }

    let sink = open(&path);
    let found = sink.find_existing(&ctx, &usd_order(1)).await.unwrap();
    let repeated = sink.create_order(&ctx, &usd_order(2)).await.unwrap();
    let new = sink.create_order(&ctx, &usd_order(3)).await.unwrap();

    assert_eq!(found.unwrap().remote_id.as_deref(), Some("line 1"));
    assert_eq!(repeated.remote_id.as_deref(), Some("line 2"));
    assert_eq!(new.remote_id.as_deref(), Some("line 3"));
    assert_eq!(read_lines(&path).len(), 3);
}

#[tokio::test]
async fn torn_last_line_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let ctx = context("demo");
    {
        let sink = open(&path);
        sink.create_order(&ctx, &usd_order(1)).await.unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let whole_length = bytes.len();
    bytes.extend_from_slice(
        br#"{"schema_version":1,"source":"wamebo","store_id":"demo","order_id":2,"#,
    );
    std::fs::write(&path, &bytes).unwrap();

    let sink = open(&path);

    assert_eq!(std::fs::metadata(&path).unwrap().len(), whole_length as u64);
    assert_eq!(sink.find_existing(&ctx, &usd_order(2)).await.unwrap(), None);
    let delivered = sink.create_order(&ctx, &usd_order(2)).await.unwrap();
    assert_eq!(delivered.remote_id.as_deref(), Some("line 2"));
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["order_id"], 2);
}

#[tokio::test]
async fn concurrent_creates_of_one_order_append_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = Arc::new(open(&path));

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move { sink.create_order(&context("demo"), &usd_order(9)).await })
        })
        .collect();
    for task in tasks {
        let delivered = task.await.unwrap().unwrap();
        assert_eq!(delivered.remote_id.as_deref(), Some("line 1"));
    }

    assert_eq!(read_lines(&path).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_distinct_orders_are_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = Arc::new(open(&path));

    let tasks: Vec<_> = (1..=40)
        .map(|order_id| {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                sink.create_order(&context("demo"), &usd_order(order_id))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let mut order_ids: Vec<u64> = read_lines(&path)
        .iter()
        .map(|line| line["order_id"].as_u64().unwrap())
        .collect();
    order_ids.sort_unstable();
    assert_eq!(order_ids, (1..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn same_order_id_in_two_stores_is_two_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let sink = open(&path);

    sink.create_order(&context("acme"), &usd_order(1))
        .await
        .unwrap();
    sink.create_order(&context("globex"), &usd_order(1))
        .await
        .unwrap();

    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["store_id"], "acme");
    assert_eq!(lines[1]["store_id"], "globex");
}

#[tokio::test]
async fn missing_folders_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("nested").join("orders.jsonl");

    let sink = open(&path);
    sink.create_order(&context("demo"), &usd_order(1))
        .await
        .unwrap();

    assert_eq!(read_lines(&path).len(), 1);
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    std::fs::write(&path, "\n{\"store_id\":\"demo\",\"order_id\":4}\n").unwrap();

    let sink = open(&path);
    let line = sink.journal.lock().unwrap().find("demo", 4).unwrap();

    assert_eq!(line, Some(2));
}

#[test]
fn invalid_complete_lines_fail_open() {
    let cases = [
        ("not json", "not json\n"),
        ("missing order id", "{\"store_id\":\"demo\"}\n"),
        (
            "negative order id",
            "{\"store_id\":\"demo\",\"order_id\":-1}\n",
        ),
        ("array", "[1,2]\n"),
    ];
    for (case, contents) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.jsonl");
        std::fs::write(
            &path,
            format!("{{\"store_id\":\"demo\",\"order_id\":1}}\n{contents}"),
        )
        .unwrap();

        let error = FileSink::open(&FileTargetConfig { path: path.clone() }).unwrap_err();

        match error {
            FileSinkError::Corrupt { line, .. } => assert_eq!(line, 2, "{case}"),
            other => panic!("{case}: expected a corrupt-line error, got {other}"),
        }
    }
}

#[test]
fn unusable_path_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, "").unwrap();

    let error = FileSink::open(&FileTargetConfig {
        path: blocker.join("orders.jsonl"),
    })
    .unwrap_err();

    assert!(matches!(error, FileSinkError::Io { .. }), "{error}");
    assert!(error.to_string().contains("plain-file"), "{error}");
}

#[test]
fn config_rejects_unknown_and_missing_keys() {
    let cases = [
        ("unknown key", "path = \"a.jsonl\"\nappend = true"),
        ("missing path", ""),
        ("path not a string", "path = 3"),
    ];
    for (case, text) in cases {
        let parsed = toml::from_str::<FileTargetConfig>(text);
        assert!(parsed.is_err(), "{case} was accepted");
    }
    let parsed: FileTargetConfig = toml::from_str("path = \"data/orders.jsonl\"").unwrap();
    assert_eq!(parsed.path, Path::new("data/orders.jsonl"));
}
