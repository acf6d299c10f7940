//! The command line of the `wamebo-bridge` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_CONFIG_PATH;
use crate::telemetry::LogFormat;

/// Receives Wamebo's signed webhooks, records them durably and delivers
/// every order exactly once to the configured shops.
#[derive(Debug, Parser)]
#[command(name = "wamebo-bridge", version)]
pub struct Cli {
    /// The configuration file. `WAMEBO_BRIDGE__SECTION__KEY` environment
    /// variables override its values.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG_PATH, value_name = "PATH")]
    pub config: PathBuf,

    /// How log lines are written to standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks the configuration and its secrets, lists every problem, and
    /// exits non-zero if there is one.
    CheckConfig,
    /// Prints the `X-Webhook-Signature` header for a body.
    Sign(SignArgs),
    /// Posts a signed sample event to a running bridge and prints the
    /// HTTP status and response.
    SendTestEvent(SendTestEventArgs),
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
