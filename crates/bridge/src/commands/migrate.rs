use std::process::ExitCode;

use crate::config::{Config, StorageUrl};
use crate::wiring;

/// Applies pending schema migrations and reports what changed. `serve`
/// applies them too; this command lets an operator migrate ahead of a
/// deployment.
pub(crate) async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let StorageUrl::Sqlite { path } = &config.storage.url;
    eprintln!("migrating SQLite database `{}`…", path.display());
    let (applied, version) = wiring::migrate_store(config).await?;
    if applied.is_empty() {
        println!("schema is current at version {version}; nothing applied");
    } else {
        println!("applied migrations {applied:?}; schema is now at version {version}");
    }
    Ok(ExitCode::SUCCESS)
}
