//! The Admin API access token: either a fixed token from the configuration,
//! or one requested with the OAuth client credentials grant, cached, and
//! requested again before it expires.
//!
//! Shopify documents the grant at
//! <https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant>
//! and <https://shopify.dev/docs/apps/build/authentication-authorization/client-secrets>:
//! `POST https://{shop}.myshopify.com/admin/oauth/access_token` with the
//! form body `grant_type=client_credentials&client_id=…&client_secret=…`,
//! which returns `{"access_token": "…", "scope": "…", "expires_in": 86399}`.
//! The response carries no refresh token, so a new token is requested with
//! the same client ID and secret.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::{Mutex, MutexGuard};
use wamebo_core::{ConfigSecret, TargetId};

use crate::config::{Credentials, Settings};
use crate::graphql::{read_body, retry_after, sanitize, transport_detail, Failure};

/// The maximum time by which a token is renewed before its `expires_in`
/// runs out. A 24-hour token is renewed 5 minutes early.
const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(300);

/// How long a token whose renewal failed is used before the renewal is
/// tried again, while it has not expired.
const RENEWAL_RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The maximum token lifetime taken from `expires_in`, so that adding it to
/// an `Instant` cannot overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The maximum length of an OAuth `error` code kept in an error message.
/// Longer or unusual values are left out.
const MAX_ERROR_CODE_CHARS: usize = 64;

/// An Admin API access token. `Debug` prints only its generation.
#[derive(Clone)]
pub(crate) struct AccessToken {
    value: SecretString,
    /// Counts the tokens the grant issued, so a caller whose request was
    /// rejected can tell whether another caller already replaced the token.
    /// Always 0 for a fixed token.
    generation: u64,
}

impl AccessToken {
    /// Returns the token for the `X-Shopify-Access-Token` header.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(<redacted>, generation {})", self.generation)
    }
}

/// The source of the access tokens of one target.
#[derive(Debug)]
pub(crate) enum TokenProvider {
    /// A fixed token, which cannot be replaced when Shopify rejects it.
    Fixed(AccessToken),
    /// Tokens requested with the client credentials grant.
    Grant(Box<GrantClient>),
}

impl TokenProvider {
    /// Builds the provider for `settings`. `http` is the target's client,
    /// which follows no redirects, so the client secret is sent to the
    /// configured host only.
    pub fn new(settings: &Settings, target: &TargetId, http: reqwest::Client) -> Self {
        match &settings.credentials {
            Credentials::AccessToken(token) => TokenProvider::Fixed(AccessToken {
                value: SecretString::from(token.expose()),
                generation: 0,
            }),
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => TokenProvider::Grant(Box::new(GrantClient {
                target: target.clone(),
                http,
                endpoint: settings.token_endpoint.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                finished_requests: AtomicU64::new(0),
                state: Mutex::new(GrantState::default()),
            })),
        }
    }

    /// Returns a token that has not reached its renewal time, requesting
    /// one when there is none.
    pub async fn current(&self, deadline: Instant) -> Result<AccessToken, Failure> {
        match self {
            TokenProvider::Fixed(token) => Ok(token.clone()),
            TokenProvider::Grant(grant) => grant.obtain(None, deadline).await,
        }
    }

    /// Returns a token to use in place of `rejected`, which Shopify rejected
    /// with HTTP 401. Returns `None` for a fixed token, which has no
    /// replacement. When another caller already replaced `rejected`, its
    /// token is returned without a new request.
    pub async fn replace(
        &self,
        rejected: &AccessToken,
        deadline: Instant,
    ) -> Result<Option<AccessToken>, Failure> {
        match self {
            TokenProvider::Fixed(_) => Ok(None),
            TokenProvider::Grant(grant) => grant
                .obtain(Some(rejected.generation), deadline)
                .await
                .map(Some),
        }
    }
}

/// Requests tokens with the client credentials grant and caches the latest.
///
/// NOTE: each bridge process requests its own token. The pages cited above
/// do not say whether a new grant revokes the tokens issued before it. If it
/// does, replicas replace each other's tokens through the HTTP 401 path.
pub(crate) struct GrantClient {
    target: TargetId,
    http: reqwest::Client,
    endpoint: Url,
    client_id: ConfigSecret,
    client_secret: ConfigSecret,
    /// Counts finished token requests, successful or not. A caller that
    /// waited for the lock compares it to tell whether a request finished
    /// meanwhile, and shares that request's outcome instead of sending
    /// another.
    finished_requests: AtomicU64,
    /// Held for the whole token request, so concurrent callers wait for one
    /// request instead of each sending their own.
    state: Mutex<GrantState>,
}

impl fmt::Debug for GrantClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantClient")
            .field("target", &self.target)
            .field("endpoint", &self.endpoint.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct GrantState {
    token: Option<CachedToken>,
    /// The failure of the latest token request, when it failed.
    last_failure: Option<Failure>,
    /// The generation of the latest issued token.
    generation: u64,
}

#[derive(Debug)]
struct CachedToken {
    token: AccessToken,
    /// When the token is renewed, ahead of its expiry. `None` when Shopify
    /// sent no `expires_in`: the token is then used until Shopify rejects it.
    renew_at: Option<Instant>,
    /// When Shopify stops accepting the token, measured from the moment the
    /// request was sent, so it errs early.
    expires_at: Option<Instant>,
}

impl CachedToken {
    fn is_fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|renew_at| now < renew_at)
    }

    fn is_unexpired(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

impl GrantState {
    /// Returns the cached token unless it is the rejected generation or
    /// `usable` returns false for it.
    fn cached(
        &self,
        rejected: Option<u64>,
        usable: impl Fn(&CachedToken) -> bool,
    ) -> Option<AccessToken> {
        self.token
            .as_ref()
            .filter(|cached| Some(cached.token.generation) != rejected && usable(cached))
            .map(|cached| cached.token.clone())
    }
}

/// The success response of the token endpoint.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The error response of an OAuth endpoint (RFC 6749, section 5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl GrantClient {
    /// Returns the cached token, or requests a new one when the cached token
    /// is missing, due for renewal, or the `rejected` generation.
    async fn obtain(
        &self,
        rejected: Option<u64>,
        deadline: Instant,
    ) -> Result<AccessToken, Failure> {
        let requests_before = self.finished_requests.load(Ordering::Acquire);
        let mut state = self.lock_state(deadline).await?;

        let now = Instant::now();
        if let Some(token) = state.cached(rejected, |cached| cached.is_fresh(now)) {
            return Ok(token);
        }
        // When a request finished while this caller waited for the lock and
        // failed, this caller shares that failure instead of sending the
        // same request again at once.
        if self.finished_requests.load(Ordering::Acquire) != requests_before {
            if let Some(failure) = state.last_failure.clone() {
                return state
                    .cached(rejected, |cached| cached.is_unexpired(now))
                    .ok_or(failure);
            }
        }

        let result = self.request_token(deadline).await;
        self.finished_requests.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(mut cached) => {
                state.generation += 1;
                cached.token.generation = state.generation;
                let token = cached.token.clone();
                state.token = Some(cached);
                state.last_failure = None;
                Ok(token)
            }
            Err(failure) => {
                state.last_failure = Some(failure.clone());
                self.keep_unexpired_token(&mut state, rejected, failure)
            }
        }
    }

    /// Waits for the state lock until `deadline`. Another caller may hold it
    /// while its token request runs.
    async fn lock_state(&self, deadline: Instant) -> Result<MutexGuard<'_, GrantState>, Failure> {
        let deadline = tokio::time::Instant::from_std(deadline);
        tokio::time::timeout_at(deadline, self.state.lock())
            .await
            .map_err(|_elapsed| Failure::Unavailable {
                detail: "request_timeout elapsed while another request fetched the access token"
                    .to_owned(),
                reached: false,
            })
    }

    /// Keeps using the cached token after a failed renewal while Shopify
    /// still accepts it, and tries the renewal again after
    /// [`RENEWAL_RETRY_INTERVAL`]. Returns `failure` when there is no such
    /// token.
    fn keep_unexpired_token(
        &self,
        state: &mut GrantState,
        rejected: Option<u64>,
        failure: Failure,
    ) -> Result<AccessToken, Failure> {
        let now = Instant::now();
        let Some(token) = state.cached(rejected, |cached| cached.is_unexpired(now)) else {
            return Err(failure);
        };
        if let Some(cached) = state.token.as_mut() {
            let retry_at = now + RENEWAL_RETRY_INTERVAL;
            cached.renew_at = Some(cached.expires_at.map_or(retry_at, |at| at.min(retry_at)));
        }
        tracing::warn!(
            target_id = %self.target,
            error = %failure_detail(&failure),
            retry_in_s = RENEWAL_RETRY_INTERVAL.as_secs(),
            "renewing the Shopify access token failed, so the current token is used until it expires"
        );
        Ok(token)
    }

    /// Sends one client credentials grant request.
    async fn request_token(&self, deadline: Instant) -> Result<CachedToken, Failure> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Failure::Unavailable {
                detail: "request_timeout elapsed before the access token was requested".to_owned(),
                reached: false,
            });
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
        ];
        let sent_at = Instant::now();
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(ACCEPT, "application/json")
            .timeout(remaining)
            .form(&form)
            .send()
            .await
            .map_err(|error| self.transport_failure(error))?;

        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response).await.map_err(|failure| match failure {
            Failure::Unavailable { detail, .. } => self.unavailable(&detail),
            other => other,
        })?;
        if !status.is_success() {
            return Err(self.status_failure(status, &headers, &body));
        }

        let response: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            self.unavailable(&format!(
                "HTTP {status} with a body that is not a token response"
            ))
        })?;
        if response.access_token.expose_secret().is_empty() {
            return Err(self.unavailable(&format!("HTTP {status} with an empty access_token")));
        }
        let lifetime = response
            .expires_in
            .map(|seconds| Duration::from_secs(seconds).min(MAX_LIFETIME));
        tracing::info!(
            target_id = %self.target,
            expires_in_s = response.expires_in,
            scope = response.scope.as_deref().unwrap_or(""),
            "requested a Shopify access token with the client credentials grant"
        );
        Ok(CachedToken {
            token: AccessToken {
                value: response.access_token,
                generation: 0,
            },
            renew_at: lifetime.map(|lifetime| sent_at + lifetime - renewal_margin(lifetime)),
            expires_at: lifetime.map(|lifetime| sent_at + lifetime),
        })
    }

    /// Sorts a failed connection or a timeout. The grant creates nothing on
    /// Shopify, so every such failure may be retried.
    fn transport_failure(&self, error: reqwest::Error) -> Failure {
        self.unavailable(&transport_detail(error))
    }

    fn unavailable(&self, detail: &str) -> Failure {
        Failure::Unavailable {
            detail: format!("requesting an access token failed: {}", self.redact(detail)),
            reached: false,
        }
    }

    /// Sorts a non-2xx response of the token endpoint. Shopify rejects a
    /// grant with HTTP 400 and an OAuth error body such as
    /// `{"error": "invalid_request", "error_description": "…"}`.
    fn status_failure(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Failure {
        match status.as_u16() {
            400 | 401 | 403 => Failure::GrantRefused {
                detail: format!(
                    "Shopify refused the client credentials grant with HTTP {status}{}",
                    self.describe_oauth_error(body)
                ),
            },
            429 => Failure::Throttled {
                retry_after: retry_after(headers).unwrap_or(Duration::from_secs(1)),
            },
            404 => Failure::Rejected {
                detail: "HTTP 404 from the token endpoint: no such shop: check shop_domain"
                    .to_owned(),
            },
            402 | 423 | 500..=599 => self.unavailable(&format!("HTTP {status}")),
            300..=399 => Failure::Rejected {
                detail: format!(
                    "HTTP {status} redirect from the token endpoint, not followed: check shop_domain and base_url"
                ),
            },
            _ => Failure::Rejected {
                detail: format!("HTTP {status} from the token endpoint"),
            },
        }
    }

    /// Describes an OAuth error body as `, OAuth error `code`: description`.
    /// The code is kept only when it has the form of an OAuth error code.
    fn describe_oauth_error(&self, body: &[u8]) -> String {
        let Ok(OAuthError {
            error: Some(code),
            error_description,
        }) = serde_json::from_slice::<OAuthError>(body)
        else {
            return " and no OAuth error body".to_owned();
        };
        let code_is_plain = !code.is_empty()
            && code.len() <= MAX_ERROR_CODE_CHARS
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        let code = if code_is_plain {
            format!("`{code}`")
        } else {
            "with an unrecognised code".to_owned()
        };
        match error_description.filter(|text| !text.trim().is_empty()) {
            Some(text) => format!(", OAuth error {code}: {}", self.redact(&text)),
            None => format!(", OAuth error {code}"),
        }
    }

    /// Shortens platform text and removes the client secret from it, in case
    /// an endpoint ever echoes the request.
    fn redact(&self, text: &str) -> String {
        sanitize(&text.replace(self.client_secret.expose(), "<redacted>"))
    }
}

/// Returns how long before `lifetime` runs out the token is renewed: a
/// tenth of the lifetime, at most [`MAX_RENEWAL_MARGIN`]. The margin covers
/// clock drift and requests that start just before the expiry.
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_RENEWAL_MARGIN)
}

fn failure_detail(failure: &Failure) -> String {
    match failure {
        Failure::Throttled { retry_after } => {
            format!("throttled, retry in {} ms", retry_after.as_millis())
        }
        Failure::Unauthorized { detail }
        | Failure::GrantRefused { detail }
        | Failure::Unavailable { detail, .. }
        | Failure::Rejected { detail }
        | Failure::InvalidResponse { detail } => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_margin_caps_at_five_minutes() {
        let cases = [
            (Duration::from_secs(86_399), Duration::from_secs(300)),
            (Duration::from_secs(3600), Duration::from_secs(300)),
            (Duration::from_secs(600), Duration::from_secs(60)),
            (Duration::from_secs(1), Duration::from_millis(100)),
            (Duration::ZERO, Duration::ZERO),
        ];
        for (lifetime, expected) in cases {
            assert_eq!(renewal_margin(lifetime), expected, "{lifetime:?}");
        }
    }

    #[test]
    fn token_debug_is_redacted() {
        let token = AccessToken {
            value: SecretString::from("shpat_debug_secret"),
            generation: 3,
        };

        let printed = format!("{token:?}");

        assert!(!printed.contains("shpat_debug_secret"), "{printed}");
        assert!(printed.contains("generation 3"), "{printed}");
    }

    #[test]
    fn cached_token_skips_rejected_generation() {
        let now = Instant::now();
        let state = GrantState {
            token: Some(CachedToken {
                token: AccessToken {
                    value: SecretString::from("shpat_cached"),
                    generation: 2,
                },
                renew_at: Some(now + Duration::from_secs(60)),
                expires_at: Some(now + Duration::from_secs(120)),
            }),
            last_failure: None,
            generation: 2,
        };

        assert!(state.cached(None, |cached| cached.is_fresh(now)).is_some());
        assert!(state
            .cached(Some(1), |cached| cached.is_fresh(now))
            .is_some());
        assert!(state
            .cached(Some(2), |cached| cached.is_fresh(now))
            .is_none());
        let later = now + Duration::from_secs(90);
        assert!(state
            .cached(None, |cached| cached.is_fresh(later))
            .is_none());
        assert!(state
            .cached(None, |cached| cached.is_unexpired(later))
            .is_some());
    }
}
