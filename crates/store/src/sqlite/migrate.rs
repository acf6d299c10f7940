//! Schema migrations embedded in the binary and applied in order.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::store_error;
use crate::error::StoreError;

/// One schema change, kept in `migrations/sqlite/NNNN_name.sql`.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, by ascending version. A new file gets the next version.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
}];

/// The result of a migration run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The versions applied by this run, in order. Empty when the schema was
    /// already current.
    pub applied: Vec<u32>,
    /// The schema version after the run.
    pub version: u32,
}

/// Applies every migration newer than the database's schema version, all in
/// one immediate transaction, so two processes starting together apply each
/// migration once and a failed run changes nothing.
pub(super) fn apply_migrations(
    conn: &mut Connection,
    path: &Path,
) -> Result<MigrationReport, StoreError> {
    let reading = "reading the schema version";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|err| store_error(path, reading, err))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(|err| store_error(path, reading, err))?;
    let current: u32 = tx
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(|err| store_error(path, reading, err))?;

    let latest = latest_version();
    if current > latest {
        return Err(StoreError::Corrupt(format!(
            "database {} has schema version {current}, newer than version {latest} that this \
             build knows: run the wamebo-bridge release that migrated it, or a newer one",
            path.display()
        )));
    }

    let mut applied = Vec::new();
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        let operation = format!(
            "applying migration {:04}_{}",
            migration.version, migration.name
        );
        tx.execute_batch(migration.sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    (
                        migration.version,
                        migration.name,
                        chrono::Utc::now().timestamp_micros(),
                    ),
                )
            })
            .map_err(|err| store_error(path, &operation, err))?;
        applied.push(migration.version);
    }
    tx.commit()
        .map_err(|err| store_error(path, "committing migrations", err))?;

    Ok(MigrationReport {
        applied,
        version: latest,
    })
}

/// The schema version this build creates.
pub(super) fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_ascend_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
        }
    }

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();

        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|migration| format!("{:04}_{}.sql", migration.version, migration.name))
            .collect();
        assert_eq!(files, embedded);
    }

    #[test]
    fn second_run_applies_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let mut conn = Connection::open(&path).unwrap();

        let first = apply_migrations(&mut conn, &path).unwrap();
        let second = apply_migrations(&mut conn, &path).unwrap();

        assert_eq!(first.applied, vec![1]);
        assert!(second.applied.is_empty());
        assert_eq!(second.version, latest_version());
        let rows: u32 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(rows as usize, MIGRATIONS.len());
    }

    #[test]
    fn due_index_serves_claims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let mut conn = Connection::open(&path).unwrap();
        apply_migrations(&mut conn, &path).unwrap();

        let plan: Vec<String> = conn
            .prepare("EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2")
            .unwrap()
            .query_map((0, 10), |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();

        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX deliveries_due")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
