//! A GraphQL client for one shop's Admin API endpoint: one POST per
//! operation, paced by the calculated query cost, with every failure sorted
//! into what the caller does next.

use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, CONTENT_LENGTH, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use wamebo_core::TargetId;

use crate::config::Settings;
use crate::cost::{CostPacer, QueryCost};
use crate::token::{AccessToken, TokenProvider};

/// The maximum response body read. Admin API responses to this crate's
/// operations are a few kilobytes.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The maximum length, in characters, of platform text kept in an error
/// message.
const MAX_DETAIL_CHARS: usize = 300;

/// A named GraphQL document. The name is sent as `operationName` and keys
/// the pacer's cost estimates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    /// The operation's name inside `document`.
    pub name: &'static str,
    /// The GraphQL text.
    pub document: &'static str,
}

/// The failure of a GraphQL request, sorted by what the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Shopify throttled the request (HTTP 429 or a `THROTTLED` error), or
    /// pacing would wait past the deadline. Nothing ran.
    Throttled { retry_after: Duration },
    /// Shopify rejected the access token or its scopes (HTTP 401 or 403, or
    /// an `ACCESS_DENIED` error).
    Unauthorized { detail: String },
    /// Shopify refused to issue an access token for the client ID and
    /// secret. No Admin API request was sent.
    GrantRefused { detail: String },
    /// A temporary failure. `reached` is true when the request may have
    /// reached Shopify and run there.
    Unavailable { detail: String, reached: bool },
    /// Shopify rejected the request as invalid, and repeating it will not help.
    Rejected { detail: String },
    /// Shopify responded with something other than its documented shape.
    InvalidResponse { detail: String },
}

/// The Admin API client of one target.
#[derive(Debug)]
pub(crate) struct GraphqlClient {
    target: TargetId,
    http: reqwest::Client,
    endpoint: Url,
    tokens: TokenProvider,
    pacer: CostPacer,
}

/// The outcome of one POST of a GraphQL request.
enum Posted<T> {
    Done(Result<T, Failure>),
    /// Shopify rejected the token with HTTP 401 because it is invalid or
    /// expired, so the operation did not run.
    TokenRejected(Failure),
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<QueryCost>,
}

/// One entry of a GraphQL response's top-level `errors`.
#[derive(Debug, Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Option<Vec<Value>>,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Debug, Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
}

impl GraphqlClient {
    /// Builds the client. Redirects are not followed, so the access token
    /// and client secret are never sent to another host.
    pub fn new(settings: &Settings, target: &TargetId) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!settings.allow_insecure_http)
            .user_agent(concat!("wamebo-bridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(GraphqlClient {
            target: target.clone(),
            tokens: TokenProvider::new(settings, target, http.clone()),
            http,
            endpoint: settings.endpoint.clone(),
            pacer: CostPacer::default(),
        })
    }

    /// Runs `operation` with `variables` and decodes its `data`, finishing
    /// by `deadline` or failing.
    ///
    /// When Shopify returns HTTP 401 and the token came from the client
    /// credentials grant, the token is replaced once and the request sent
    /// once more. A 401 means the operation did not run, so the repeat
    /// cannot create a second order.
    pub async fn execute<T: DeserializeOwned>(
        &self,
        operation: Operation,
        variables: Value,
        deadline: Instant,
    ) -> Result<T, Failure> {
        self.pace(operation, deadline).await?;
        let body = json!({
            "query": operation.document,
            "operationName": operation.name,
            "variables": variables,
        });

        let token = self.tokens.current(deadline).await?;
        let rejection = match self.post(operation, &body, &token, deadline).await {
            Posted::Done(result) => return result,
            Posted::TokenRejected(failure) => failure,
        };
        let Some(replacement) = self.tokens.replace(&token, deadline).await? else {
            return Err(rejection);
        };
        tracing::info!(
            target_id = %self.target,
            operation = operation.name,
            "Shopify rejected the access token, sending the request again with a new token"
        );
        match self.post(operation, &body, &replacement, deadline).await {
            Posted::Done(result) => result,
            Posted::TokenRejected(failure) => Err(failure),
        }
    }

    /// Sends one POST and decodes its response.
    async fn post<T: DeserializeOwned>(
        &self,
        operation: Operation,
        body: &Value,
        token: &AccessToken,
        deadline: Instant,
    ) -> Posted<T> {
        let remaining = match remaining_before(deadline) {
            Ok(remaining) => remaining,
            Err(failure) => return Posted::Done(Err(failure)),
        };
        let sent = self
            .http
            .post(self.endpoint.clone())
            .header("X-Shopify-Access-Token", token.expose())
            .timeout(remaining)
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Posted::Done(Err(transport_failure(error))),
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            let failure = status_failure(response.status(), response.headers(), None);
            return Posted::TokenRejected(failure);
        }
        Posted::Done(self.decode(operation, response).await)
    }

    /// Decodes a response: records its query cost, sorts a failure, and
    /// reads `data`.
    async fn decode<T: DeserializeOwned>(
        &self,
        operation: Operation,
        response: reqwest::Response,
    ) -> Result<T, Failure> {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_body(response).await?;
        let envelope: Option<Envelope> = serde_json::from_slice(&bytes).ok();
        let cost = envelope
            .as_ref()
            .and_then(|envelope| envelope.extensions.as_ref())
            .and_then(|extensions| extensions.cost.clone());
        if let Some(cost) = &cost {
            self.pacer.observe(operation.name, cost, Instant::now());
        }

        if !status.is_success() {
            return Err(status_failure(status, &headers, cost.as_ref()));
        }
        let Some(envelope) = envelope else {
            return Err(Failure::InvalidResponse {
                detail: format!("HTTP {status} with a body that is not a GraphQL JSON response"),
            });
        };
        if let Some(errors) = envelope.errors.as_ref().filter(|errors| !is_empty(errors)) {
            return Err(errors_failure(errors, cost.as_ref()));
        }
        let data = envelope
            .data
            .filter(|data| !data.is_null())
            .ok_or_else(|| Failure::InvalidResponse {
                detail: "response has neither `data` nor `errors`".to_owned(),
            })?;
        serde_json::from_value(data).map_err(|error| Failure::InvalidResponse {
            detail: format!(
                "`data` does not have the expected shape: {}",
                sanitize(&error.to_string())
            ),
        })
    }

    /// Waits until the cost bucket contains the operation's estimated cost.
    async fn pace(&self, operation: Operation, deadline: Instant) -> Result<(), Failure> {
        let now = Instant::now();
        let budget = deadline.saturating_duration_since(now);
        match self.pacer.reserve(operation.name, now, budget) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                tracing::debug!(
                    operation = operation.name,
                    wait_ms = wait.as_millis() as u64,
                    "pacing request by the shop's query cost budget"
                );
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(wait) => Err(Failure::Throttled { retry_after: wait }),
        }
    }
}

fn remaining_before(deadline: Instant) -> Result<Duration, Failure> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(Failure::Unavailable {
            detail: "request_timeout elapsed before the request was sent".to_owned(),
            reached: false,
        });
    }
    Ok(remaining)
}

pub(crate) async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_RESPONSE_BYTES) {
        return Err(Failure::InvalidResponse {
            detail: format!("response body is larger than {MAX_RESPONSE_BYTES} bytes"),
        });
    }
    let bytes = response.bytes().await.map_err(transport_failure)?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(Failure::InvalidResponse {
            detail: format!("response body is larger than {MAX_RESPONSE_BYTES} bytes"),
        });
    }
    Ok(bytes.to_vec())
}

/// Sorts a transport error. Only a failed connection proves the request
/// never reached Shopify; after a timeout or a dropped connection it may
/// have run.
fn transport_failure(error: reqwest::Error) -> Failure {
    let reached = !(error.is_connect() || error.is_builder());
    Failure::Unavailable {
        detail: transport_detail(error),
        reached,
    }
}

/// Describes a transport error with its causes, without the URL.
pub(crate) fn transport_detail(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut detail = if error.is_timeout() {
        "request timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    sanitize(&detail)
}

/// Sorts a non-2xx response, following Shopify's list of response codes
/// (<https://shopify.dev/docs/api/usage/response-codes>).
fn status_failure(status: StatusCode, headers: &HeaderMap, cost: Option<&QueryCost>) -> Failure {
    match status.as_u16() {
        429 => Failure::Throttled {
            retry_after: retry_after(headers)
                .or_else(|| cost.map(QueryCost::throttled_wait))
                .unwrap_or(Duration::from_secs(1)),
        },
        401 | 403 => Failure::Unauthorized {
            detail: format!("HTTP {status}: Shopify rejected the access token or its scopes"),
        },
        // 402: the shop is frozen until its bill is paid; 423: the shop is
        // locked. Both can clear without a change on our side.
        402 | 423 => Failure::Unavailable {
            detail: format!("HTTP {status}: the shop is frozen or locked"),
            reached: false,
        },
        404 => Failure::Rejected {
            detail: "HTTP 404: no such shop or API version: check shop_domain and api_version"
                .to_owned(),
        },
        500..=599 => Failure::Unavailable {
            detail: format!("HTTP {status}"),
            reached: true,
        },
        300..=399 => Failure::Rejected {
            detail: format!("HTTP {status} redirect, not followed: check shop_domain and base_url"),
        },
        _ => Failure::Rejected {
            detail: format!("HTTP {status}"),
        },
    }
}

/// Reads `Retry-After` as seconds. Shopify sends decimal seconds such as
/// `2.0`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let seconds: f64 = text.parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds.min(3600.0)).ok()
}

fn is_empty(errors: &Value) -> bool {
    match errors {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// Sorts a 2xx response that carries top-level `errors`. Shopify reports
/// throttling this way with HTTP 200 and the code `THROTTLED`
/// (<https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>).
fn errors_failure(errors: &Value, cost: Option<&QueryCost>) -> Failure {
    let parsed: Vec<GraphqlError> = match errors {
        Value::Array(_) => serde_json::from_value(errors.clone()).unwrap_or_default(),
        Value::String(text) => vec![GraphqlError {
            message: text.clone(),
            path: None,
            extensions: None,
        }],
        _ => Vec::new(),
    };
    let has_code = |wanted: &str| {
        parsed.iter().any(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.code.as_deref())
                == Some(wanted)
        })
    };
    let detail = describe_errors(&parsed);

    if has_code("THROTTLED") {
        Failure::Throttled {
            retry_after: cost
                .map(QueryCost::throttled_wait)
                .unwrap_or(Duration::from_secs(1)),
        }
    } else if has_code("ACCESS_DENIED") {
        Failure::Unauthorized { detail }
    } else if has_code("INTERNAL_SERVER_ERROR") {
        Failure::Unavailable {
            detail,
            reached: true,
        }
    } else {
        Failure::Rejected { detail }
    }
}

/// Lists errors as `CODE at path: message`, joined by `; `.
fn describe_errors(errors: &[GraphqlError]) -> String {
    if errors.is_empty() {
        return "GraphQL errors in an unrecognised shape".to_owned();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|error| {
            let code = error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.code.as_deref())
                .unwrap_or("NO_CODE");
            let path = error
                .path
                .as_ref()
                .map(|segments| {
                    let joined: Vec<String> = segments
                        .iter()
                        .map(|segment| match segment {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    format!(" at {}", joined.join("."))
                })
                .unwrap_or_default();
            format!("{code}{path}: {}", error.message)
        })
        .collect();
    sanitize(&format!("GraphQL errors: {}", parts.join("; ")))
}

/// Shortens platform text for an error message and masks every run of seven
/// or more digits, since Shopify may echo an input value such as a phone
/// number in a message.
pub(crate) fn sanitize(text: &str) -> String {
    let mut output = String::with_capacity(text.len().min(MAX_DETAIL_CHARS + 8));
    let mut digits = String::new();
    let flush = |digits: &mut String, output: &mut String| {
        if digits.len() >= 7 {
            output.push_str("<digits>");
        } else {
            output.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut output);
            output.push(c);
        }
    }
    flush(&mut digits, &mut output);

    if output.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = output.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}…")
    } else {
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn sanitize_masks_long_digit_runs() {
        assert_eq!(
            sanitize("Phone +15551234567 has already been taken"),
            "Phone +<digits> has already been taken"
        );
        assert_eq!(sanitize("amount 250.00 in 2026"), "amount 250.00 in 2026");
    }

    #[test]
    fn sanitize_truncates_long_text() {
        let long = "x".repeat(1000);

        let shortened = sanitize(&long);

        assert_eq!(shortened.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(shortened.ends_with('…'));
    }

    #[test]
    fn retry_after_reads_decimal_seconds() {
        let cases = [
            ("2.0", Some(Duration::from_secs(2))),
            ("1", Some(Duration::from_secs(1))),
            ("0.5", Some(Duration::from_millis(500))),
            ("-1", None),
            ("soon", None),
            ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ];
        for (text, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(text).unwrap());
            assert_eq!(retry_after(&headers), expected, "`{text}`");
        }
    }

    #[test]
    fn status_codes_are_sorted() {
        let headers = HeaderMap::new();
        let cases = [
            (401, "unauthorized"),
            (403, "unauthorized"),
            (402, "unavailable"),
            (423, "unavailable"),
            (500, "unavailable"),
            (503, "unavailable"),
            (404, "rejected"),
            (400, "rejected"),
            (301, "rejected"),
            (429, "throttled"),
        ];
        for (code, expected) in cases {
            let failure = status_failure(StatusCode::from_u16(code).unwrap(), &headers, None);
            let kind = match failure {
                Failure::Throttled { .. } => "throttled",
                Failure::Unauthorized { .. } => "unauthorized",
                Failure::GrantRefused { .. } => "refused",
                Failure::Unavailable { .. } => "unavailable",
                Failure::Rejected { .. } => "rejected",
                Failure::InvalidResponse { .. } => "invalid",
            };
            assert_eq!(kind, expected, "HTTP {code}");
        }
    }

    #[test]
    fn error_codes_are_sorted() {
        let cases = [
            ("THROTTLED", "throttled"),
            ("ACCESS_DENIED", "unauthorized"),
            ("INTERNAL_SERVER_ERROR", "unavailable"),
            ("MAX_COST_EXCEEDED", "rejected"),
        ];
        for (code, expected) in cases {
            let errors = json!([{"message": "m", "extensions": {"code": code}}]);
            let kind = match errors_failure(&errors, None) {
                Failure::Throttled { .. } => "throttled",
                Failure::Unauthorized { .. } => "unauthorized",
                Failure::GrantRefused { .. } => "refused",
                Failure::Unavailable { .. } => "unavailable",
                Failure::Rejected { .. } => "rejected",
                Failure::InvalidResponse { .. } => "invalid",
            };
            assert_eq!(kind, expected, "{code}");
        }
    }

    #[test]
    fn error_description_names_code_and_path() {
        let errors = json!([
            {"message": "Field 'x' doesn't exist", "path": ["query", "shop", 0], "extensions": {"code": "undefinedField"}},
            {"message": "second"}
        ]);

        let Failure::Rejected { detail } = errors_failure(&errors, None) else {
            panic!("expected a rejection");
        };

        assert_eq!(
            detail,
            "GraphQL errors: undefinedField at query.shop.0: Field 'x' doesn't exist; NO_CODE: second"
        );
    }
}
