//! Delivery workers of the bridge: they claim due deliveries with a lease,
//! call the target's [`wamebo_core::OrderSink`], and record success, a retry
//! at a computed time, or a dead letter.
//!
//! A delivery whose earlier attempt may have reached the platform (a lease
//! that expired mid-call, a timeout) first looks up an existing order
//! through the sink and adopts it, so one `order_id` yields one platform
//! order.

mod attempt;
mod dispatcher;
mod error;
mod metrics;
mod schedule;
mod settings;
mod worker;

pub use dispatcher::{Dispatcher, DispatcherHandle, ShutdownReport};
pub use error::DispatchSetupError;
pub use settings::DispatchSettings;
