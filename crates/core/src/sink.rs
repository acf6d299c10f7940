//! The trait every delivery target implements, and the errors that tell the
//! dispatcher what to do next.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{StoreId, TargetId};
use crate::order::Order;
use crate::reason::ReasonCode;

/// The delivery a sink is asked to make: its ids, attempt and timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryContext {
    /// The store the event came in for.
    pub store_id: StoreId,
    /// The target being delivered to.
    pub target_id: TargetId,
    /// The bridge's event id.
    pub event_id: i64,
    /// The bridge's delivery id.
    pub delivery_id: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the bridge recorded the event; reconciliation searches from here.
    pub received_at: DateTime<Utc>,
}

/// A successful delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The platform's id for the created (or adopted) order, if it has one.
    pub remote_id: Option<String>,
    /// Something the operator should know, such as a total the platform
    /// recalculated. Never personal data.
    pub note: Option<String>,
}

/// A failed delivery attempt, sorted by what the dispatcher does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// A temporary failure: try again later.
    #[error("{reason}: {message}")]
    Retry {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// What failed, naming the target and order but no personal data.
        message: String,
        /// How long the target asked us to wait, if it did.
        retry_after: Option<Duration>,
        /// True when the request may have reached the platform (a timeout
        /// after sending, a dropped connection), so the next attempt must
        /// look for an existing order before creating one.
        maybe_created: bool,
    },
    /// A failure that repeating will not fix: the delivery is dead until an
    /// operator replays it.
    #[error("{reason}: {message}")]
    Permanent {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// What failed, naming the target and order but no personal data.
        message: String,
    },
}

impl DeliveryError {
    /// Builds a retryable error that did not reach the platform.
    pub fn retry(reason: ReasonCode, message: impl Into<String>) -> Self {
        DeliveryError::Retry {
            reason,
            message: message.into(),
            retry_after: None,
            maybe_created: false,
        }
    }

    /// Builds a permanent error.
    pub fn permanent(reason: ReasonCode, message: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            reason,
            message: message.into(),
        }
    }

    /// Returns the reason code of either kind of failure.
    pub fn reason(&self) -> ReasonCode {
        match self {
            DeliveryError::Retry { reason, .. } | DeliveryError::Permanent { reason, .. } => {
                *reason
            }
        }
    }
}

/// A delivery target: a shop, an ERP or a file.
///
/// The dispatcher calls [`OrderSink::find_existing`] before
/// [`OrderSink::create_order`] whenever an earlier attempt may have created
/// the order (a timeout, a lease lost in a crash), and adopts what it finds.
/// Together with that lookup, an implementation must make sure one
/// `(store, target, order_id)` never yields two orders.
#[async_trait]
pub trait OrderSink: Send + Sync + std::fmt::Debug {
    /// Returns a short name of the platform for logs and metrics, such as
    /// `woocommerce`.
    fn kind(&self) -> &'static str;

    /// Looks for an order that an earlier attempt created for
    /// `order.order_id`, and returns it if found.
    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError>;

    /// Creates the order on the platform.
    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError>;

    /// Forwards a verified event body unchanged, for targets that subscribe
    /// to events other than `order.created`. Only some sinks can.
    async fn forward_event(
        &self,
        ctx: &DeliveryContext,
        event_type: &str,
        body: &[u8],
    ) -> Result<Delivered, DeliveryError> {
        let _ = body;
        Err(DeliveryError::permanent(
            ReasonCode::UnsupportedEvent,
            format!(
                "target {} of kind {} cannot receive `{event_type}` events",
                ctx.target_id,
                self.kind()
            ),
        ))
    }
}
