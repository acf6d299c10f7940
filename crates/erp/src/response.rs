//! Sorting the ERP's responses into success, retry later, or give up.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{LOCATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use wamebo_core::{DeliveryError, ReasonCode, TargetId};

/// Maximum response body read, enough for any order confirmation.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Maximum length of an error excerpt, in characters.
const EXCERPT_CHARS: usize = 200;
/// Digit runs at least this long are masked in excerpts, because they may be
/// phone numbers that the ERP echoes back.
const MASKED_DIGIT_RUN: usize = 7;

/// The subject of a request, for error messages: the target and the order or
/// event, never personal data.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) target_id: TargetId,
    pub(crate) what: String,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target {}, {}", self.target_id, self.what)
    }
}

/// A response with its body read up to [`MAX_RESPONSE_BYTES`].
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
    /// False when the body was cut at the limit or could not be read to its
    /// end.
    pub(crate) body_complete: bool,
}

/// Reads status, the headers that matter and the body of a response.
pub(crate) async fn read_reply(mut response: reqwest::Response) -> Reply {
    let status = response.status();
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after =
        header_text(RETRY_AFTER).and_then(|value| parse_retry_after(&value, Utc::now()));
    let location = header_text(LOCATION).map(|value| truncate(&value, EXCERPT_CHARS));

    let mut body = Vec::new();
    let mut body_complete = true;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    body_complete = false;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => {
                body_complete = false;
                break;
            }
        }
    }

    Reply {
        status,
        retry_after,
        location,
        body,
        body_complete,
    }
}

/// Sorts a non-2xx response by what the dispatcher does next.
///
/// - 409: another request with the same idempotency key is still in
///   progress, so retry later and look for the order first.
/// - 408, 425, 429 and 5xx: temporary, so retry, honouring `Retry-After`.
///   After a 5xx the ERP may have created the order before failing.
/// - 401 and 403: `auth_failed`, permanent.
/// - 3xx: permanent, because a redirect of a POST would turn into a GET.
/// - any other status, 422 included: `remote_rejected`, permanent, with a
///   short excerpt of the ERP's explanation.
pub(crate) fn failure(reply: &Reply, subject: &Subject) -> DeliveryError {
    let status = reply.status;
    let retry = |reason, message: String, maybe_created| DeliveryError::Retry {
        reason,
        message,
        retry_after: reply.retry_after,
        maybe_created,
    };

    match status.as_u16() {
        409 => retry(
            ReasonCode::RemoteUnavailable,
            format!(
                "{subject}: the ERP responded with {status} because a request with this idempotency key is still in progress, retrying later"
            ),
            true,
        ),
        408 | 425 => retry(
            ReasonCode::RemoteUnavailable,
            format!("{subject}: the ERP responded with {status}, retrying later"),
            false,
        ),
        429 => retry(
            ReasonCode::RemoteThrottled,
            format!("{subject}: the ERP responded with {status}, retrying later"),
            false,
        ),
        500..=599 => retry(
            ReasonCode::RemoteUnavailable,
            format!("{subject}: the ERP responded with {status}, retrying later"),
            true,
        ),
        401 | 403 => DeliveryError::permanent(
            ReasonCode::AuthFailed,
            format!(
                "{subject}: the ERP rejected the credentials with {status}: check the target's [auth] table and the secret it references, then replay the delivery"
            ),
        ),
        300..=399 => DeliveryError::permanent(
            ReasonCode::RemoteRejected,
            format!(
                "{subject}: the ERP responded with {status} with a redirect to {}: set the target's url to the final address, because a redirected POST is not followed",
                reply.location.as_deref().unwrap_or("an unnamed location")
            ),
        ),
        _ => DeliveryError::permanent(
            ReasonCode::RemoteRejected,
            format!(
                "{subject}: the ERP rejected the request with {status}: {}",
                excerpt(&reply.body)
            ),
        ),
    }
}

/// Sorts a request that got no HTTP response. Only a failed connection proves
/// that nothing reached the ERP.
pub(crate) fn transport_failure(
    error: &reqwest::Error,
    subject: &Subject,
    timeout: Duration,
) -> DeliveryError {
    let (message, maybe_created) = if error.is_connect() {
        (
            format!(
                "{subject}: cannot connect to the ERP ({}), retrying later",
                error_chain(error)
            ),
            false,
        )
    } else if error.is_timeout() {
        (
            format!(
                "{subject}: the request timed out after {}s and may have reached the ERP, retrying later",
                timeout.as_secs_f64()
            ),
            true,
        )
    } else {
        (
            format!(
                "{subject}: the request failed ({}), retrying later",
                error_chain(error)
            ),
            true,
        )
    };
    DeliveryError::Retry {
        reason: ReasonCode::RemoteUnavailable,
        message,
        retry_after: None,
        maybe_created,
    }
}

/// Joins an error and its sources, without the URL, because a configured
/// URL may carry a token in its query.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    parts.push(error_kind(error).to_owned());
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    truncate(&parts.join(": "), 300)
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connect error"
    } else if error.is_body() {
        "request body error"
    } else if error.is_decode() {
        "response decode error"
    } else {
        "request error"
    }
}

/// Parses `Retry-After` as delay-seconds or as an HTTP-date (RFC 9110,
/// section 10.2.3). A date in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        at.with_timezone(&Utc)
            .signed_duration_since(now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Reads the ERP's order id at a JSON pointer: a non-empty string of at most
/// 256 characters without control characters, or an integer.
pub(crate) fn remote_id(body: &[u8], pointer: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.pointer(pointer)? {
        Value::String(text)
            if !text.is_empty()
                && text.chars().count() <= 256
                && !text.chars().any(char::is_control) =>
        {
            Some(text.clone())
        }
        Value::Number(number) if number.is_u64() || number.is_i64() => Some(number.to_string()),
        _ => None,
    }
}

/// Returns a short, single-line excerpt of an error body for an operator:
/// the first message field of a JSON body if it has one, else the text.
///
/// NOTE: the excerpt is the ERP's own text. Long digit runs are masked, but a
/// name or a formatted phone number that the ERP echoes back can remain.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = json_message(body).unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let single_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if single_line.is_empty() {
        return "(empty body)".to_owned();
    }
    truncate(&mask_digit_runs(&single_line), EXCERPT_CHARS)
}

fn json_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = message_field(&value)
        .or_else(|| value.get("error").and_then(message_field))
        .or_else(|| {
            value
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|errors| errors.first())
                .and_then(|first| {
                    message_field(first).or_else(|| first.as_str().map(str::to_owned))
                })
        });
    Some(message.unwrap_or_else(|| value.to_string()))
}

fn message_field(value: &Value) -> Option<String> {
    if let Some(text) = value.as_str() {
        return Some(text.to_owned());
    }
    ["message", "detail", "title", "error_description", "error"]
        .into_iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
        .map(str::to_owned)
}

fn mask_digit_runs(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, masked: &mut String| {
        if run.len() >= MASKED_DIGIT_RUN {
            masked.push_str("[number]");
        } else {
            masked.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut masked);
            masked.push(c);
        }
    }
    flush(&mut run, &mut masked);
    masked
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            target_id: TargetId::new("acme-erp").unwrap(),
            what: "order 5542".to_owned(),
        }
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: Some(Duration::from_secs(7)),
            location: Some("https://erp.example.com/v2/orders".to_owned()),
            body: body.as_bytes().to_vec(),
            body_complete: true,
        }
    }

    #[test]
    fn statuses_sort_into_outcomes() {
        use ReasonCode::*;
        // (status, retryable, reason, maybe_created)
        let cases = [
            (409, true, RemoteUnavailable, true),
            (408, true, RemoteUnavailable, false),
            (425, true, RemoteUnavailable, false),
            (429, true, RemoteThrottled, false),
            (500, true, RemoteUnavailable, true),
            (502, true, RemoteUnavailable, true),
            (503, true, RemoteUnavailable, true),
            (504, true, RemoteUnavailable, true),
            (401, false, AuthFailed, false),
            (403, false, AuthFailed, false),
            (301, false, RemoteRejected, false),
            (307, false, RemoteRejected, false),
            (400, false, RemoteRejected, false),
            (404, false, RemoteRejected, false),
            (410, false, RemoteRejected, false),
            (422, false, RemoteRejected, false),
        ];
        for (status, retryable, reason, maybe_created) in cases {
            let error = failure(&reply(status, ""), &subject());
            assert_eq!(error.reason(), reason, "status {status}");
            match error {
                DeliveryError::Retry {
                    retry_after,
                    maybe_created: created,
                    ..
                } => {
                    assert!(retryable, "status {status} should be permanent");
                    assert_eq!(retry_after, Some(Duration::from_secs(7)), "status {status}");
                    assert_eq!(created, maybe_created, "status {status}");
                }
                DeliveryError::Permanent { .. } => {
                    assert!(!retryable, "status {status} should be retried");
                }
            }
        }
    }

    #[test]
    fn rejection_message_names_target_order_and_reason() {
        let error = failure(
            &reply(422, r#"{"message":"unknown SKU PROD-A1"}"#),
            &subject(),
        );

        assert_eq!(
            error.to_string(),
            "remote_rejected: target acme-erp, order 5542: the ERP rejected the request with \
             422 Unprocessable Entity: unknown SKU PROD-A1"
        );
    }

    #[test]
    fn excerpts_prefer_message_fields() {
        let cases = [
            (r#"{"message":"bad sku"}"#, "bad sku"),
            (r#"{"error":{"message":"bad total","code":7}}"#, "bad total"),
            (r#"{"error":"invalid_request"}"#, "invalid_request"),
            (r#"{"errors":[{"detail":"sku missing"}]}"#, "sku missing"),
            (r#"{"errors":["first problem","second"]}"#, "first problem"),
            (r#"{"code":7}"#, r#"{"code":7}"#),
            ("plain\n  text\tbody", "plain text body"),
            ("", "(empty body)"),
            ("call +15551234567 or 1234567", "call +[number] or [number]"),
            ("order 5542 exists", "order 5542 exists"),
        ];
        for (body, expected) in cases {
            assert_eq!(excerpt(body.as_bytes()), expected, "{body}");
        }
    }

    #[test]
    fn long_excerpt_is_cut() {
        let body = "é".repeat(500);

        let text = excerpt(body.as_bytes());

        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: DateTime<Utc> = "2026-05-27T14:30:00Z".parse().unwrap();
        let cases = [
            ("120", Some(Duration::from_secs(120))),
            (" 0 ", Some(Duration::ZERO)),
            (
                "Wed, 27 May 2026 14:31:30 GMT",
                Some(Duration::from_secs(90)),
            ),
            ("Wed, 27 May 2026 14:00:00 GMT", Some(Duration::ZERO)),
            ("-5", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now), expected, "`{value}`");
        }
    }

    #[test]
    fn remote_id_reads_strings_and_integers() {
        let cases = [
            (r#"{"id":"SO-1001"}"#, "/id", Some("SO-1001")),
            (r#"{"id":1001}"#, "/id", Some("1001")),
            (
                r#"{"data":{"order":{"number":"A7"}}}"#,
                "/data/order/number",
                Some("A7"),
            ),
            (r#"{"id":""}"#, "/id", None),
            (r#"{"id":1.5}"#, "/id", None),
            (r#"{"id":null}"#, "/id", None),
            (r#"{"id":"a\nb"}"#, "/id", None),
            (r#"{"other":1}"#, "/id", None),
            ("not json", "/id", None),
        ];
        for (body, pointer, expected) in cases {
            assert_eq!(
                remote_id(body.as_bytes(), pointer).as_deref(),
                expected,
                "{body} at {pointer}"
            );
        }
    }
}
