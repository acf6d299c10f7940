//! Stable reason codes: why an event was quarantined or a delivery failed.
//!
//! These words appear in HTTP responses, in the store and in metrics labels, so
//! they never change once published. `docs/reason-codes.md` lists them all.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The reason an event was quarantined or a delivery stopped or is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The body is not JSON, or not a JSON object with an `event` field.
    InvalidJson,
    /// The JSON is well formed but a field is missing or has the wrong type.
    InvalidPayload,
    /// An amount has more decimals than its currency's minor units allow.
    AmountPrecision,
    /// The line totals do not add up to `total_amount`.
    TotalMismatch,
    /// A quantity is zero, negative or not an integer.
    InvalidQuantity,
    /// The currency is not an active ISO 4217 currency with minor units.
    UnknownCurrency,
    /// The order's currency differs from what the target accepts.
    CurrencyMismatch,
    /// The phone number is not a valid international number.
    InvalidPhone,
    /// The event's timestamp is older than the configured maximum age.
    StaleEvent,
    /// The same key arrived again with a different body.
    ConflictingDuplicate,
    /// A SKU matched no product on the target.
    SkuNotFound,
    /// A SKU matched more than one product on the target.
    SkuAmbiguous,
    /// The target refused the order for a reason it stated.
    RemoteRejected,
    /// The target refused the credentials.
    AuthFailed,
    /// The delivery ran out of attempts or of time.
    RetriesExhausted,
    /// The target could not be reached or responded with a temporary error.
    RemoteUnavailable,
    /// The target asked the bridge to slow down.
    RemoteThrottled,
    /// The target responded with something that is not its documented format.
    InvalidResponse,
    /// The target is not configured for this kind of event.
    UnsupportedEvent,
    /// The delivery's target is no longer in the configuration.
    TargetNotConfigured,
}

impl ReasonCode {
    /// Every code, in documentation order.
    pub const ALL: [ReasonCode; 20] = [
        ReasonCode::InvalidJson,
        ReasonCode::InvalidPayload,
        ReasonCode::AmountPrecision,
        ReasonCode::TotalMismatch,
        ReasonCode::InvalidQuantity,
        ReasonCode::UnknownCurrency,
        ReasonCode::CurrencyMismatch,
        ReasonCode::InvalidPhone,
        ReasonCode::StaleEvent,
        ReasonCode::ConflictingDuplicate,
        ReasonCode::SkuNotFound,
        ReasonCode::SkuAmbiguous,
        ReasonCode::RemoteRejected,
        ReasonCode::AuthFailed,
        ReasonCode::RetriesExhausted,
        ReasonCode::RemoteUnavailable,
        ReasonCode::RemoteThrottled,
        ReasonCode::InvalidResponse,
        ReasonCode::UnsupportedEvent,
        ReasonCode::TargetNotConfigured,
    ];

    /// Returns the snake_case code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::InvalidJson => "invalid_json",
            ReasonCode::InvalidPayload => "invalid_payload",
            ReasonCode::AmountPrecision => "amount_precision",
            ReasonCode::TotalMismatch => "total_mismatch",
            ReasonCode::InvalidQuantity => "invalid_quantity",
            ReasonCode::UnknownCurrency => "unknown_currency",
            ReasonCode::CurrencyMismatch => "currency_mismatch",
            ReasonCode::InvalidPhone => "invalid_phone",
            ReasonCode::StaleEvent => "stale_event",
            ReasonCode::ConflictingDuplicate => "conflicting_duplicate",
            ReasonCode::SkuNotFound => "sku_not_found",
            ReasonCode::SkuAmbiguous => "sku_ambiguous",
            ReasonCode::RemoteRejected => "remote_rejected",
            ReasonCode::AuthFailed => "auth_failed",
            ReasonCode::RetriesExhausted => "retries_exhausted",
            ReasonCode::RemoteUnavailable => "remote_unavailable",
            ReasonCode::RemoteThrottled => "remote_throttled",
            ReasonCode::InvalidResponse => "invalid_response",
            ReasonCode::UnsupportedEvent => "unsupported_event",
            ReasonCode::TargetNotConfigured => "target_not_configured",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the published reason codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason code `{0}`")]
pub struct UnknownReasonCode(pub String);

impl FromStr for ReasonCode {
    type Err = UnknownReasonCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReasonCode::ALL
            .into_iter()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownReasonCode(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text() {
        for code in ReasonCode::ALL {
            assert_eq!(code.as_str().parse::<ReasonCode>(), Ok(code));
        }
    }

    #[test]
    fn serde_matches_as_str() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn unknown_code_is_rejected() {
        assert!("nope".parse::<ReasonCode>().is_err());
    }
}
