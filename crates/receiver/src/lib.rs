//! The bridge's HTTP side, built on actix-web 4. `POST /webhooks/{store}`
//! verifies, classifies and records each webhook before it responds. Health,
//! readiness and Prometheus metrics sit beside it, and a separate admin
//! listener lists events and deliveries and replays them.

mod admin;
mod error;
mod health;
mod log_limit;
mod metrics;
pub mod redact;
mod replay;
mod routes;
mod settings;
mod state;
mod webhook;

pub use admin::AdminState;
pub use error::WebhookError;
pub use replay::{replay_event, ReplayError};
pub use routes::{configure_admin, configure_public};
pub use settings::{ReceiverSettings, StoreSettings, TargetRoute, ANY_EVENT};
pub use state::{ReceiverSetupError, ReceiverState};
pub use wamebo_store::ReplayOutcome;
pub use webhook::WebhookAck;
