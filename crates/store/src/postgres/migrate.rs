//! Embedded schema migrations, applied under an advisory lock.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

use super::errors::map_error;
use super::options::PgOptions;
use crate::error::StoreError;

/// One embedded migration: its version, name and SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in the order they apply. Append only: an applied
/// migration's SQL must never change, because its checksum is recorded.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../../migrations/postgres/0001_initial.sql"),
}];

/// The first key of the two-key advisory lock that serializes migrations.
/// The second key is a hash of the schema, so migrations of different
/// schemas do not wait for each other.
const MIGRATION_LOCK_CLASS: i32 = 0x5741_4d42; // "WAMB"

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The versions applied by this run, in order. Empty when the schema was
    /// already current.
    pub applied: Vec<u32>,
    /// The schema version after the run.
    pub version: u32,
}

/// Applies the embedded migrations that the database lacks and reports
/// which ones it applied.
///
/// Creates `options.schema` first if it is set and missing. Several
/// processes may call this at once, as replicas starting together do: a
/// session-level `pg_advisory_lock` lets one apply the migrations while the
/// others wait and then find nothing left to do.
pub async fn migrate(url: &str, options: &PgOptions) -> Result<MigrationReport, StoreError> {
    let connect_options = options.connect_options(url)?;
    migrate_with(&connect_options, options).await
}

pub(crate) async fn migrate_with(
    connect_options: &PgConnectOptions,
    options: &PgOptions,
) -> Result<MigrationReport, StoreError> {
    // A dedicated connection, because the advisory lock belongs to the
    // session: a pooled connection could go back to the pool still holding it.
    let mut connection = connect(connect_options, options.connect_timeout).await?;
    let lock_key = schema_lock_key(options.schema.as_deref());
    set_migration_lock(&mut connection, lock_key, true)
        .await
        .map_err(|error| map_error("take the migration lock", error))?;

    let result = apply_pending(&mut connection, options.schema.as_deref()).await;

    // Closing the session releases the lock even if the unlock fails.
    let unlocked = set_migration_lock(&mut connection, lock_key, false)
        .await
        .is_ok();
    if unlocked {
        let _ = connection.close().await;
    }
    result
}

/// Acquires (`acquire = true`) or releases the session-level migration
/// lock. Acquiring waits while another session has the lock.
async fn set_migration_lock(
    connection: &mut PgConnection,
    key: i32,
    acquire: bool,
) -> Result<(), sqlx::Error> {
    let statement = if acquire {
        "SELECT pg_advisory_lock($1, $2)"
    } else {
        "SELECT pg_advisory_unlock($1, $2)"
    };
    sqlx::query(statement)
        .bind(MIGRATION_LOCK_CLASS)
        .bind(key)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

async fn connect(options: &PgConnectOptions, limit: Duration) -> Result<PgConnection, StoreError> {
    match tokio::time::timeout(limit, PgConnection::connect_with(options)).await {
        Ok(result) => result.map_err(|error| {
            map_error(
                &format!(
                    "connect to PostgreSQL at {}:{}",
                    options.get_host(),
                    options.get_port()
                ),
                error,
            )
        }),
        Err(_) => Err(StoreError::Unavailable(format!(
            "connecting to PostgreSQL at {}:{} timed out after {} ms; check that the server is up \
             or raise storage.connect_timeout",
            options.get_host(),
            options.get_port(),
            limit.as_millis()
        ))),
    }
}

async fn apply_pending(
    connection: &mut PgConnection,
    schema: Option<&str>,
) -> Result<MigrationReport, StoreError> {
    if let Some(schema) = schema {
        // The name was validated as a plain lower-case identifier, so it
        // needs no quoting.
        let statement = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
        sqlx::query(&statement)
            .execute(&mut *connection)
            .await
            .map_err(|error| map_error("create the schema", error))?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             sha256     BYTEA NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *connection)
    .await
    .map_err(|error| map_error("create the schema_migrations table", error))?;

    let applied = sqlx::query("SELECT version, sha256 FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| map_error("read the schema_migrations table", error))?;
    let mut applied_versions = Vec::with_capacity(applied.len());
    for row in &applied {
        let version: i32 = row
            .try_get("version")
            .map_err(|e| map_error("read migrations", e))?;
        let sha256: Vec<u8> = row
            .try_get("sha256")
            .map_err(|e| map_error("read migrations", e))?;
        check_applied(version, &sha256)?;
        applied_versions.push(version);
    }

    let mut newly_applied = Vec::new();
    for migration in MIGRATIONS {
        if applied_versions.contains(&migration.version) {
            continue;
        }
        apply_one(connection, migration).await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied PostgreSQL migration"
        );
        newly_applied.push(migration.version);
        applied_versions.push(migration.version);
    }
    Ok(MigrationReport {
        applied: newly_applied.into_iter().map(version_number).collect(),
        version: applied_versions.into_iter().max().map_or(0, version_number),
    })
}

/// Converts a stored version, positive by construction, to the report's type.
fn version_number(version: i32) -> u32 {
    u32::try_from(version).unwrap_or(0)
}

/// Rejects a database migrated by a newer binary, or one whose recorded
/// migration differs from the embedded one.
fn check_applied(version: i32, sha256: &[u8]) -> Result<(), StoreError> {
    let Some(migration) = MIGRATIONS.iter().find(|m| m.version == version) else {
        return Err(StoreError::Corrupt(format!(
            "the PostgreSQL schema has migration {version}, which this wamebo-bridge does not know \
             (it knows up to {}); run a wamebo-bridge at least as new as the one that migrated it",
            MIGRATIONS.last().map_or(0, |m| m.version)
        )));
    };
    if Sha256::digest(migration.sql).as_slice() != sha256 {
        return Err(StoreError::Corrupt(format!(
            "PostgreSQL migration {version} ({}) was applied from different SQL than this \
             wamebo-bridge embeds; restore the schema or use the matching release",
            migration.name
        )));
    }
    Ok(())
}

async fn apply_one(connection: &mut PgConnection, migration: &Migration) -> Result<(), StoreError> {
    let action = format!("apply migration {} ({})", migration.version, migration.name);
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| map_error(&action, error))?;
    // A query string without arguments runs over the simple query
    // protocol, which accepts the several statements of a migration.
    sqlx::Executor::execute(&mut *transaction, migration.sql)
        .await
        .map_err(|error| migration_error(&action, error))?;
    sqlx::query("INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)")
        .bind(migration.version)
        .bind(migration.name)
        .bind(Sha256::digest(migration.sql).as_slice())
        .execute(&mut *transaction)
        .await
        .map_err(|error| map_error(&action, error))?;
    transaction
        .commit()
        .await
        .map_err(|error| map_error(&action, error))
}

/// Maps a failed migration statement to [`StoreError::Corrupt`], unless the
/// connection broke.
fn migration_error(action: &str, error: sqlx::Error) -> StoreError {
    match map_error(action, error) {
        StoreError::Unavailable(message) => StoreError::Unavailable(message),
        other => StoreError::Corrupt(format!("{other}; the migration was rolled back")),
    }
}

/// Hashes the schema name (FNV-1a, 32 bits) into the advisory lock's second
/// key. A stable hash, unlike `std`'s, so every version agrees on the key.
fn schema_lock_key(schema: Option<&str>) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in schema.unwrap_or("").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
        }
    }

    #[test]
    fn unknown_applied_version_is_rejected() {
        let error = check_applied(999, &[0; 32]).unwrap_err();

        assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    }

    #[test]
    fn changed_migration_is_rejected() {
        let error = check_applied(1, &[0; 32]).unwrap_err();

        assert!(error.to_string().contains("different SQL"), "{error}");
    }

    #[test]
    fn migration_future_is_send() {
        // Callers spawn migrations on multi-threaded runtimes; some sqlx
        // calls (such as `raw_sql`) make an async fn's future not `Send`.
        fn assert_send<T: Send>(_: &T) {}
        let options = PgOptions::default();
        let connect_options = options.connect_options("postgres://localhost/db").unwrap();

        assert_send(&migrate_with(&connect_options, &options));
        assert_send(&crate::PgStore::connect(
            "postgres://localhost/db",
            options.clone(),
        ));
    }

    #[test]
    fn lock_keys_differ_by_schema() {
        assert_ne!(schema_lock_key(Some("a")), schema_lock_key(Some("b")));
        assert_eq!(schema_lock_key(None), schema_lock_key(Some("")));
    }
}
