//! The command line of the `wamebo-bridge` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_CONFIG_PATH;
use crate::telemetry::LogFormat;

/// Receives Wamebo's signed webhooks, records them durably and delivers
/// each order to the configured targets.
#[derive(Debug, Parser)]
#[command(name = "wamebo-bridge", version)]
pub struct Cli {
    /// The configuration file. `WAMEBO_BRIDGE__SECTION__KEY` environment
    /// variables override its values.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG_PATH, value_name = "PATH")]
    pub config: PathBuf,

    /// The format of log lines on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the service until SIGTERM or Ctrl-C.
    Serve,
    /// Checks the configuration and its secrets, lists every problem, and
    /// exits non-zero if there is one.
    CheckConfig,
    /// Prints the signature headers for a body: `X-Webhook-Signature` as
    /// Wamebo signs, or the Standard Webhooks headers an `erp` target sends.
    Sign(SignArgs),
    /// Posts a signed sample event to a running bridge and prints the
    /// HTTP status and response.
    SendTestEvent(SendTestEventArgs),
    /// Lists or shows recorded events, read from the store directly.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Gives a dead or quarantined event fresh deliveries; a quarantined
    /// event is validated again first.
    Replay(ReplayArgs),
    /// Applies pending database migrations (`serve` also does at start).
    Migrate,
}

/// The subcommands of `events`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Lists events, newest first.
    List(EventsListArgs),
    /// Shows one event with its body, deliveries and attempts.
    Show(EventsShowArgs),
}

/// Event states `events list` can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventStatusArg {
    /// Valid events, which got deliveries.
    Accepted,
    /// Authentic but invalid events, waiting for a replay.
    Quarantined,
}

/// Arguments of `events list`.
#[derive(Debug, Args)]
pub struct EventsListArgs {
    /// Only events of this store.
    #[arg(long, value_name = "ID")]
    pub store: Option<String>,

    /// Only events in this state.
    #[arg(long, value_enum)]
    pub status: Option<EventStatusArg>,

    /// Only events of this Wamebo order id.
    #[arg(long, value_name = "N")]
    pub order_id: Option<u64>,

    /// Only events with an id below this, for the next page.
    #[arg(long, value_name = "EVENT_ID")]
    pub before: Option<i64>,

    /// The maximum number of events to print (at most 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
}

/// Arguments of `events show`.
#[derive(Debug, Args)]
pub struct EventsShowArgs {
    /// The event's id, from `events list`.
    #[arg(value_name = "EVENT_ID")]
    pub id: i64,

    /// Prints customer names, phone numbers and message text unmasked.
    #[arg(long)]
    pub show_personal_data: bool,
}

/// Arguments of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The event's id, from `events list`.
    #[arg(value_name = "EVENT_ID")]
    pub event_id: i64,
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("secret").required(true))]
pub struct SignArgs {
    /// The body to sign; standard input when omitted or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Reads the signing secret from this environment variable.
    #[arg(long, group = "secret", value_name = "NAME")]
    pub secret_env: Option<String>,

    /// Reads the signing secret from this file (a trailing newline is
    /// dropped).
    #[arg(long, group = "secret", value_name = "PATH")]
    pub secret_file: Option<PathBuf>,

    /// The signing scheme: `wamebo` prints `X-Webhook-Signature`, as Wamebo
    /// and an `erp` target with `scheme = "wamebo"` send it;
    /// `standard-webhooks` prints `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` for a `whsec_` secret.
    #[arg(long, value_enum, default_value_t = SignScheme::Wamebo)]
    pub scheme: SignScheme,

    /// The `webhook-id` to sign, for `--scheme standard-webhooks`; a random
    /// `msg_` id when omitted.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// The `webhook-timestamp` to sign, in Unix seconds, for `--scheme
    /// standard-webhooks`; the current time when omitted.
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
}

/// The signing schemes `sign` can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignScheme {
    /// `X-Webhook-Signature: sha256=<hex>` over the body.
    Wamebo,
    /// Standard Webhooks `v1` over `{id}.{timestamp}.{body}`.
    StandardWebhooks,
}

/// The sample events `send-test-event` can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SampleEvent {
    /// A 250.00 USD order shaped like Wamebo's documented order 5542.
    #[value(name = "order.created")]
    OrderCreated,
    /// A text message shaped like Wamebo's documented example.
    #[value(name = "message.received")]
    MessageReceived,
}

/// Arguments of `send-test-event`.
#[derive(Debug, Args)]
pub struct SendTestEventArgs {
    /// The store to post to; the first configured store when omitted.
    #[arg(long, value_name = "ID")]
    pub store: Option<String>,

    /// The sample event to send.
    #[arg(long, value_enum, default_value_t = SampleEvent::OrderCreated, conflicts_with = "file")]
    pub event: SampleEvent,

    /// Sends this file's bytes as the body instead of a sample.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// The order id (or message id) of the sample; a fresh random id when
    /// omitted, so each run creates a new order.
    #[arg(long, value_name = "N", conflicts_with = "file")]
    pub order_id: Option<u64>,

    /// The bridge's base URL; `http://` and `server.listen` from the
    /// configuration when omitted.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}
