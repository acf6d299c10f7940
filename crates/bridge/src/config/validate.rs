//! The one validation pass from [`RawConfig`] to [`Config`]: every rule is
//! checked and every problem collected, so one run of `check-config` lists
//! them all.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wamebo_core::{ConfigSecret, StoreId, TargetId};
use wamebo_store::PgOptions;

use super::raw::{RawAdmin, RawConfig, RawDispatch, RawServer, RawStorage, RawStore};
use super::{
    AdminConfig, Config, ConfigProblem, DatabaseUrl, DispatchConfig, ServerConfig, StorageConfig,
    StorageUrl, StoreConfig,
};
use crate::targets::{prepare_target, TargetSpec};

/// Largest accepted `server.max_body_bytes`: 64 MiB. Wamebo's events are a
/// few kilobytes, and a body is held in memory while it is verified.
const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// Longest accepted duration of any `[server]` or `[dispatch]` setting: 365
/// days. Times computed from a longer one, such as a lease's expiry, could
/// pass the largest timestamp that storage reads back.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Returns the problem message for a duration longer than [`MAX_DURATION`].
fn too_long(value: Duration) -> String {
    format!(
        "{} is longer than the maximum of 365 days; write a duration such as \"72h\"",
        humantime::format_duration(value)
    )
}

/// Shortest accepted admin token, in characters.
const MIN_ADMIN_TOKEN_LENGTH: usize = 16;

/// Checks every rule and returns the typed configuration, or every problem.
pub(crate) fn validate(raw: RawConfig) -> Result<Config, Vec<ConfigProblem>> {
    let mut problems = Vec::new();

    let server = check_server(&raw.server, &mut problems);
    let admin = raw
        .admin
        .as_ref()
        .and_then(|admin| check_admin(admin, server.as_ref(), &mut problems));
    let storage = check_storage(&raw.storage, &mut problems);
    let dispatch = check_dispatch(&raw.dispatch, &mut problems);
    let targets = check_targets(&raw.targets, &dispatch, &mut problems);
    let stores = check_stores(&raw.stores, &raw.targets, &targets, &mut problems);
    let warnings = unrouted_targets(&stores, &targets);

    match (server, storage) {
        (Some(server), Some(storage)) if problems.is_empty() => Ok(Config {
            server,
            admin,
            storage,
            dispatch,
            stores,
            targets,
            warnings,
        }),
        _ => Err(problems),
    }
}

fn parse_listen(key: &str, text: &str, problems: &mut Vec<ConfigProblem>) -> Option<SocketAddr> {
    match text.trim().parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(ConfigProblem::new(
                key,
                format!("`{text}` is not an IP address with a port; write it like \"127.0.0.1:8080\" or \"[::1]:8080\""),
            ));
            None
        }
    }
}

fn check_server(raw: &RawServer, problems: &mut Vec<ConfigProblem>) -> Option<ServerConfig> {
    let listen = parse_listen("server.listen", &raw.listen, problems);
    if raw.max_body_bytes == 0 || raw.max_body_bytes > MAX_BODY_LIMIT {
        problems.push(ConfigProblem::new(
            "server.max_body_bytes",
            format!(
                "{} is out of range; use a size from 1 to {MAX_BODY_LIMIT} bytes, such as 1048576",
                raw.max_body_bytes
            ),
        ));
    }
    if raw.max_event_age.is_zero() {
        problems.push(ConfigProblem::new(
            "server.max_event_age",
            "must be longer than zero, such as \"72h\", or every event would be stale",
        ));
    }
    if raw.max_event_age > MAX_DURATION {
        problems.push(ConfigProblem::new(
            "server.max_event_age",
            too_long(raw.max_event_age),
        ));
    }
    Some(ServerConfig {
        listen: listen?,
        max_body_bytes: usize::try_from(raw.max_body_bytes).ok()?,
        max_event_age: raw.max_event_age,
    })
}

fn check_admin(
    raw: &RawAdmin,
    server: Option<&ServerConfig>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<AdminConfig> {
    let listen = parse_listen("admin.listen", &raw.listen, problems);
    if let (Some(listen), Some(server)) = (listen, server) {
        if listen.port() != 0 && listen == server.listen {
            problems.push(ConfigProblem::new(
                "admin.listen",
                format!("{listen} is also `server.listen`; give the admin listener its own port"),
            ));
        }
    }
    let token = resolve_secret("admin.token", &raw.token, problems);
    if let Some(token) = &token {
        if token.expose().chars().count() < MIN_ADMIN_TOKEN_LENGTH {
            problems.push(ConfigProblem::new(
                "admin.token",
                format!(
                    "the token from `{}` is shorter than {MIN_ADMIN_TOKEN_LENGTH} characters; use a long random value, such as the output of `openssl rand -hex 32`",
                    token.source()
                ),
            ));
        }
    }
    Some(AdminConfig {
        listen: listen?,
        token: token?,
    })
}

fn check_storage(raw: &RawStorage, problems: &mut Vec<ConfigProblem>) -> Option<StorageConfig> {
    let url = raw.url.trim();
    if let Some(path) = url.strip_prefix("sqlite://") {
        for key in raw.postgres_keys_set() {
            problems.push(ConfigProblem::new(
                format!("storage.{key}"),
                "this key applies only to PostgreSQL storage; remove it or use a postgres:// URL",
            ));
        }
        if path.is_empty() {
            problems.push(ConfigProblem::new(
                "storage.url",
                "the SQLite URL has no file path; write it like \"sqlite://data/bridge.db\"",
            ));
            return None;
        }
        return Some(StorageConfig {
            url: StorageUrl::Sqlite {
                path: PathBuf::from(path),
            },
        });
    }
    if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("env:")
        || url.starts_with("file:")
    {
        return check_postgres(url, raw, problems);
    }
    problems.push(ConfigProblem::new(
        "storage.url",
        format!("`{url}` is not a storage URL; use \"sqlite://PATH\", such as \"sqlite://data/bridge.db\", or \"postgres://USER@HOST:PORT/DATABASE\""),
    ));
    None
}

/// Reads a PostgreSQL URL, written in the file or, when it carries a
/// password, referenced as `env:NAME` or `file:/path`, and the pool keys.
fn check_postgres(
    url: &str,
    raw: &RawStorage,
    problems: &mut Vec<ConfigProblem>,
) -> Option<StorageConfig> {
    let secret = if url.starts_with("env:") || url.starts_with("file:") {
        match ConfigSecret::resolve(url) {
            Ok(secret) => secret,
            Err(error) => {
                problems.push(ConfigProblem::new("storage.url", error.to_string()));
                return None;
            }
        }
    } else {
        if url_has_password(url) {
            problems.push(ConfigProblem::new(
                "storage.url",
                "the PostgreSQL URL contains a password; move the whole URL into an environment variable or a file and write url = \"env:NAME\" or \"file:/path\"",
            ));
            return None;
        }
        ConfigSecret::from_value("storage.url", url)
    };

    let defaults = PgOptions::default();
    let options = PgOptions {
        max_connections: raw.max_connections.unwrap_or(defaults.max_connections),
        acquire_timeout: raw.acquire_timeout.unwrap_or(defaults.acquire_timeout),
        connect_timeout: raw.connect_timeout.unwrap_or(defaults.connect_timeout),
        statement_timeout: raw.statement_timeout.unwrap_or(defaults.statement_timeout),
        operation_timeout: raw.operation_timeout.unwrap_or(defaults.operation_timeout),
        schema: raw.schema.clone(),
    };
    if let Err(error) = options.validate_with_url(secret.expose()) {
        // The store's message names the key at fault, and never the URL.
        problems.push(ConfigProblem::new("storage", error.to_string()));
        return None;
    }
    Some(StorageConfig {
        url: StorageUrl::Postgres {
            url: DatabaseUrl(secret),
            options,
        },
    })
}

/// Reports whether a `postgres://` URL has a password in its user part or
/// in a `password` query parameter.
fn url_has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| {
        url.password().is_some() || url.query_pairs().any(|(key, _)| key == "password")
    })
}

fn check_dispatch(raw: &RawDispatch, problems: &mut Vec<ConfigProblem>) -> DispatchConfig {
    let mut require = |ok: bool, key: &str, message: String| {
        if !ok {
            problems.push(ConfigProblem::new(format!("dispatch.{key}"), message));
        }
    };
    require(
        (1..=256).contains(&raw.workers),
        "workers",
        format!("{} is out of range; use 1 to 256 workers", raw.workers),
    );
    require(
        (1..=u64::from(u32::MAX)).contains(&raw.max_attempts),
        "max_attempts",
        format!(
            "{} is out of range; use at least 1 attempt",
            raw.max_attempts
        ),
    );
    for (key, value) in [
        ("initial_backoff", raw.initial_backoff),
        ("max_backoff", raw.max_backoff),
        ("max_age", raw.max_age),
        ("lease", raw.lease),
        ("call_timeout", raw.call_timeout),
        ("idle_poll", raw.idle_poll),
    ] {
        require(
            !value.is_zero(),
            key,
            "must be longer than zero; write a duration such as \"30s\"".to_owned(),
        );
    }
    for (key, value) in [
        ("initial_backoff", raw.initial_backoff),
        ("max_backoff", raw.max_backoff),
        ("max_age", raw.max_age),
        ("lease", raw.lease),
        ("call_timeout", raw.call_timeout),
        ("retry_after_cap", raw.retry_after_cap),
        ("idle_poll", raw.idle_poll),
        ("shutdown_grace", raw.shutdown_grace),
    ] {
        require(value <= MAX_DURATION, key, too_long(value));
    }
    require(
        raw.max_backoff >= raw.initial_backoff,
        "max_backoff",
        format!(
            "{} is shorter than `dispatch.initial_backoff` ({}); raise it or lower the initial backoff",
            humantime::format_duration(raw.max_backoff),
            humantime::format_duration(raw.initial_backoff)
        ),
    );
    require(
        raw.lease > raw.call_timeout,
        "lease",
        format!(
            "{} is not longer than `dispatch.call_timeout` ({}), so a running delivery could be claimed twice; raise the lease or lower the call timeout",
            humantime::format_duration(raw.lease),
            humantime::format_duration(raw.call_timeout)
        ),
    );

    DispatchConfig {
        workers: usize::try_from(raw.workers).unwrap_or(usize::MAX),
        initial_backoff: raw.initial_backoff,
        max_backoff: raw.max_backoff,
        max_attempts: u32::try_from(raw.max_attempts).unwrap_or(u32::MAX),
        max_age: raw.max_age,
        lease: raw.lease,
        call_timeout: raw.call_timeout,
        retry_after_cap: raw.retry_after_cap,
        idle_poll: raw.idle_poll,
        shutdown_grace: raw.shutdown_grace,
    }
}

fn check_targets(
    tables: &[toml::Table],
    dispatch: &DispatchConfig,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<TargetSpec> {
    let mut targets: Vec<TargetSpec> = Vec::new();
    let mut files: Vec<(PathBuf, TargetId)> = Vec::new();

    for (index, table) in tables.iter().enumerate() {
        let target = match prepare_target(index, table) {
            Ok(target) => target,
            Err(target_problems) => {
                problems.extend(target_problems);
                continue;
            }
        };
        if targets.iter().any(|seen| seen.id == target.id) {
            problems.push(ConfigProblem::new(
                format!("targets[{index}].id"),
                format!(
                    "target id `{}` is used twice; give each target its own id",
                    target.id
                ),
            ));
        }
        if let Some(duration) = target.max_attempt_duration {
            if duration >= dispatch.lease {
                problems.push(ConfigProblem::new(
                    format!("targets[{index}].request_timeout"),
                    format!(
                        "one attempt on this target may take up to {}, which is not shorter than `dispatch.lease` ({}), so another worker could repeat a slow attempt; raise `dispatch.lease` or lower the timeout",
                        humantime::format_duration(duration),
                        humantime::format_duration(dispatch.lease)
                    ),
                ));
            }
        }
        if let Some(path) = &target.exclusive_file {
            if let Some((_, other)) = files.iter().find(|(seen, _)| seen == path) {
                problems.push(ConfigProblem::new(
                    format!("targets[{index}].path"),
                    format!(
                        "`{}` is also written by target `{other}`; give each file target its own file",
                        path.display()
                    ),
                ));
            }
            files.push((path.clone(), target.id.clone()));
        }
        targets.push(target);
    }
    targets
}

fn check_stores(
    raw: &[RawStore],
    target_tables: &[toml::Table],
    targets: &[TargetSpec],
    problems: &mut Vec<ConfigProblem>,
) -> Vec<StoreConfig> {
    if raw.is_empty() {
        problems.push(ConfigProblem::new(
            "stores",
            "no store is configured; add a [[stores]] table with an id, signing_secrets and targets",
        ));
    }
    let mut stores: Vec<StoreConfig> = Vec::new();
    let mut seen_ids: HashSet<&str> = HashSet::new();

    for (index, store) in raw.iter().enumerate() {
        let key = format!("stores[{index}]");
        let id = match StoreId::new(store.id.clone()) {
            Ok(id) => Some(id),
            Err(error) => {
                problems.push(ConfigProblem::new(format!("{key}.id"), error.to_string()));
                None
            }
        };
        if !seen_ids.insert(store.id.as_str()) {
            problems.push(ConfigProblem::new(
                format!("{key}.id"),
                format!(
                    "store id `{}` is used twice; give each store its own id",
                    store.id
                ),
            ));
        }

        if store.signing_secrets.is_empty() {
            problems.push(ConfigProblem::new(
                format!("{key}.signing_secrets"),
                "no signing secret; add the store's Wamebo signing secret as [\"env:NAME\"] or [\"file:/path\"]",
            ));
        }
        let secrets: Vec<ConfigSecret> = store
            .signing_secrets
            .iter()
            .enumerate()
            .filter_map(|(secret_index, reference)| {
                resolve_secret(
                    &format!("{key}.signing_secrets[{secret_index}]"),
                    reference,
                    problems,
                )
            })
            .collect();

        let mut store_targets: Vec<TargetId> = Vec::new();
        for (target_index, name) in store.targets.iter().enumerate() {
            let target_key = format!("{key}.targets[{target_index}]");
            let defined = targets.iter().any(|target| target.id.as_str() == name)
                || target_tables
                    .iter()
                    .any(|table| table.get("id").and_then(toml::Value::as_str) == Some(name));
            if !defined {
                problems.push(ConfigProblem::new(
                    target_key,
                    format!("target `{name}` is not defined; add a [[targets]] table with id = \"{name}\" or remove it from the list"),
                ));
                continue;
            }
            if store_targets.iter().any(|seen| seen.as_str() == name) {
                problems.push(ConfigProblem::new(
                    target_key,
                    format!("target `{name}` is listed twice; list it once"),
                ));
                continue;
            }
            if let Ok(target_id) = TargetId::new(name.clone()) {
                store_targets.push(target_id);
            }
        }

        if let Some(id) = id {
            stores.push(StoreConfig {
                id,
                signing_secrets: secrets,
                targets: store_targets,
                on_total_mismatch: store.on_total_mismatch,
            });
        }
    }
    stores
}

fn resolve_secret(
    key: &str,
    reference: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<ConfigSecret> {
    match ConfigSecret::resolve(reference) {
        Ok(secret) => Some(secret),
        Err(error) => {
            problems.push(ConfigProblem::new(key, error.to_string()));
            None
        }
    }
}

fn unrouted_targets(stores: &[StoreConfig], targets: &[TargetSpec]) -> Vec<String> {
    let mut warnings = Vec::new();
    for target in targets {
        let routed = stores
            .iter()
            .any(|store| store.targets.contains(&target.id));
        if !routed {
            warnings.push(format!(
                "target `{}` is not listed in any store's `targets`, so it receives nothing",
                target.id
            ));
        }
    }
    for store in stores {
        if store.targets.is_empty() {
            warnings.push(format!(
                "store `{}` has no targets, so its events are recorded but delivered nowhere",
                store.id
            ));
        }
    }
    warnings
}
