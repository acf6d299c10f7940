//! The admin API, served on its own listener behind a bearer token: lists
//! and shows events and deliveries, and replays them.

mod auth;
mod error;
mod handlers;
mod state;
mod views;

pub(crate) use auth::require_bearer;
pub use error::AdminError;
pub(crate) use handlers::*;
pub use state::AdminState;
