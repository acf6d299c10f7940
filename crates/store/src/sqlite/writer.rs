//! The writer thread: one connection that owns every write, and group commit.
//!
//! Callers send write requests over a channel. The thread takes the first
//! request, then every request already queued (up to a maximum, and without
//! waiting for more), runs them in one transaction with a savepoint each,
//! commits once, and only then answers each caller. One fsync thus covers
//! the whole batch, and a request that fails rolls back to its savepoint
//! without undoing the others.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::Utc;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use wamebo_core::TargetId;

use super::error::store_error;
use super::write_ops::{self, WriteError};
use crate::error::StoreError;
use crate::model::{
    AttemptOutcome, ClaimRequest, ClaimedDelivery, DeliveryId, EventId, Lease, NewEvent,
    RecordOutcome, ReplayOutcome,
};

/// Where the writer sends a request's result once its batch is committed.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A write operation waiting for the writer thread.
#[derive(Debug)]
pub(super) enum WriteRequest {
    RecordEvent {
        event: NewEvent,
        reply: Reply<RecordOutcome>,
    },
    ClaimDue {
        request: ClaimRequest,
        reply: Reply<Vec<ClaimedDelivery>>,
    },
    Complete {
        lease: Lease,
        outcome: AttemptOutcome,
        reply: Reply<()>,
    },
    ReplayEvent {
        event_id: EventId,
        targets: Vec<TargetId>,
        reply: Reply<ReplayOutcome>,
    },
    ReplayDelivery {
        delivery_id: DeliveryId,
        reply: Reply<()>,
    },
}

/// The handle to the writer thread. Dropping it lets the thread finish the
/// requests already queued, then waits for it to close its connection.
#[derive(Debug)]
pub(super) struct Writer {
    path: Arc<Path>,
    sender: Option<mpsc::Sender<WriteRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, a connection already migrated.
    pub(super) fn spawn(
        conn: Connection,
        path: Arc<Path>,
        max_batch: usize,
        queue_capacity: usize,
    ) -> Result<Self, StoreError> {
        let (sender, receiver) = mpsc::channel(queue_capacity.max(1));
        let runner = BatchRunner::new(conn, Arc::clone(&path));
        let max_batch = max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run_writer(runner, receiver, max_batch))
            .map_err(|err| {
                StoreError::Unavailable(format!(
                    "starting the sqlite writer thread for {} failed: {err}",
                    path.display()
                ))
            })?;
        Ok(Self {
            path,
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Queues a request and waits until its batch is committed.
    pub(super) async fn submit<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> WriteRequest,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.as_ref().ok_or_else(|| self.stopped())?;
        sender
            .send(request(reply))
            .await
            .map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Returns false once the writer thread has ended, which only a bug can
    /// cause while the store lives.
    pub(super) fn is_running(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    fn stopped(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the sqlite writer thread for {} stopped before answering; restart the bridge",
            self.path.display()
        ))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop after the queued requests.
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!(path = %self.path.display(), "sqlite writer thread panicked");
            }
        }
    }
}

fn run_writer(
    mut runner: BatchRunner,
    mut receiver: mpsc::Receiver<WriteRequest>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut finished = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }

        let ran = catch_unwind(AssertUnwindSafe(|| runner.run(&mut batch, &mut finished)));
        if ran.is_err() {
            // The panic hook has printed the panic. Requests left in the
            // batch drop their replies, so their callers get an error.
            tracing::error!(
                path = %runner.path.display(),
                requests = batch.len() + finished.len(),
                "sqlite write batch panicked; its requests fail and the writer continues"
            );
            runner.rollback();
        }
        batch.clear();
        finished.clear();
    }
}

/// A request that has run, with its result held until the commit.
enum Finished {
    Record(Reply<RecordOutcome>, Result<RecordOutcome, StoreError>),
    Claim(
        Reply<Vec<ClaimedDelivery>>,
        Result<Vec<ClaimedDelivery>, StoreError>,
    ),
    Unit(Reply<()>, Result<(), StoreError>),
    Replay(Reply<ReplayOutcome>, Result<ReplayOutcome, StoreError>),
}

impl Finished {
    fn error(&self) -> Option<&StoreError> {
        match self {
            Finished::Record(_, result) => result.as_ref().err(),
            Finished::Claim(_, result) => result.as_ref().err(),
            Finished::Unit(_, result) => result.as_ref().err(),
            Finished::Replay(_, result) => result.as_ref().err(),
        }
    }

    /// Answers the caller. When the batch failed, a success becomes the
    /// batch's error, because nothing it wrote was committed.
    fn answer(self, batch_failure: Option<&str>) {
        match self {
            Finished::Record(reply, result) => answer(reply, result, batch_failure),
            Finished::Claim(reply, result) => answer(reply, result, batch_failure),
            Finished::Unit(reply, result) => answer(reply, result, batch_failure),
            Finished::Replay(reply, result) => answer(reply, result, batch_failure),
        }
    }
}

fn answer<T>(reply: Reply<T>, result: Result<T, StoreError>, batch_failure: Option<&str>) {
    let result = match (result, batch_failure) {
        (Ok(_), Some(message)) => Err(StoreError::Unavailable(message.to_owned())),
        (result, _) => result,
    };
    // A caller that stopped waiting no longer needs the answer.
    let _ = reply.send(result);
}

fn into_store_error(
    path: &Path,
    operation: impl FnOnce() -> String,
    err: WriteError,
) -> StoreError {
    match err {
        WriteError::Sqlite(err) => store_error(path, &operation(), err),
        WriteError::Store(err) => err,
    }
}

impl WriteRequest {
    fn execute(self, conn: &Connection, path: &Path) -> Finished {
        let now = Utc::now().timestamp_micros();
        match self {
            WriteRequest::RecordEvent { event, reply } => {
                let result = write_ops::record_event(conn, &event, now).map_err(|err| {
                    let operation =
                        || format!("recording event {} for store {}", event.key, event.store_id);
                    into_store_error(path, operation, err)
                });
                Finished::Record(reply, result)
            }
            WriteRequest::ClaimDue { request, reply } => {
                let result = write_ops::claim_due(conn, &request, now).map_err(|err| {
                    into_store_error(path, || "claiming due deliveries".to_owned(), err)
                });
                Finished::Claim(reply, result)
            }
            WriteRequest::Complete {
                lease,
                outcome,
                reply,
            } => {
                let result = write_ops::complete(conn, &lease, &outcome, now).map_err(|err| {
                    let operation = || format!("completing delivery {}", lease.delivery_id);
                    into_store_error(path, operation, err)
                });
                Finished::Unit(reply, result)
            }
            WriteRequest::ReplayEvent {
                event_id,
                targets,
                reply,
            } => {
                let result =
                    write_ops::replay_event(conn, event_id, &targets, now).map_err(|err| {
                        into_store_error(path, || format!("replaying event {event_id}"), err)
                    });
                Finished::Replay(reply, result)
            }
            WriteRequest::ReplayDelivery { delivery_id, reply } => {
                let result = write_ops::replay_delivery(conn, delivery_id, now).map_err(|err| {
                    into_store_error(path, || format!("replaying delivery {delivery_id}"), err)
                });
                Finished::Unit(reply, result)
            }
        }
    }

    /// Answers the caller with `message` without running the request.
    fn reject(self, message: &str) {
        fn reject<T>(reply: Reply<T>, message: &str) {
            answer(
                reply,
                Err(StoreError::Unavailable(message.to_owned())),
                None,
            );
        }
        match self {
            WriteRequest::RecordEvent { reply, .. } => reject(reply, message),
            WriteRequest::ClaimDue { reply, .. } => reject(reply, message),
            WriteRequest::Complete { reply, .. } => reject(reply, message),
            WriteRequest::ReplayEvent { reply, .. } => reject(reply, message),
            WriteRequest::ReplayDelivery { reply, .. } => reject(reply, message),
        }
    }
}

/// Runs batches on the write connection and tracks whether writes succeed,
/// so a failing disk is logged once when it starts and once when it passes.
struct BatchRunner {
    conn: Connection,
    path: Arc<Path>,
    failed_batches: u64,
}

impl BatchRunner {
    fn new(conn: Connection, path: Arc<Path>) -> Self {
        Self {
            conn,
            path,
            failed_batches: 0,
        }
    }

    /// Runs and commits `batch`, then answers every request in it. Both
    /// vectors are empty afterwards and keep their capacity.
    fn run(&mut self, batch: &mut Vec<WriteRequest>, finished: &mut Vec<Finished>) {
        let failure = match self.statement("BEGIN IMMEDIATE") {
            Ok(()) => self.run_requests(batch, finished),
            Err(err) => Some(self.failure_message("starting a write transaction", err)),
        };
        let failure = failure.or_else(|| {
            self.statement("COMMIT")
                .err()
                .map(|err| self.failure_message("committing a write transaction", err))
        });
        if failure.is_some() {
            self.rollback();
        }

        let failure = failure.as_deref();
        for request in finished.drain(..) {
            request.answer(failure);
        }
        for request in batch.drain(..) {
            request.reject(failure.unwrap_or("the sqlite write batch was abandoned"));
        }
        self.track_health(failure);
    }

    /// Runs each request under its own savepoint, stopping at the first
    /// failure that cost the whole transaction (a full disk, an I/O error):
    /// its message is returned, and the requests not yet run stay in `batch`.
    fn run_requests(
        &mut self,
        batch: &mut Vec<WriteRequest>,
        finished: &mut Vec<Finished>,
    ) -> Option<String> {
        let mut requests = batch.drain(..);
        for request in requests.by_ref() {
            if let Err(err) = self.statement("SAVEPOINT request") {
                request.reject(&self.failure_message("starting a savepoint", err));
                break;
            }
            let result = request.execute(&self.conn, &self.path);
            let undo = if result.error().is_some() {
                self.statement("ROLLBACK TO request")
            } else {
                Ok(())
            };
            let release = undo.and_then(|()| self.statement("RELEASE request"));

            let fatal = match (result.error(), release) {
                (Some(StoreError::Unavailable(message)), _) => Some(message.clone()),
                (_, Err(err)) => Some(self.failure_message("releasing a savepoint", err)),
                // SQLite may roll back the whole transaction on its own after
                // some errors, which undoes the earlier requests too.
                _ if self.conn.is_autocommit() => Some(format!(
                    "a write transaction on {} was rolled back by sqlite",
                    self.path.display()
                )),
                _ => None,
            };
            finished.push(result);
            if fatal.is_some() {
                let rest: Vec<WriteRequest> = requests.collect();
                batch.extend(rest);
                return fatal;
            }
        }
        None
    }

    fn statement(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn failure_message(&self, operation: &str, err: rusqlite::Error) -> String {
        match store_error(&self.path, operation, err) {
            StoreError::Unavailable(message) | StoreError::Corrupt(message) => message,
            other => other.to_string(),
        }
    }

    /// Ends an open transaction without keeping any of its changes.
    fn rollback(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        if let Err(err) = self.conn.execute_batch("ROLLBACK") {
            tracing::error!(path = %self.path.display(), error = %err, "rolling back a failed sqlite write batch failed");
        }
    }

    fn track_health(&mut self, failure: Option<&str>) {
        match failure {
            Some(message) => {
                if self.failed_batches == 0 {
                    tracing::error!(
                        path = %self.path.display(),
                        error = message,
                        "sqlite writes are failing; callers get unavailable errors until they succeed again"
                    );
                }
                self.failed_batches += 1;
            }
            None if self.failed_batches > 0 => {
                tracing::info!(
                    path = %self.path.display(),
                    failed_batches = self.failed_batches,
                    "sqlite writes succeed again"
                );
                self.failed_batches = 0;
            }
            None => {}
        }
    }
}
