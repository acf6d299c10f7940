//! Cross-replica wake-ups over `LISTEN/NOTIFY`.
//!
//! After a transaction that creates or revives deliveries commits, the store
//! calls [`Announcer::announce`], which sends a notification on [`CHANNEL`]. The payload
//! is `{instance}:{schema}`, so a listener ignores its own store's
//! notifications and those of other schemas in the same database.
//!
//! The notification is sent after the commit, not inside the transaction,
//! because PostgreSQL serializes the commits of all transactions that issued
//! `NOTIFY`: `PreCommit_Notify` in `src/backend/commands/async.c` takes a
//! heavyweight lock on "database 0", which is cluster-wide, and holds it
//! until the commit ends. That removed group commit from webhook ingestion. A wake-up is only a hint: a replica that
//! misses one (its sender died between the commit and the notification)
//! still finds the delivery through `next_due_at` within its idle poll.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// The notification channel, one per database.
pub(crate) const CHANNEL: &str = "wamebo_deliveries";

/// How long the listener waits for a notification before it checks that its
/// connection still responds, because a half-open connection reports no error.
const LISTENER_CHECK_INTERVAL: Duration = Duration::from_secs(30);
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Sends wake-up notifications on behalf of one store, one at a time:
/// requests that arrive while a notification is being sent are folded into
/// the next one, so a burst of webhooks costs a handful of `NOTIFY`s.
#[derive(Debug)]
pub(crate) struct Announcer {
    requested: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Announcer {
    pub(crate) fn start(pool: PgPool, instance: String) -> Self {
        let requested = Arc::new(Notify::new());
        let waiting = Arc::clone(&requested);
        let task = tokio::spawn(async move {
            loop {
                waiting.notified().await;
                if let Err(error) = send_notification(&pool, &instance).await {
                    // Other replicas fall back to their idle poll; the
                    // local dispatcher was woken by the receiver already.
                    tracing::warn!(error = %error, "sending a wake-up notification to other replicas failed");
                    tokio::time::sleep(FIRST_RETRY_DELAY).await;
                }
            }
        });
        Announcer { requested, task }
    }

    /// Requests a notification; returns at once.
    pub(crate) fn announce(&self) {
        self.requested.notify_one();
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send_notification(pool: &PgPool, instance: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2 || ':' || current_schema())")
        .bind(CHANNEL)
        .bind(instance)
        .execute(pool)
        .await?;
    Ok(())
}

/// The background task that feeds [`crate::Store::external_wakeups`]; it
/// stops when dropped.
#[derive(Debug)]
pub(crate) struct ListenerTask(JoinHandle<()>);

impl ListenerTask {
    pub(crate) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts listening on a dedicated connection from `pool` (size 1). Each
/// notification from another instance on `schema` increments the watch
/// value. The first `LISTEN` runs before this returns, waiting up to
/// `connect_timeout`, so that wake-ups work as soon as the store is open.
/// If it fails, the task keeps trying in the background. After a lost
/// connection the task reconnects by itself, backing off up to
/// [`MAX_RETRY_DELAY`], and increments the value once reconnected, because
/// notifications sent meanwhile were lost.
pub(crate) async fn start_listener(
    pool: PgPool,
    instance: String,
    schema: String,
    connect_timeout: Duration,
) -> (ListenerTask, watch::Receiver<u64>) {
    let (sender, receiver) = watch::channel(0u64);
    let listener = Listener {
        pool,
        own_prefix: format!("{instance}:"),
        schema,
        sender,
    };
    let first = match tokio::time::timeout(connect_timeout, listener.listen()).await {
        Ok(Ok(connection)) => Some(connection),
        Ok(Err(error)) => {
            tracing::warn!(%error, "PostgreSQL listener cannot connect yet; retrying in the background");
            None
        }
        Err(_) => {
            tracing::warn!("PostgreSQL listener timed out connecting; retrying in the background");
            None
        }
    };
    (ListenerTask(tokio::spawn(listener.run(first))), receiver)
}

struct Listener {
    pool: PgPool,
    own_prefix: String,
    schema: String,
    sender: watch::Sender<u64>,
}

impl Listener {
    async fn run(self, first: Option<PgListener>) {
        let mut delay = FIRST_RETRY_DELAY;
        let mut failures: u32 = 0;
        if let Some(connection) = first {
            self.receive(connection).await;
            tokio::time::sleep(FIRST_RETRY_DELAY).await;
        }
        loop {
            match self.listen().await {
                Ok(listener) => {
                    if failures > 0 {
                        tracing::info!(failures, "PostgreSQL listener reconnected");
                    }
                    // Notifications sent while no connection listened are
                    // lost, so workers look for due deliveries once.
                    self.wake();
                    failures = 0;
                    delay = FIRST_RETRY_DELAY;
                    self.receive(listener).await;
                    tokio::time::sleep(FIRST_RETRY_DELAY).await;
                }
                Err(error) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(
                            %error,
                            "PostgreSQL listener cannot connect; cross-replica wake-ups pause \
                             and workers fall back to polling until it reconnects"
                        );
                    } else {
                        tracing::debug!(%error, failures, "PostgreSQL listener still cannot connect");
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
            }
        }
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        // This loop reconnects itself, with backoff and a wake-up.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Receives until the connection fails.
    async fn receive(&self, mut listener: PgListener) {
        loop {
            match tokio::time::timeout(LISTENER_CHECK_INTERVAL, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    if self.is_from_other_instance(&notification) {
                        self.wake();
                    }
                }
                Ok(Ok(None)) => {
                    tracing::warn!("PostgreSQL listener lost its connection; reconnecting");
                    return;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "PostgreSQL listener failed; reconnecting");
                    return;
                }
                Err(_) => {
                    let check = sqlx::query("SELECT 1").execute(&mut listener);
                    if !matches!(
                        tokio::time::timeout(MAX_RETRY_DELAY, check).await,
                        Ok(Ok(_))
                    ) {
                        tracing::warn!(
                            "PostgreSQL listener connection stopped answering; reconnecting"
                        );
                        return;
                    }
                }
            }
        }
    }

    fn is_from_other_instance(&self, notification: &PgNotification) -> bool {
        let payload = notification.payload();
        !payload.starts_with(&self.own_prefix)
            && payload
                .split_once(':')
                .is_some_and(|(_, schema)| schema == self.schema)
    }

    fn wake(&self) {
        self.sender
            .send_modify(|count| *count = count.wrapping_add(1));
    }
}
