/// A storage failure. Every variant means "the operation did not happen":
/// callers respond 503 or retry, never assume partial success.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation (a lost
    /// connection, a full disk, a locked file).
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// The database contains data this version cannot read, or a migration failed.
    #[error("storage is inconsistent: {0}")]
    Corrupt(String),
    /// The lease on a delivery was lost to another worker, so this worker's
    /// outcome was not recorded.
    #[error("lease on delivery {delivery_id} is no longer held by this worker")]
    LeaseLost {
        /// The delivery whose lease expired or was taken over.
        delivery_id: i64,
    },
    /// The requested row does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// `event` or `delivery`.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The operation does not apply to the row in its current state, such as
    /// replaying a delivery that already succeeded.
    #[error("{0}")]
    InvalidState(String),
}
