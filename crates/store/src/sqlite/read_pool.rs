//! A small pool of read-only connections, used from blocking tasks so that
//! reads do not queue behind the writer thread or block the async runtime.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::connection::open_reader;
use super::error::store_error;
use crate::error::StoreError;

/// Read connections, opened on first use and reused afterwards.
#[derive(Debug)]
pub(super) struct ReadPool {
    path: Arc<Path>,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// Creates a pool of at most `size` connections and opens one of them,
    /// so that an unreadable database fails at start.
    pub(super) fn open(
        path: Arc<Path>,
        size: usize,
        busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let first = open_reader(&path, busy_timeout)
            .map_err(|err| store_error(&path, "opening a read connection", err))?;
        Ok(Self {
            path,
            busy_timeout,
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size.max(1))),
        })
    }

    /// Runs `read` on a pooled connection in a blocking task. `operation`
    /// names the read in errors, such as "listing events".
    pub(super) async fn run<T, F>(
        self: &Arc<Self>,
        operation: &'static str,
        read: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| self.closed())?;
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.checkout(operation)?;
            let result = read(&conn).map_err(|err| store_error(&pool.path, operation, err));
            pool.idle_connections().push(conn);
            result
        });
        task.await.map_err(|err| {
            StoreError::Unavailable(format!(
                "{operation} in {} failed: the read task ended early: {err}",
                self.path.display()
            ))
        })?
    }

    fn checkout(&self, operation: &str) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle_connections().pop() {
            return Ok(conn);
        }
        open_reader(&self.path, self.busy_timeout)
            .map_err(|err| store_error(&self.path, operation, err))
    }

    fn idle_connections(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock leaves the list itself intact.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn closed(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the read pool for {} is closed",
            self.path.display()
        ))
    }
}
