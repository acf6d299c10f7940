//! [`SqliteStore`]: the embedded backend of the [`Store`] trait.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wamebo_core::TargetId;

use super::connection::{create_parent_dir, open_writer, FileIdentity};
use super::migrate::{apply_migrations, MigrationReport};
use super::options::{parse_sqlite_url, SqliteOptions};
use super::read_ops;
use super::read_pool::ReadPool;
use super::writer::{WriteRequest, Writer};
use crate::error::StoreError;
use crate::model::*;
use crate::store::Store;

/// Storage in one SQLite file, for a single bridge process.
///
/// A dedicated writer thread owns the only read-write connection and commits
/// concurrent write requests together (see [`SqliteOptions::max_batch`]).
/// Reads run on a small pool of read-only connections. Dropping the store
/// finishes the queued writes and closes every connection.
#[derive(Debug)]
pub struct SqliteStore {
    path: Arc<Path>,
    /// The file the connections opened; `None` if it could not be read.
    file: Option<FileIdentity>,
    // Readers are declared, and so dropped, before the writer: the writer's
    // connection closes last and can checkpoint and remove the WAL file.
    readers: Arc<ReadPool>,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (or creates) the database at `location`, a plain path or an
    /// `sqlite://` URL (see [`parse_sqlite_url`]), creating its directory,
    /// applying pending migrations, and starting the writer thread.
    ///
    /// This blocks on file I/O, so call it at start-up or from a blocking
    /// task.
    pub fn open(location: &str, options: SqliteOptions) -> Result<Self, StoreError> {
        let path: Arc<Path> = prepare_location(location)?.into();
        let mut conn = open_writer(&path, &options)?;
        let report = apply_migrations(&mut conn, &path)?;
        if !report.applied.is_empty() {
            tracing::info!(
                path = %path.display(),
                applied = ?report.applied,
                version = report.version,
                "applied sqlite migrations"
            );
        }

        let readers = ReadPool::open(
            Arc::clone(&path),
            options.read_connections,
            options.busy_timeout,
        )?;
        let writer = Writer::spawn(
            conn,
            Arc::clone(&path),
            options.max_batch,
            options.queue_capacity,
        )?;
        Ok(Self {
            file: FileIdentity::of(&path).ok(),
            path,
            readers: Arc::new(readers),
            writer,
        })
    }

    /// Applies pending migrations to the database at `location` and closes
    /// it, for operators who migrate before starting the service. Running
    /// it again applies nothing.
    pub fn migrate(location: &str, options: &SqliteOptions) -> Result<MigrationReport, StoreError> {
        let path = prepare_location(location)?;
        let mut conn = open_writer(&path, options)?;
        apply_migrations(&mut conn, &path)
    }

    /// Returns the database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn prepare_location(location: &str) -> Result<PathBuf, StoreError> {
    let path =
        parse_sqlite_url(location).map_err(|err| StoreError::Unavailable(err.to_string()))?;
    create_parent_dir(&path)?;
    Ok(path)
}

#[async_trait]
impl Store for SqliteStore {
    async fn record_event(&self, event: NewEvent) -> Result<RecordOutcome, StoreError> {
        self.writer
            .submit(|reply| WriteRequest::RecordEvent { event, reply })
            .await
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.writer
            .submit(|reply| WriteRequest::ClaimDue { request, reply })
            .await
    }

    async fn complete(&self, lease: &Lease, outcome: AttemptOutcome) -> Result<(), StoreError> {
        let lease = lease.clone();
        self.writer
            .submit(|reply| WriteRequest::Complete {
                lease,
                outcome,
                reply,
            })
            .await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.readers
            .run("reading the next due time", read_ops::next_due_at)
            .await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        let status_condition = match filter.status {
            None => None,
            Some(status) => Some(read_ops::event_status_condition(status).ok_or_else(|| {
                StoreError::InvalidState(format!(
                    "invalid event status filter `{status}`: use accepted or quarantined"
                ))
            })?),
        };
        self.readers
            .run("listing events", move |conn| {
                read_ops::list_events(conn, &filter, status_condition)
            })
            .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.readers
            .run("reading an event", move |conn| {
                read_ops::get_event(conn, id)
            })
            .await
    }

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.readers
            .run("listing deliveries", move |conn| {
                read_ops::list_deliveries(conn, &filter)
            })
            .await
    }

    async fn list_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.readers
            .run("listing attempts", move |conn| {
                read_ops::list_attempts(conn, delivery_id)
            })
            .await
    }

    async fn replay_event(
        &self,
        id: EventId,
        targets: &[TargetId],
    ) -> Result<ReplayOutcome, StoreError> {
        let targets = targets.to_vec();
        self.writer
            .submit(|reply| WriteRequest::ReplayEvent {
                event_id: id,
                targets,
                reply,
            })
            .await
    }

    async fn replay_delivery(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.writer
            .submit(|reply| WriteRequest::ReplayDelivery {
                delivery_id: id,
                reply,
            })
            .await
    }

    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        self.readers
            .run("counting deliveries", read_ops::delivery_counts)
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if !self.writer.is_running() {
            return Err(StoreError::Unavailable(format!(
                "the sqlite writer thread for {} has stopped; restart the bridge",
                self.path.display()
            )));
        }
        if let Some(file) = self.file {
            file.check(&self.path).map_err(StoreError::Unavailable)?;
        }
        self.readers
            .run("checking the database", read_ops::schema_version)
            .await?;
        Ok(())
    }
}
