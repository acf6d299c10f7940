use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Validates the configuration, prints every problem or a summary, and
/// returns a failing exit code if there is a problem.
pub(crate) fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
    };

    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "configuration `{}` is valid: {} store(s), {} target(s), public listener {}{}",
        path.display(),
        config.stores.len(),
        config.targets.len(),
        config.server.listen,
        config
            .admin
            .as_ref()
            .map(|admin| format!(", admin listener {}", admin.listen))
            .unwrap_or_default()
    );
    for store in &config.stores {
        let targets: Vec<&str> = store.targets.iter().map(|id| id.as_str()).collect();
        println!(
            "  store `{}`: POST /webhooks/{} -> [{}], {} signing secret(s)",
            store.id,
            store.id,
            targets.join(", "),
            store.signing_secrets.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
