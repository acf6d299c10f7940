//! The subcommands of the `wamebo-bridge` binary.

mod check_config;
mod events;
mod migrate;
mod replay;
mod send_test_event;
mod serve;
mod sign;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command, EventsCommand};
use crate::config::Config;

/// Runs one subcommand and returns the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => serve::run(load(&cli.config)?).await,
        Command::CheckConfig => check_config::run(&cli.config),
        Command::Sign(args) => sign::run(&args),
        Command::SendTestEvent(args) => send_test_event::run(&load(&cli.config)?, &args).await,
        Command::Events(EventsCommand::List(args)) => {
            events::list(&load(&cli.config)?, &args).await
        }
        Command::Events(EventsCommand::Show(args)) => {
            events::show(&load(&cli.config)?, &args).await
        }
        Command::Replay(args) => replay::run(&load(&cli.config)?, &args).await,
        Command::Migrate => migrate::run(&load(&cli.config)?).await,
    }
}

/// Loads and validates the configuration.
pub(crate) fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).context(
        "cannot use the configuration; fix the problems listed and run `wamebo-bridge check-config`",
    )
}

/// Writes `text` to standard output. A closed pipe, as when the output goes
/// to `head`, ends the output quietly instead of failing.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to standard output"),
    }
}
