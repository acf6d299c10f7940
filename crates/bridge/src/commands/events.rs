use std::process::ExitCode;

use anyhow::{anyhow, Context};
use wamebo_core::StoreId;
use wamebo_store::{EventFilter, EventRecord, EventStatus, EventSummary, Store};

use crate::cli::{EventStatusArg, EventsListArgs, EventsShowArgs};
use crate::config::Config;
use crate::wiring;

/// Prints recorded events, newest first, one line each. Lines carry ids,
/// keys and states only, never personal data.
pub(crate) async fn list(config: &Config, args: &EventsListArgs) -> anyhow::Result<ExitCode> {
    let store_id = args
        .store
        .as_deref()
        .map(StoreId::new)
        .transpose()
        .context("invalid --store")?;
    let store = wiring::open_store(config).await?;
    let filter = EventFilter {
        store_id,
        status: args.status.map(|status| match status {
            EventStatusArg::Accepted => "accepted",
            EventStatusArg::Quarantined => "quarantined",
        }),
        order_id: args.order_id,
        before_id: args.before,
        limit: usize::from(args.limit),
    };
    let events = store
        .list_events(filter)
        .await
        .context("cannot list events")?;

    if events.is_empty() {
        eprintln!("no events match");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>8}  {:<20}  {:<12}  {:<18}  {:<24}  status",
        "id", "received (UTC)", "store", "type", "key"
    );
    for event in &events {
        println!("{}", summary_line(event));
    }
    if events.len() == usize::from(args.limit) {
        let oldest = events.last().map(|event| event.id).unwrap_or_default();
        eprintln!("more events may exist: pass --before {oldest} for the next page");
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_line(event: &EventSummary) -> String {
    let status = match &event.status {
        EventStatus::Accepted => "accepted".to_owned(),
        EventStatus::Quarantined { reason, .. } => format!("quarantined ({reason})"),
    };
    let conflicts = if event.conflicts > 0 {
        format!(", {} conflicting bodies", event.conflicts)
    } else {
        String::new()
    };
    format!(
        "{:>8}  {:<20}  {:<12}  {:<18}  {:<24}  {status}{conflicts}",
        event.id,
        event.received_at.format("%Y-%m-%d %H:%M:%S"),
        event.store_id.as_str(),
        event.event_type,
        event.key,
    )
}

/// Prints one event with its deliveries, their attempts and any conflicting
/// bodies. Bodies have names, phone numbers and message text masked unless
/// `--show-personal-data` is given.
pub(crate) async fn show(config: &Config, args: &EventsShowArgs) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let record = store
        .get_event(args.id)
        .await
        .with_context(|| format!("cannot read event {}", args.id))?
        .ok_or_else(|| {
            anyhow!(
                "event {} not found; run `wamebo-bridge events list` to see event ids",
                args.id
            )
        })?;

    print_event(&record, args.show_personal_data);
    print_deliveries(store.as_ref(), &record).await?;
    for conflict in &record.conflicts {
        println!();
        println!(
            "conflicting body {} received {} (sha256 {}):",
            conflict.id,
            conflict.received_at.to_rfc3339(),
            conflict.body_sha256
        );
        println!("{}", render_body(&conflict.body, args.show_personal_data));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_event(record: &EventRecord, show_personal_data: bool) {
    let summary = &record.summary;
    println!("event {}", summary.id);
    println!("  store:        {}", summary.store_id);
    println!("  type:         {}", summary.event_type);
    println!("  key:          {}", summary.key);
    if let Some(order_id) = summary.order_id {
        println!("  order id:     {order_id}");
    }
    println!("  received at:  {}", summary.received_at.to_rfc3339());
    if let Some(occurred_at) = record.occurred_at {
        println!("  occurred at:  {}", occurred_at.to_rfc3339());
    }
    match &summary.status {
        EventStatus::Accepted => println!("  status:       accepted"),
        EventStatus::Quarantined { reason, detail } => {
            println!("  status:       quarantined ({reason})");
            println!("  detail:       {detail}");
        }
    }
    println!("  body sha256:  {}", summary.body_sha256);
    println!();
    if show_personal_data {
        println!("body:");
    } else {
        println!("body (personal data masked; pass --show-personal-data to see it):");
    }
    println!("{}", render_body(&record.body, show_personal_data));
}

async fn print_deliveries(store: &dyn Store, record: &EventRecord) -> anyhow::Result<()> {
    if record.deliveries.is_empty() {
        println!();
        println!("no deliveries");
        return Ok(());
    }
    for delivery in &record.deliveries {
        println!();
        println!(
            "delivery {} to target `{}`: {}, {} attempt(s)",
            delivery.id,
            delivery.target_id,
            delivery.status.as_str(),
            delivery.attempts
        );
        if let Some(next) = delivery.next_attempt_at {
            println!("  next attempt: {}", next.to_rfc3339());
        }
        if let Some(remote_id) = &delivery.remote_id {
            println!("  remote id:    {remote_id}");
        }
        if let Some(note) = &delivery.note {
            println!("  note:         {note}");
        }
        if let Some(reason) = delivery.last_reason {
            println!(
                "  last error:   {reason}: {}",
                delivery.last_error.as_deref().unwrap_or("")
            );
        }
        let attempts = store
            .list_attempts(delivery.id)
            .await
            .with_context(|| format!("cannot list the attempts of delivery {}", delivery.id))?;
        for attempt in attempts {
            let reason = attempt
                .reason
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default();
            let message = attempt
                .message
                .map(|message| format!(": {message}"))
                .unwrap_or_default();
            println!(
                "  attempt {} at {}: {}{reason}{message}",
                attempt.attempt,
                attempt.finished_at.to_rfc3339(),
                attempt.outcome
            );
        }
    }
    Ok(())
}

fn render_body(body: &[u8], show_personal_data: bool) -> String {
    if show_personal_data {
        let value = wamebo_receiver::redact::unmasked_value(body);
        serde_json::to_string_pretty(&value)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
    } else {
        wamebo_receiver::redact::mask_body(body)
    }
}
