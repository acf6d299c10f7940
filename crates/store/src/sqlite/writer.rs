//! The writer thread: one connection that owns every write, and group commit.
//!
//! Callers send write requests over a channel. The thread takes the first
//! request, then every request already queued (up to a maximum, and without
//! waiting for more), runs them in one transaction with a savepoint each,
//! commits once, and only then sends each caller its result. One fsync thus covers
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

use super::connection::FileIdentity;
use super::error::store_error;
use super::write_ops::{self, WriteError};
use crate::error::StoreError;
use crate::model::{
    AttemptOutcome, ClaimRequest, ClaimedDelivery, DeliveryId, EventId, Lease, NewEvent,
    RecordOutcome, ReplayOutcome,
};

/// The channel that carries a request's result once its batch is committed.
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
        answer.await.map_err(|_| {
            StoreError::Unavailable(format!(
                "the sqlite writer for {} dropped a write request after an internal error; \
                 see the error log and retry",
                self.path.display()
            ))
        })?
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
            "the sqlite writer thread for {} has stopped; restart the bridge",
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

    /// Sends the result to the caller. When the batch failed, a success
    /// becomes the batch's error, because nothing it wrote was committed.
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
    // A caller that stopped waiting no longer needs the result.
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

    /// Fails the request with `message` without running it.
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
    /// The file `conn` writes to; `None` if it could not be read at start.
    file: Option<FileIdentity>,
    failed_batches: u64,
}

impl BatchRunner {
    fn new(conn: Connection, path: Arc<Path>) -> Self {
        let file = FileIdentity::of(&path).ok();
        Self {
            conn,
            path,
            file,
            failed_batches: 0,
        }
    }

    /// Runs and commits `batch`, then sends every request its result. Both
    /// vectors are empty afterwards and keep their capacity.
    fn run(&mut self, batch: &mut Vec<WriteRequest>, finished: &mut Vec<Finished>) {
        let file_check = self.file.map_or(Ok(()), |file| file.check(&self.path));
        let failure = match file_check {
            Err(message) => Some(message),
            Ok(()) => match self.statement("BEGIN IMMEDIATE") {
                Ok(()) => self.run_requests(batch, finished),
                Err(err) => Some(self.failure_message("starting a write transaction", err)),
            },
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

    /// Runs each request under its own savepoint. A request that fails is
    /// rolled back to its savepoint and the batch goes on. Only when the
    /// transaction itself is lost (SQLite may roll it back on its own after
    /// a full disk or an I/O error) does the batch stop: the message is
    /// returned, and the requests not yet run stay in `batch`.
    fn run_requests(
        &mut self,
        batch: &mut Vec<WriteRequest>,
        finished: &mut Vec<Finished>,
    ) -> Option<String> {
        let mut requests = batch.drain(..);
        let mut fatal = None;
        for request in requests.by_ref() {
            if let Err(err) = self.statement("SAVEPOINT request") {
                let message = self.failure_message("starting a savepoint", err);
                request.reject(&message);
                fatal = Some(message);
                break;
            }
            let result = request.execute(&self.conn, &self.path);
            let undo = if result.error().is_some() && !self.conn.is_autocommit() {
                self.statement("ROLLBACK TO request")
            } else {
                Ok(())
            };
            let release = undo.and_then(|()| {
                if self.conn.is_autocommit() {
                    Ok(())
                } else {
                    self.statement("RELEASE request")
                }
            });
            finished.push(result);

            if let Err(err) = release {
                fatal = Some(self.failure_message("ending a savepoint", err));
                break;
            }
            if self.conn.is_autocommit() {
                fatal = Some(format!(
                    "sqlite rolled back a write transaction on {} after an error",
                    self.path.display()
                ));
                break;
            }
        }
        let rest: Vec<WriteRequest> = requests.collect();
        batch.extend(rest);
        fatal
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use tempfile::TempDir;
    use wamebo_core::{ReasonCode, StoreId};

    use super::*;
    use crate::model::{AttemptOutcome, EventStatus};
    use crate::sqlite::connection::open_writer;
    use crate::sqlite::migrate::apply_migrations;
    use crate::sqlite::options::SqliteOptions;

    fn runner(options: &SqliteOptions) -> (TempDir, BatchRunner) {
        let dir = tempfile::tempdir().unwrap();
        let path: Arc<Path> = dir.path().join("bridge.db").into();
        let mut conn = open_writer(&path, options).unwrap();
        apply_migrations(&mut conn, &path).unwrap();
        (dir, BatchRunner::new(conn, path))
    }

    fn new_event(key: &str, body: Vec<u8>, targets: &[&str]) -> NewEvent {
        NewEvent {
            store_id: StoreId::new("acme").unwrap(),
            key: key.to_owned(),
            event_type: "order.created".to_owned(),
            order_id: None,
            body_sha256: [7; 32],
            body,
            received_at: Utc::now(),
            occurred_at: None,
            status: EventStatus::Accepted,
            targets: targets
                .iter()
                .map(|id| TargetId::new(*id).unwrap())
                .collect(),
        }
    }

    fn record_request(
        event: NewEvent,
    ) -> (
        WriteRequest,
        oneshot::Receiver<Result<RecordOutcome, StoreError>>,
    ) {
        let (reply, answer) = oneshot::channel();
        (WriteRequest::RecordEvent { event, reply }, answer)
    }

    fn run(runner: &mut BatchRunner, mut batch: Vec<WriteRequest>) {
        let mut finished = Vec::new();
        runner.run(&mut batch, &mut finished);
        assert!(batch.is_empty());
        assert!(finished.is_empty());
    }

    fn event_count(runner: &BatchRunner) -> u32 {
        runner
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn failed_request_keeps_its_neighbours() {
        let (_dir, mut runner) = runner(&SqliteOptions::default());
        let now = Utc::now().timestamp_micros();
        write_ops::record_event(
            &runner.conn,
            &new_event("order:1", b"{}".to_vec(), &["acme-woo"]),
            now,
        )
        .unwrap();
        let request = ClaimRequest {
            worker: "test".to_owned(),
            now: Utc::now() + chrono::Duration::seconds(1),
            lease: Duration::from_secs(30),
            limit: 1,
        };
        let claimed = write_ops::claim_due(&runner.conn, &request, now)
            .unwrap()
            .remove(0);
        // An attempt row that already uses number 1 makes the completion fail
        // on its last statement, after it has updated the delivery.
        runner
            .conn
            .execute(
                "INSERT INTO attempts (delivery_id, attempt, finished_at, outcome) VALUES (?1, 1, 0, 'retry')",
                [claimed.delivery_id],
            )
            .unwrap();
        let (first, first_answer) = record_request(new_event("order:2", b"{}".to_vec(), &[]));
        let (reply, complete_answer) = oneshot::channel();
        let complete = WriteRequest::Complete {
            lease: Lease {
                delivery_id: claimed.delivery_id,
                token: claimed.lease_token.clone(),
            },
            outcome: AttemptOutcome::Dead {
                reason: ReasonCode::SkuNotFound,
                message: "sku not found".to_owned(),
            },
            reply,
        };
        let (last, last_answer) = record_request(new_event("order:3", b"{}".to_vec(), &[]));

        run(&mut runner, vec![first, complete, last]);

        assert!(matches!(
            first_answer.blocking_recv().unwrap(),
            Ok(RecordOutcome::Recorded { .. })
        ));
        let failed = complete_answer.blocking_recv().unwrap();
        assert!(matches!(failed, Err(StoreError::Corrupt(_))), "{failed:?}");
        assert!(matches!(
            last_answer.blocking_recv().unwrap(),
            Ok(RecordOutcome::Recorded { .. })
        ));
        let status: String = runner
            .conn
            .query_row(
                "SELECT status FROM deliveries WHERE id = ?1",
                [claimed.delivery_id],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(status, "in_flight", "the failed completion was rolled back");
        assert_eq!(event_count(&runner), 3);
    }

    #[test]
    fn full_database_commits_only_what_it_acknowledges() {
        let options = SqliteOptions {
            max_size_bytes: Some(256 * 1024),
            ..SqliteOptions::default()
        };
        let (_dir, mut runner) = runner(&options);
        let (small, small_answer) =
            record_request(new_event("order:1", vec![1; 100], &["acme-woo"]));
        let (huge, huge_answer) =
            record_request(new_event("order:2", vec![2; 1024 * 1024], &["acme-woo"]));
        let (after, after_answer) =
            record_request(new_event("order:3", vec![3; 100], &["acme-woo"]));

        run(&mut runner, vec![small, huge, after]);

        match huge_answer.blocking_recv().unwrap() {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("full"), "{message}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
        // SQLite undoes either the one statement or, for a statement that
        // keeps no statement journal, the whole transaction. Either way,
        // exactly the acknowledged events are committed.
        let mut acknowledged = 0;
        for answer in [small_answer, after_answer] {
            match answer.blocking_recv().unwrap() {
                Ok(RecordOutcome::Recorded { .. }) => acknowledged += 1,
                Err(StoreError::Unavailable(_)) => {}
                other => panic!("expected recorded or unavailable, got {other:?}"),
            }
        }
        assert_eq!(event_count(&runner), acknowledged);

        let (retry, retry_answer) =
            record_request(new_event("order:4", vec![4; 100], &["acme-woo"]));
        run(&mut runner, vec![retry]);
        assert!(matches!(
            retry_answer.blocking_recv().unwrap(),
            Ok(RecordOutcome::Recorded { .. })
        ));
    }

    #[test]
    fn failed_begin_fails_every_request() {
        let (dir, mut runner) = runner(&SqliteOptions {
            busy_timeout: Duration::from_millis(50),
            ..SqliteOptions::default()
        });
        let other = rusqlite::Connection::open(dir.path().join("bridge.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (first, first_answer) = record_request(new_event("order:1", b"{}".to_vec(), &[]));
        let (second, second_answer) = record_request(new_event("order:2", b"{}".to_vec(), &[]));

        run(&mut runner, vec![first, second]);

        for answer in [first_answer, second_answer] {
            let result = answer.blocking_recv().unwrap();
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{result:?}"
            );
        }
        other.execute_batch("COMMIT").unwrap();
        let (retry, retry_answer) = record_request(new_event("order:1", b"{}".to_vec(), &[]));
        run(&mut runner, vec![retry]);
        assert!(matches!(
            retry_answer.blocking_recv().unwrap(),
            Ok(RecordOutcome::Recorded { .. })
        ));
    }

    #[test]
    fn deleted_database_fails_every_request() {
        let (dir, mut runner) = runner(&SqliteOptions::default());
        let (before, before_answer) = record_request(new_event("order:1", b"{}".to_vec(), &[]));
        run(&mut runner, vec![before]);
        assert!(matches!(
            before_answer.blocking_recv().unwrap(),
            Ok(RecordOutcome::Recorded { .. })
        ));
        std::fs::remove_file(dir.path().join("bridge.db")).unwrap();
        let (after, after_answer) = record_request(new_event("order:2", b"{}".to_vec(), &[]));

        run(&mut runner, vec![after]);

        match after_answer.blocking_recv().unwrap() {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("is gone"), "{message}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}
