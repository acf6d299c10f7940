//! The real binary's operator commands against a running bridge and its
//! database: migrate, send-test-event, events list and show, replay.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use wamebo_e2e::{
    bridge_binary, fresh, order_body, read_orders, spawn_app_with, wait_until, BridgeProcess,
    TestConfig, DOCUMENTED_ORDER,
};

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(bridge_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("the bridge binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads the JSON response that `send-test-event` prints last.
fn response_json(output: &Output) -> Value {
    let text = stdout(output);
    let last = text
        .lines()
        .last()
        .expect("send-test-event prints the response");
    serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn migrate_applies_once() {
    let config = TestConfig::default();
    let path = config.write();

    let first = run(&path, &["migrate"]);
    let second = run(&path, &["migrate"]);

    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("applied migrations"),
        "{}",
        stdout(&first)
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("nothing applied"),
        "{}",
        stdout(&second)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_work_against_a_running_bridge() {
    let config = TestConfig::default();
    let path = config.write();
    let orders_path = config.orders_path();
    let bridge = BridgeProcess::start(&path);
    let url = bridge.address.clone();

    let order = run(
        &path,
        &["send-test-event", "--url", &url, "--order-id", "4242"],
    );
    let message = run(
        &path,
        &[
            "send-test-event",
            "--url",
            &url,
            "--event",
            "message.received",
        ],
    );
    let mismatch_path = config.dir.path().join("mismatch.json");
    std::fs::write(
        &mismatch_path,
        order_body(
            4243,
            "USD",
            "250.01",
            &[("PROD-A1", 2, "100.00"), ("PROD-B2", 1, "50.00")],
        ),
    )
    .unwrap();
    let mismatch = run(
        &path,
        &[
            "send-test-event",
            "--url",
            &url,
            "--file",
            mismatch_path.to_str().unwrap(),
        ],
    );

    assert!(
        order.status.success(),
        "{}{}",
        stdout(&order),
        stderr(&order)
    );
    assert!(stdout(&order).contains("HTTP 200"), "{}", stdout(&order));
    assert_eq!(response_json(&order)["status"], "accepted");
    assert!(message.status.success(), "{}", stderr(&message));
    assert_eq!(response_json(&message)["status"], "accepted");
    assert!(mismatch.status.success(), "{}", stderr(&mismatch));
    assert_eq!(response_json(&mismatch)["reason"], "total_mismatch");
    wait_until(
        "order 4242 in the file",
        Duration::from_secs(20),
        || async {
            read_orders(&orders_path)
                .iter()
                .any(|line| line["order_id"] == 4242)
        },
    )
    .await;

    let list = run(&path, &["events", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let listing = stdout(&list);
    assert!(listing.contains("order:4242"), "{listing}");
    assert!(
        listing.contains("quarantined (total_mismatch)"),
        "{listing}"
    );
    assert!(listing.contains("message.received"), "{listing}");

    let order_event = response_json(&order)["event_id"].to_string();
    let masked = run(&path, &["events", "show", &order_event]);
    let details = stdout(&masked);
    assert!(masked.status.success(), "{}", stderr(&masked));
    assert!(details.contains("order:4242"), "{details}");
    assert!(details.contains("succeeded"), "{details}");
    assert!(!details.contains("Michael Smith"), "{details}");
    assert!(!details.contains("15551234567"), "{details}");

    let unmasked = run(
        &path,
        &["events", "show", &order_event, "--show-personal-data"],
    );
    assert!(
        stdout(&unmasked).contains("Michael Smith"),
        "{}",
        stdout(&unmasked)
    );

    let mismatch_event = response_json(&mismatch)["event_id"].to_string();
    let replay = run(&path, &["replay", &mismatch_event]);
    assert!(!replay.status.success(), "{}", stdout(&replay));
    assert!(
        stderr(&replay).contains("total_mismatch"),
        "{}",
        stderr(&replay)
    );

    let missing = run(&path, &["events", "show", "999999"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    let status = bridge.terminate(Duration::from_secs(30));
    assert!(status.success(), "the bridge exited with {status}");
}

/// Runs the binary with its standard output closed at the reading end, as
/// `wamebo-bridge events list | head -n 0` does, and returns its exit status
/// and standard error.
fn run_into_closed_pipe(config: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(bridge_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bridge binary runs");
    // NOTE: the binary reads its configuration and database before it
    // prints, so the reading end is closed first in practice, but nothing
    // orders the two; a run that writes first passes without the check.
    drop(child.stdout.take());
    let mut errors = String::new();
    child
        .stderr
        .take()
        .expect("standard error is piped")
        .read_to_string(&mut errors)
        .expect("standard error is readable");
    let status = child.wait().expect("the bridge binary exits");
    (status, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_output_into_closed_pipe() {
    let config = TestConfig::default();
    let path = config.write();
    let app = spawn_app_with(config).await;
    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    assert_eq!(status, 200, "{answer}");
    let event_id = answer["event_id"].to_string();

    for args in [
        vec!["events", "list"],
        vec!["events", "show", event_id.as_str()],
    ] {
        let (status, errors) = run_into_closed_pipe(&path, &args);

        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        assert!(status.success(), "{args:?} exited with {status}: {errors}");
    }
}
