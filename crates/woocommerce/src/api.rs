//! Authenticated requests to the WooCommerce REST API, and the sorting of
//! every failure into what the dispatcher does next.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wamebo_core::{ConfigSecret, DeliveryError, ReasonCode, TargetId};

/// The maximum response body read. A page of 100 orders is well under a
/// megabyte, so a far larger body is not a WooCommerce response.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How many characters of a response that is not JSON go into an error.
const EXCERPT_CHARS: usize = 80;

/// A client for one shop's `{base_url}/wp-json/wc/v3`.
#[derive(Debug)]
pub(crate) struct Api {
    http: reqwest::Client,
    root: Url,
    consumer_key: ConfigSecret,
    consumer_secret: ConfigSecret,
}

/// Why a request is made, which decides whether its failure may have left
/// an order behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Reads before an order is posted (SKUs, customers): nothing was created.
    Lookup,
    /// The order's `POST /orders`: a failure after sending may have created it.
    Create,
    /// The search for an order an earlier attempt may have created: the next
    /// attempt must search again, whatever failed now.
    Reconcile,
}

/// A request as error messages name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub target: &'a TargetId,
    pub order_id: u64,
    pub purpose: Purpose,
    /// The method and path, such as `GET /products`.
    pub request: &'a str,
}

impl Call<'_> {
    fn context(&self) -> String {
        format!(
            "target {}, order {}: {}",
            self.target, self.order_id, self.request
        )
    }

    /// Tells whether a failure after the request left this host may have
    /// created the order, or leaves the question open.
    fn sent_may_have_created(&self) -> bool {
        matches!(self.purpose, Purpose::Create | Purpose::Reconcile)
    }
}

/// One page of a collection, with `X-WP-TotalPages` when WooCommerce sent it.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub total_pages: Option<u32>,
}

/// WooCommerce's documented error body: `{"code", "message", "data": {"status"}}`
/// (<https://woocommerce.github.io/woocommerce-rest-api-docs/#errors>).
#[derive(Debug, Deserialize)]
struct RemoteError {
    code: String,
    #[serde(default)]
    message: String,
}

/// A response read in full.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Api {
    /// Builds a client with the given timeouts. Redirects are not followed:
    /// a redirect would turn `POST /orders` into a `GET` and could carry
    /// the credentials to another host.
    pub(crate) fn new(
        root: Url,
        consumer_key: ConfigSecret,
        consumer_secret: ConfigSecret,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wamebo-bridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            http,
            root,
            consumer_key,
            consumer_secret,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = format!("{}/{path}", self.root.as_str().trim_end_matches('/'));
        self.http.request(method, url).basic_auth(
            self.consumer_key.expose(),
            Some(self.consumer_secret.expose()),
        )
    }

    /// Reads one page of a collection.
    pub(crate) async fn get_page<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Page<T>, DeliveryError> {
        let answer = self
            .send(call, self.request(Method::GET, path).query(query))
            .await?;
        if !answer.status.is_success() {
            return Err(failure(call, &answer));
        }
        page_of(call, answer)
    }

    /// Reads one page of a collection, or returns `None` when WooCommerce
    /// has no such route (`404` with code `rest_no_route`), which older
    /// versions return for routes added later.
    pub(crate) async fn get_page_if_route_exists<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Page<T>>, DeliveryError> {
        let answer = self
            .send(call, self.request(Method::GET, path).query(query))
            .await?;
        if answer.status == StatusCode::NOT_FOUND
            && parse_remote_error(&answer.body).is_some_and(|error| error.code == "rest_no_route")
        {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(failure(call, &answer));
        }
        page_of(call, answer).map(Some)
    }

    /// Posts a JSON body and parses the JSON response.
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T, DeliveryError> {
        let builder = self.request(Method::POST, path).query(query).json(body);
        let answer = self.send(call, builder).await?;
        if !answer.status.is_success() {
            return Err(failure(call, &answer));
        }
        parse_json(call, &answer)
    }

    async fn send(
        &self,
        call: &Call<'_>,
        builder: RequestBuilder,
    ) -> Result<Answer, DeliveryError> {
        let response = builder
            .send()
            .await
            .map_err(|error| transport_failure(call, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(call, response).await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

async fn read_limited(call: &Call<'_>, mut response: Response) -> Result<Vec<u8>, DeliveryError> {
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| transport_failure(call, &error))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(DeliveryError::Retry {
                reason: ReasonCode::InvalidResponse,
                message: format!(
                    "{} returned {} with a body over {MAX_BODY_BYTES} bytes",
                    call.context(),
                    response.status()
                ),
                retry_after: None,
                maybe_created: call.sent_may_have_created(),
            });
        }
        body.extend_from_slice(&chunk);
    }
}

fn page_of<T: DeserializeOwned>(call: &Call<'_>, answer: Answer) -> Result<Page<T>, DeliveryError> {
    let total_pages = answer
        .headers
        .get("x-wp-totalpages")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok());
    let items = parse_json(call, &answer)?;
    Ok(Page { items, total_pages })
}

/// Parses a successful response. A body that does not match the documented
/// shape is reported by position only, because serde's messages quote the
/// offending value, which may be a customer's name or phone.
fn parse_json<T: DeserializeOwned>(call: &Call<'_>, answer: &Answer) -> Result<T, DeliveryError> {
    serde_json::from_slice(&answer.body).map_err(|error| {
        let detail = if serde_json::from_slice::<serde_json::Value>(&answer.body).is_ok() {
            format!(
                "JSON that does not match WooCommerce's documented shape (line {}, column {})",
                error.line(),
                error.column()
            )
        } else {
            format!("a body that is not JSON: {}", excerpt(&answer.body))
        };
        DeliveryError::Retry {
            reason: ReasonCode::InvalidResponse,
            message: format!(
                "{} returned {} with {detail}",
                call.context(),
                answer.status
            ),
            retry_after: None,
            maybe_created: call.sent_may_have_created(),
        }
    })
}

fn parse_remote_error(body: &[u8]) -> Option<RemoteError> {
    serde_json::from_slice(body).ok()
}

/// Sorts a non-2xx response: 401 and 403 are rejected credentials, 408, 429
/// and 5xx are retried (honouring `Retry-After`), and any other status is a
/// rejection that repeating will not fix.
fn failure(call: &Call<'_>, answer: &Answer) -> DeliveryError {
    let status = answer.status;
    let detail = match parse_remote_error(&answer.body) {
        Some(error) => format!("`{}`: {}", error.code, error.message),
        None => format!(
            "a body that is not WooCommerce's error JSON: {}",
            excerpt(&answer.body)
        ),
    };
    let context = call.context();

    match status.as_u16() {
        401 | 403 => DeliveryError::permanent(
            ReasonCode::AuthFailed,
            format!(
                "{context} was rejected with {status} ({detail}): check that the consumer key exists with read/write \
                 permission and that the web server passes the Authorization header to WordPress"
            ),
        ),
        429 => DeliveryError::Retry {
            reason: ReasonCode::RemoteThrottled,
            message: format!("{context} was throttled with {status} ({detail})"),
            retry_after: retry_after(&answer.headers, Utc::now()),
            maybe_created: call.purpose == Purpose::Reconcile,
        },
        408 => DeliveryError::Retry {
            reason: ReasonCode::RemoteUnavailable,
            message: format!("{context} failed with {status} ({detail})"),
            retry_after: retry_after(&answer.headers, Utc::now()),
            maybe_created: call.purpose == Purpose::Reconcile,
        },
        500..=599 => DeliveryError::Retry {
            reason: ReasonCode::RemoteUnavailable,
            message: format!("{context} failed with {status} ({detail})"),
            retry_after: retry_after(&answer.headers, Utc::now()),
            // A PHP error after the order was saved (in an e-mail hook, say)
            // also returns 500, so a failed create may have succeeded.
            maybe_created: call.sent_may_have_created(),
        },
        300..=399 => {
            let location = answer
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("an unnamed address");
            DeliveryError::permanent(
                ReasonCode::RemoteRejected,
                format!(
                    "{context} was redirected with {status} to {location}: set `base_url` to the shop's final https address"
                ),
            )
        }
        _ => DeliveryError::permanent(
            ReasonCode::RemoteRejected,
            format!("{context} was rejected with {status} ({detail})"),
        ),
    }
}

/// Sorts a failure to send the request or to read the response. Failing to
/// connect means nothing was sent, but any later failure (a timeout, a reset
/// connection) may come after WooCommerce received the request.
fn transport_failure(call: &Call<'_>, error: &reqwest::Error) -> DeliveryError {
    let connect_failed = error.is_connect();
    let what = if error.is_timeout() {
        "timed out"
    } else if connect_failed {
        "could not connect"
    } else {
        "failed"
    };
    DeliveryError::Retry {
        reason: ReasonCode::RemoteUnavailable,
        message: format!("{} {what}: {}", call.context(), describe(error)),
        retry_after: None,
        maybe_created: if connect_failed {
            call.purpose == Purpose::Reconcile
        } else {
            call.sent_may_have_created()
        },
    }
}

/// Describes a reqwest error and its causes, without the URL.
fn describe(error: &reqwest::Error) -> String {
    let mut text = match error.status() {
        Some(status) => format!("status {status}"),
        None => String::from("transport error"),
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads `Retry-After` as seconds or as an HTTP date (RFC 9110, section
/// 10.2.3). A date in the past means no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some(
        at.signed_duration_since(now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Returns the first characters of a body, on one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut excerpt: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > EXCERPT_CHARS {
        excerpt.push('…');
    }
    if excerpt.trim().is_empty() {
        String::from("(empty)")
    } else {
        format!("`{}`", excerpt.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-05-27T14:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases = [
            ("30", Some(Duration::from_secs(30))),
            (" 0 ", Some(Duration::ZERO)),
            (
                "Wed, 27 May 2026 14:31:00 GMT",
                Some(Duration::from_secs(60)),
            ),
            ("Wed, 27 May 2026 14:00:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-5", None),
        ];
        for (value, expected) in cases {
            assert_eq!(retry_after(&headers(value), now), expected, "{value}");
        }
    }

    #[test]
    fn excerpt_is_short_and_on_one_line() {
        let body = format!("<html>\n<body>{}</body>", "x".repeat(200));

        let text = excerpt(body.as_bytes());

        assert!(!text.contains('\n'));
        assert!(text.chars().count() <= EXCERPT_CHARS + 3, "{text}");
        assert_eq!(excerpt(b""), "(empty)");
    }
}
