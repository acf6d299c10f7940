//! The subcommands of the `wamebo-bridge` binary.

mod check_config;
mod send_test_event;
mod sign;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::Config;

/// Runs one subcommand and returns the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckConfig => check_config::run(&cli.config),
        Command::Sign(args) => sign::run(&args),
        Command::SendTestEvent(args) => send_test_event::run(&load(&cli.config)?, &args).await,
    }
}

/// Loads and validates the configuration.
pub(crate) fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| "cannot use the configuration; fix the problems listed and run `wamebo-bridge check-config`".to_owned())
}
