use std::process::ExitCode;

use crate::application::Application;
use crate::config::Config;

/// Runs the service until SIGTERM or Ctrl-C.
pub(crate) async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let application = Application::build(config).await?;
    application.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}
