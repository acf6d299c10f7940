//! Drives a running bridge with signed `order.created` webhooks, each with a
//! distinct `order_id`, over a fixed number of keep-alive connections, and
//! prints throughput and latency percentiles.
//!
//! Every acknowledged `order_id` is written to `--acked-file`, one per line,
//! so the caller can check afterwards that each one is in the store.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Sends signed order.created webhooks to a bridge and measures the responses")]
struct Options {
    /// Address of a bridge's public listener, such as 127.0.0.1:8080. Repeat
    /// it for several replicas; connections are spread over them in turn.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Store id in the webhook path.
    #[arg(long, default_value = "demo")]
    store: String,
    /// Environment variable that contains the store's signing secret.
    #[arg(long, default_value = "WAMEBO_SIGNING_SECRET")]
    secret_env: String,
    /// Number of concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Duration of the run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// First order id; each request uses the next one.
    #[arg(long, default_value_t = 1)]
    first_order_id: u64,
    /// File that receives every acknowledged order id, one per line.
    #[arg(long)]
    acked_file: Option<std::path::PathBuf>,
}

/// Latencies and outcomes recorded by one connection.
struct ConnectionReport {
    latencies: Histogram<u64>,
    acked: Vec<u64>,
    failed: u64,
}

fn order_body(order_id: u64, timestamp: &str) -> String {
    format!(
        concat!(
            r#"{{"event":"order.created","timestamp":"{timestamp}","data":{{"order_id":{order_id},"#,
            r#""meta_order_id":"wamid.bench{order_id}","customer":{{"name":"Bench Customer","phone_number":"15551234567"}},"#,
            r#""financials":{{"total_amount":250.00,"currency":"USD"}},"items":["#,
            r#"{{"sku":"PROD-A1","quantity":2,"unit_price":100.00}},{{"sku":"PROD-B2","quantity":1,"unit_price":50.00}}]}}}}"#
        ),
        timestamp = timestamp,
        order_id = order_id
    )
}

async fn run_connection(
    options: Arc<Options>,
    target: String,
    secret: Arc<Vec<u8>>,
    next_order_id: Arc<AtomicU64>,
    deadline: Instant,
) -> anyhow::Result<ConnectionReport> {
    let stream = TcpStream::connect(&target)
        .await
        .with_context(|| format!("cannot connect to {target}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);

    let uri = format!("http://{target}/webhooks/{}", options.store);
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut report = ConnectionReport {
        latencies: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        acked: Vec::new(),
        failed: 0,
    };

    while Instant::now() < deadline {
        let order_id = next_order_id.fetch_add(1, Ordering::Relaxed);
        let body = order_body(order_id, &timestamp);
        let signature = wamebo_signature::sign_header(&secret, body.as_bytes());
        let request = hyper::Request::post(&uri)
            .header("host", &target)
            .header("content-type", "application/json")
            .header("x-webhook-signature", signature)
            .body(Full::new(Bytes::from(body)))?;

        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        let micros = started.elapsed().as_micros().max(1) as u64;
        report.latencies.record(micros.min(60_000_000))?;

        let accepted =
            status == hyper::StatusCode::OK && answer.windows(10).any(|w| w == b"\"accepted\"");
        if accepted {
            report.acked.push(order_id);
        } else {
            report.failed += 1;
        }
    }
    Ok(report)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Arc::new(Options::parse());
    let secret = std::env::var(&options.secret_env)
        .with_context(|| format!("environment variable {} is not set", options.secret_env))?;
    let secret = Arc::new(secret.into_bytes());
    let next_order_id = Arc::new(AtomicU64::new(options.first_order_id));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut tasks = Vec::with_capacity(options.connections);
    for connection in 0..options.connections {
        let target = options.targets[connection % options.targets.len()].clone();
        tasks.push(tokio::spawn(run_connection(
            options.clone(),
            target,
            secret.clone(),
            next_order_id.clone(),
            deadline,
        )));
    }

    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut acked = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let report = task.await??;
        latencies.add(&report.latencies)?;
        acked.extend(report.acked);
        failed += report.failed;
    }
    let elapsed = started.elapsed().as_secs_f64();

    if let Some(path) = &options.acked_file {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for order_id in &acked {
            writeln!(file, "{order_id}")?;
        }
        file.flush()?;
    }

    let total = latencies.len();
    println!("targets:           {}", options.targets.join(" "));
    println!("connections:       {}", options.connections);
    println!("duration_s:        {elapsed:.2}");
    println!("requests:          {total}");
    println!("acknowledged:      {}", acked.len());
    println!("not_acknowledged:  {failed}");
    println!("requests_per_s:    {:.0}", total as f64 / elapsed);
    println!(
        "p50_ms:            {:.3}",
        latencies.value_at_quantile(0.50) as f64 / 1000.0
    );
    println!(
        "p99_ms:            {:.3}",
        latencies.value_at_quantile(0.99) as f64 / 1000.0
    );
    println!("max_ms:            {:.3}", latencies.max() as f64 / 1000.0);
    if failed > 0 {
        bail!("{failed} requests were not acknowledged as accepted");
    }
    Ok(())
}
