use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use wamebo_core::StoreId;
use wamebo_store::{EventFilter, EventRecord, EventStatus, EventSummary, Store};

use crate::cli::{EventStatusArg, EventsListArgs, EventsShowArgs};
use crate::config::Config;
use crate::wiring;

use super::print_stdout;

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
    let mut out = String::new();
    writeln!(
        out,
        "{:>8}  {:<20}  {:<12}  {:<18}  {:<24}  status",
        "id", "received (UTC)", "store", "type", "key"
    )?;
    for event in &events {
        writeln!(out, "{}", summary_line(event))?;
    }
    print_stdout(&out)?;
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

    let mut out = String::new();
    write_event(&mut out, &record, args.show_personal_data)?;
    write_deliveries(&mut out, store.as_ref(), &record).await?;
    for conflict in &record.conflicts {
        writeln!(out)?;
        writeln!(
            out,
            "conflicting body {} received {} (sha256 {}):",
            conflict.id,
            conflict.received_at.to_rfc3339(),
            conflict.body_sha256
        )?;
        writeln!(
            out,
            "{}",
            render_body(&conflict.body, args.show_personal_data)
        )?;
    }
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn write_event(
    out: &mut String,
    record: &EventRecord,
    show_personal_data: bool,
) -> std::fmt::Result {
    let summary = &record.summary;
    writeln!(out, "event {}", summary.id)?;
    writeln!(out, "  store:        {}", summary.store_id)?;
    writeln!(out, "  type:         {}", summary.event_type)?;
    writeln!(out, "  key:          {}", summary.key)?;
    if let Some(order_id) = summary.order_id {
        writeln!(out, "  order id:     {order_id}")?;
    }
    writeln!(out, "  received at:  {}", summary.received_at.to_rfc3339())?;
    if let Some(occurred_at) = record.occurred_at {
        writeln!(out, "  occurred at:  {}", occurred_at.to_rfc3339())?;
    }
    match &summary.status {
        EventStatus::Accepted => writeln!(out, "  status:       accepted")?,
        EventStatus::Quarantined { reason, detail } => {
            writeln!(out, "  status:       quarantined ({reason})")?;
            writeln!(out, "  detail:       {detail}")?;
        }
    }
    writeln!(out, "  body sha256:  {}", summary.body_sha256)?;
    writeln!(out)?;
    if show_personal_data {
        writeln!(out, "body:")?;
    } else {
        writeln!(
            out,
            "body (personal data masked; pass --show-personal-data to see it):"
        )?;
    }
    writeln!(out, "{}", render_body(&record.body, show_personal_data))
}

async fn write_deliveries(
    out: &mut String,
    store: &dyn Store,
    record: &EventRecord,
) -> anyhow::Result<()> {
    if record.deliveries.is_empty() {
        writeln!(out)?;
        writeln!(out, "no deliveries")?;
        return Ok(());
    }
    for delivery in &record.deliveries {
        writeln!(out)?;
        writeln!(
            out,
            "delivery {} to target `{}`: {}, {} attempt(s)",
            delivery.id,
            delivery.target_id,
            delivery.status.as_str(),
            delivery.attempts
        )?;
        if let Some(next) = delivery.next_attempt_at {
            writeln!(out, "  next attempt: {}", next.to_rfc3339())?;
        }
        if let Some(remote_id) = &delivery.remote_id {
            writeln!(out, "  remote id:    {remote_id}")?;
        }
        if let Some(note) = &delivery.note {
            writeln!(out, "  note:         {note}")?;
        }
        if let Some(reason) = delivery.last_reason {
            writeln!(
                out,
                "  last error:   {reason}: {}",
                delivery.last_error.as_deref().unwrap_or("")
            )?;
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
            writeln!(
                out,
                "  attempt {} at {}: {}{reason}{message}",
                attempt.attempt,
                attempt.finished_at.to_rfc3339(),
                attempt.outcome
            )?;
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
