use std::process::ExitCode;

use anyhow::{anyhow, Context};
use chrono::Utc;

use crate::cli::ReplayArgs;
use crate::config::Config;
use crate::wiring;

/// Gives a dead or quarantined event fresh deliveries. A quarantined event
/// is validated again first, under the store's current configuration.
pub(crate) async fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let store = wiring::open_store(config).await?;
    let record = store
        .get_event(args.event_id)
        .await
        .with_context(|| format!("cannot read event {}", args.event_id))?
        .ok_or_else(|| {
            anyhow!(
                "event {} not found; run `wamebo-bridge events list` to see event ids",
                args.event_id
            )
        })?;
    let store_id = &record.summary.store_id;
    let store_config = config.store(store_id.as_str()).ok_or_else(|| {
        anyhow!("event {} belongs to store `{store_id}`, which is no longer configured; add it back to [[stores]] to replay its events", args.event_id)
    })?;
    let settings = wiring::store_settings(config, store_config);

    let outcome =
        wamebo_receiver::replay_event(store.as_ref(), &settings, args.event_id, Utc::now())
            .await
            .with_context(|| format!("cannot replay event {}", args.event_id))?;

    println!(
        "event {}: {} dead deliveries revived {:?}, {} deliveries created {:?}",
        args.event_id,
        outcome.revived.len(),
        outcome.revived,
        outcome.created.len(),
        outcome.created
    );
    println!(
        "a running bridge picks them up within `dispatch.idle_poll` ({})",
        humantime::format_duration(config.dispatch.idle_poll)
    );
    Ok(ExitCode::SUCCESS)
}
