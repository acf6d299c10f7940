/// An error that prevents building a dispatcher.
#[derive(Debug, thiserror::Error)]
pub enum DispatchSetupError {
    /// A setting is out of range; the message names it and the fix.
    #[error("invalid dispatch settings: {0}")]
    InvalidSettings(String),
    /// The metrics could not be registered.
    #[error("failed to register the dispatcher's metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
