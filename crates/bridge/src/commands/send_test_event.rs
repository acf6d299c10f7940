use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use chrono::Utc;

use crate::cli::{SampleEvent, SendTestEventArgs};
use crate::config::{Config, StoreConfig};
use crate::sample;

/// How long to wait for the bridge's response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Signs a sample event (or a file) with the store's first secret, posts it
/// to a running bridge and prints the status and response body. Returns a
/// failing exit code unless the status is 2xx.
pub(crate) async fn run(config: &Config, args: &SendTestEventArgs) -> anyhow::Result<ExitCode> {
    let store = pick_store(config, args.store.as_deref())?;
    let body = build_body(args)?;
    let secret = store.signing_secrets.first().ok_or_else(|| {
        anyhow!(
            "store `{}` has no signing secret; add one to `signing_secrets`",
            store.id
        )
    })?;
    let signature = wamebo_signature::sign_header(secret.expose().as_bytes(), &body);

    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", connectable(config.server.listen)));
    let url = format!("{}/webhooks/{}", base.trim_end_matches('/'), store.id);

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot create the HTTP client")?;
    let response = client
        .post(&url)
        .header(wamebo_signature::HEADER_NAME, signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the bridge at {url}; start it with `wamebo-bridge serve`, or pass --url with its address"))?;

    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("cannot read the response from {url}"))?;
    println!("POST {url}");
    println!("HTTP {status}");
    println!("{text}");
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn pick_store<'a>(config: &'a Config, id: Option<&str>) -> anyhow::Result<&'a StoreConfig> {
    match id {
        Some(id) => config.store(id).ok_or_else(|| {
            let known: Vec<&str> = config
                .stores
                .iter()
                .map(|store| store.id.as_str())
                .collect();
            anyhow!(
                "store `{id}` is not configured; use one of: {}",
                known.join(", ")
            )
        }),
        None => config
            .stores
            .first()
            .ok_or_else(|| anyhow!("no store is configured; add a [[stores]] table")),
    }
}

fn build_body(args: &SendTestEventArgs) -> anyhow::Result<Vec<u8>> {
    if let Some(path) = &args.file {
        return std::fs::read(path)
            .with_context(|| format!("cannot read event file `{}`", path.display()));
    }
    let id = args.order_id.unwrap_or_else(sample::fresh_id);
    let body = match args.event {
        SampleEvent::OrderCreated => sample::order_created(id, Utc::now()),
        SampleEvent::MessageReceived => sample::message_received(id, Utc::now()),
    };
    Ok(body.into_bytes())
}

/// Turns a listen address into one a client can connect to: the wildcard
/// addresses become loopback.
fn connectable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_becomes_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("127.0.0.1:9000", "127.0.0.1:9000"),
            ("192.0.2.7:80", "192.0.2.7:80"),
        ];
        for (listen, expected) in cases {
            let address = connectable(listen.parse().unwrap());
            assert_eq!(address, expected.parse().unwrap(), "{listen}");
        }
    }
}
