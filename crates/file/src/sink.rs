use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use wamebo_core::{
    CanonicalOrder, Delivered, DeliveryContext, DeliveryError, Order, OrderSink, ReasonCode,
};

use crate::config::FileTargetConfig;
use crate::error::FileSinkError;
use crate::journal::Journal;

/// A sink that appends canonical orders to a JSON-lines file, one line per
/// `(store_id, order_id)`.
///
/// Appends from all workers go through one lock and each is synced to disk
/// before `create_order` returns, so an acknowledged line survives a crash.
/// The platform order id it reports is the line number, as `line 12`.
///
/// NOTE: the index keeps every order id in the file in memory and is rebuilt
/// by reading the whole file at open, so memory and start-up time grow with
/// the file; rotate the file (stop, move it aside, start) when it gets large,
/// at the cost of forgetting the orders it held.
#[derive(Clone)]
pub struct FileSink {
    path: PathBuf,
    journal: Arc<Mutex<Journal>>,
}

impl fmt::Debug for FileSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileSink {
    /// Opens or creates the file, removes an incomplete last line left by a
    /// crash, and indexes the orders it contains. This reads the whole file,
    /// so call it before the async runtime serves requests, or from a
    /// blocking task.
    pub fn open(config: &FileTargetConfig) -> Result<Self, FileSinkError> {
        let journal = Journal::open(&config.path)?;
        Ok(FileSink {
            path: config.path.clone(),
            journal: Arc::new(Mutex::new(journal)),
        })
    }

    /// Returns the file's path as configured.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the journal in a blocking task, because every append
    /// waits for the disk.
    async fn with_journal<T, F>(
        &self,
        ctx: &DeliveryContext,
        order_id: u64,
        work: F,
    ) -> Result<T, DeliveryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Journal) -> Result<T, FileSinkError> + Send + 'static,
    {
        let journal = Arc::clone(&self.journal);
        let task = tokio::task::spawn_blocking(move || {
            let mut guard = journal.lock().unwrap_or_else(|poisoned| {
                let mut guard = poisoned.into_inner();
                guard.mark_stale();
                guard
            });
            work(&mut guard)
        });
        let outcome = task
            .await
            .map_err(|error| failed(ctx, order_id, format!("the file task stopped: {error}")))?;
        outcome.map_err(|error| failed(ctx, order_id, error.to_string()))
    }
}

/// Builds the retryable error of a failed file operation. It may have written
/// part of the line, so the next attempt reconciles first.
fn failed(ctx: &DeliveryContext, order_id: u64, cause: String) -> DeliveryError {
    DeliveryError::Retry {
        reason: ReasonCode::RemoteUnavailable,
        message: format!(
            "target {}: writing order {order_id} failed: {cause}",
            ctx.target_id
        ),
        retry_after: None,
        maybe_created: true,
    }
}

fn delivered_at(line: u64, note: Option<String>) -> Delivered {
    Delivered {
        remote_id: Some(format!("line {line}")),
        note,
    }
}

#[async_trait]
impl OrderSink for FileSink {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        let store_id = ctx.store_id.to_string();
        let order_id = order.order_id;
        let line = self
            .with_journal(ctx, order_id, move |journal| {
                journal.find(&store_id, order_id)
            })
            .await?;
        Ok(line.map(|line| delivered_at(line, None)))
    }

    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        let canonical = CanonicalOrder::from_order(&ctx.store_id, order);
        let line = serde_json::to_vec(&canonical).map_err(|error| {
            DeliveryError::permanent(
                ReasonCode::InvalidPayload,
                format!(
                    "target {}: order {} cannot be written as JSON: {error}",
                    ctx.target_id, order.order_id
                ),
            )
        })?;
        let store_id = ctx.store_id.to_string();
        let order_id = order.order_id;

        let (line_number, appended) = self
            .with_journal(ctx, order_id, move |journal| {
                // The check and the append happen under one lock, so two
                // workers holding the same order cannot both append it.
                if let Some(existing) = journal.find(&store_id, order_id)? {
                    return Ok((existing, false));
                }
                let appended = journal.append(&store_id, order_id, &line)?;
                Ok((appended, true))
            })
            .await?;

        if appended {
            tracing::debug!(target_id = %ctx.target_id, order_id, line = line_number, "appended order to file");
            Ok(delivered_at(line_number, None))
        } else {
            Ok(delivered_at(
                line_number,
                Some(format!(
                    "order was already in the file at line {line_number}, so it was not written again"
                )),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
