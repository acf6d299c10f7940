//! The admin listener's shared state.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wamebo_core::ConfigSecret;

use crate::state::{ReceiverState, Shared};

/// The admin API's state: the receiver's storage and store settings, and
/// the digest of the bearer token that every admin request must present.
#[derive(Clone)]
pub struct AdminState {
    pub(crate) shared: Arc<Shared>,
    token_source: String,
    token_digest: [u8; 32],
}

impl AdminState {
    /// Builds the admin state on top of the receiver's, so replays wake the
    /// same dispatcher. Only the SHA-256 of `token` is kept.
    pub fn new(receiver: &ReceiverState, token: ConfigSecret) -> Self {
        AdminState {
            shared: Arc::clone(&receiver.shared),
            token_source: token.source().to_owned(),
            token_digest: Sha256::digest(token.expose().as_bytes()).into(),
        }
    }

    /// Returns true when `presented` is the admin token. Both sides are
    /// hashed first, so the comparison takes the same time whatever the
    /// length or content of the presented token.
    pub(crate) fn token_matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.token_digest).into()
    }
}

impl fmt::Debug for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("token", &self.token_source)
            .finish_non_exhaustive()
    }
}
