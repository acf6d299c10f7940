use std::path::PathBuf;

use serde::Deserialize;

/// The keys of a `[[targets]]` table with `kind = "file"`, besides the
/// common `id`, `kind` and `events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTargetConfig {
    /// The JSON-lines file to append orders to. A relative path is resolved
    /// against the bridge's working directory; missing folders are created.
    pub path: PathBuf,
}
