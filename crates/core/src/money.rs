//! Exact decimal money: amounts read from the JSON text itself and written as
//! strings with the currency's ISO 4217 minor units.
//!
//! No amount ever passes through `f64`. `serde_json` is built with its
//! `arbitrary_precision` feature, so a JSON number reaches us as the exact text
//! the sender wrote (`250.00`, `2.5e2`). [`parse_decimal`] turns that text
//! into a [`Decimal`] or fails, and never rounds.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A decimal text that could not be read exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
    /// The number needs more than the 28 significant digits a `Decimal` holds.
    #[error("`{0}` has more digits than can be represented exactly")]
    TooPrecise(String),
}

/// Parses a JSON number's text (or a numeric string) into an exact `Decimal`.
///
/// Plain decimals keep their scale (`"250.00"` stays `250.00`). Exponent forms
/// such as `2.5e2` are accepted and must also be exact. Anything that would
/// need rounding is an error.
pub fn parse_decimal(text: &str) -> Result<Decimal, DecimalError> {
    let trimmed = text.trim();
    if trimmed.is_empty()
        || !trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return Err(DecimalError::Syntax(text.to_owned()));
    }

    if trimmed.bytes().any(|b| b == b'e' || b == b'E') {
        return parse_scientific(trimmed);
    }

    match Decimal::from_str_exact(trimmed) {
        Ok(value) => Ok(value),
        Err(rust_decimal::Error::Underflow)
        | Err(rust_decimal::Error::ExceedsMaximumPossibleValue) => {
            Err(DecimalError::TooPrecise(text.to_owned()))
        }
        Err(_) => {
            if looks_like_plain_decimal(trimmed) {
                Err(DecimalError::TooPrecise(text.to_owned()))
            } else {
                Err(DecimalError::Syntax(text.to_owned()))
            }
        }
    }
}

fn looks_like_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let integer = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    !(integer.is_empty() && fraction.is_empty())
        && integer.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Reads `mantissa e exponent` by moving the decimal point in the text, so the
/// result is exact or an error.
fn parse_scientific(text: &str) -> Result<Decimal, DecimalError> {
    let syntax = || DecimalError::Syntax(text.to_owned());
    let (mantissa, exponent) = text.split_once(['e', 'E']).ok_or_else(syntax)?;
    let exponent: i32 = exponent.parse().map_err(|_| syntax())?;
    if !looks_like_plain_decimal(mantissa) || exponent.abs() > 60 {
        return Err(syntax());
    }

    let (sign, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = format!("{integer}{fraction}");
    // The decimal point sits after `point` digits of `digits`.
    let point = integer.len() as i32 + exponent;

    let plain = if point <= 0 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(point.unsigned_abs() as usize)
        )
    } else if point as usize >= digits.len() {
        format!(
            "{sign}{digits}{}",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (left, right) = digits.split_at(point as usize);
        format!("{sign}{left}.{right}")
    };

    // `2.5e2` is 250 with scale 0 rather than 250.0: normalise the exponent
    // form, because its written scale carries no meaning.
    parse_decimal(&plain).map(|value| value.normalize())
}

/// Serde adapter that reads an exact [`Decimal`] from a JSON number or a
/// numeric JSON string, and writes it as a string.
pub mod exact {
    use super::*;

    /// Reads an exact decimal; see [`parse_decimal`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let text = match &value {
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::String(text) => text.clone(),
            other => {
                return Err(de::Error::invalid_type(
                    de::Unexpected::Other(json_kind(other)),
                    &"a decimal number",
                ))
            }
        };
        parse_decimal(&text).map_err(de::Error::custom)
    }

    /// Writes the decimal as a JSON string, keeping its scale.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    fn json_kind(value: &serde_json::Value) -> &'static str {
        match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
            serde_json::Value::Number(_) | serde_json::Value::String(_) => "a value",
        }
    }
}

/// An active ISO 4217 currency together with its number of minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: iso_currency::Currency,
    minor_units: u32,
}

/// A currency code that is not an active ISO 4217 currency with minor units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 4217 currency code with minor units")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// Looks up an upper-case ISO 4217 alphabetic code such as `USD`.
    ///
    /// Codes without minor units (gold `XAU`, the test code `XTS`, fund codes)
    /// are not money a customer pays in and are rejected.
    pub fn from_code(code: &str) -> Result<Self, UnknownCurrency> {
        let unknown = || UnknownCurrency(code.to_owned());
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(unknown());
        }
        let iso = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        let minor_units = iso.exponent().ok_or_else(unknown)?;
        Ok(Currency {
            code: iso,
            minor_units: u32::from(minor_units),
        })
    }

    /// Returns the three-letter code, such as `USD`.
    pub fn code(&self) -> &'static str {
        self.code.code()
    }

    /// Returns the number of decimals this currency allows: 2 for USD, 0 for
    /// JPY, 3 for KWD.
    pub fn minor_units(&self) -> u32 {
        self.minor_units
    }

    /// Checks that `amount` needs no more decimals than the currency allows.
    /// Trailing zeros do not count: `100.000` is a valid USD amount.
    pub fn fits(&self, amount: Decimal) -> bool {
        amount.normalize().scale() <= self.minor_units
    }

    /// Formats an amount with exactly the currency's minor units, as platform
    /// payloads expect (`"200.00"`, `"2500"`, `"12.345"`).
    ///
    /// The caller must have checked [`Currency::fits`]; an amount with more
    /// decimals is written in full rather than rounded.
    pub fn format(&self, amount: Decimal) -> String {
        let mut value = amount.normalize();
        if value.scale() < self.minor_units {
            value.rescale(self.minor_units);
        }
        value.to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(de::Error::custom)
    }
}

/// An amount in a currency, valid for that currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Builds a money value, or returns `None` when `amount` has more decimals
    /// than `currency` allows.
    pub fn new(amount: Decimal, currency: Currency) -> Option<Self> {
        currency.fits(amount).then_some(Money { amount, currency })
    }

    /// Returns the exact amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// Returns the currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Formats the amount with the currency's minor units.
    pub fn to_minor_string(&self) -> String {
        self.currency.format(self.amount)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_minor_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn plain_decimals_keep_their_scale() {
        assert_eq!(parse_decimal("250.00").unwrap().to_string(), "250.00");
        assert_eq!(parse_decimal("0.1").unwrap().to_string(), "0.1");
        assert_eq!(parse_decimal("-3").unwrap().to_string(), "-3");
    }

    #[test]
    fn exponent_forms_are_exact() {
        assert_eq!(parse_decimal("2.5e2").unwrap(), dec("250"));
        assert_eq!(parse_decimal("2.5E+2").unwrap(), dec("250"));
        assert_eq!(parse_decimal("125e-2").unwrap(), dec("1.25"));
        assert_eq!(parse_decimal("1e0").unwrap(), dec("1"));
    }

    #[test]
    fn long_fraction_is_read_exactly() {
        let value = parse_decimal("19.999999999999999999").unwrap();
        assert_eq!(value.to_string(), "19.999999999999999999");
    }

    #[test]
    fn invalid_decimal_texts_are_rejected() {
        let cases = [
            ("", "empty"),
            ("abc", "letters"),
            ("1.2.3", "two points"),
            ("1e", "empty exponent"),
            ("e5", "empty mantissa"),
            ("0x10", "hex"),
            ("NaN", "not a number"),
            ("1e999", "huge exponent"),
            (".", "lone point"),
        ];
        for (text, why) in cases {
            assert!(parse_decimal(text).is_err(), "{why}: `{text}` was accepted");
        }
    }

    #[test]
    fn too_many_digits_is_an_error_not_rounding() {
        let result = parse_decimal("1.00000000000000000000000000001");
        assert!(
            matches!(result, Err(DecimalError::TooPrecise(_))),
            "{result:?}"
        );
        let result = parse_decimal("123456789012345678901234567890");
        assert!(
            matches!(result, Err(DecimalError::TooPrecise(_))),
            "{result:?}"
        );
    }

    #[test]
    fn serde_reads_numbers_from_json_text() {
        #[derive(Deserialize)]
        struct Amount {
            #[serde(with = "exact")]
            value: Decimal,
        }
        let parsed: Amount = serde_json::from_str(r#"{"value": 250.00}"#).unwrap();
        assert_eq!(parsed.value.to_string(), "250.00");
        let parsed: Amount = serde_json::from_str(r#"{"value": 19.999999999999999999}"#).unwrap();
        assert_eq!(parsed.value.to_string(), "19.999999999999999999");
        let parsed: Amount = serde_json::from_str(r#"{"value": "12.345"}"#).unwrap();
        assert_eq!(parsed.value.to_string(), "12.345");
        assert!(serde_json::from_str::<Amount>(r#"{"value": true}"#).is_err());
        assert!(serde_json::from_str::<Amount>(r#"{"value": null}"#).is_err());
    }

    #[test]
    fn currencies_know_their_minor_units() {
        let cases = [
            ("USD", 2),
            ("JPY", 0),
            ("KWD", 3),
            ("EUR", 2),
            ("INR", 2),
            ("BHD", 3),
            ("CLP", 0),
        ];
        for (code, units) in cases {
            assert_eq!(
                Currency::from_code(code).unwrap().minor_units(),
                units,
                "{code}"
            );
        }
    }

    #[test]
    fn invalid_currency_codes_are_rejected() {
        for code in ["", "usd", "US", "USDD", "ZZZ", "XAU", "XTS", "12A"] {
            assert!(Currency::from_code(code).is_err(), "`{code}` was accepted");
        }
    }

    #[test]
    fn format_pads_to_minor_units() {
        let usd = Currency::from_code("USD").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        let kwd = Currency::from_code("KWD").unwrap();
        assert_eq!(usd.format(dec("200")), "200.00");
        assert_eq!(usd.format(dec("50.5")), "50.50");
        assert_eq!(usd.format(dec("100.000")), "100.00");
        assert_eq!(jpy.format(dec("2500")), "2500");
        assert_eq!(jpy.format(dec("2500.00")), "2500");
        assert_eq!(kwd.format(dec("12.345")), "12.345");
    }

    #[test]
    fn fits_ignores_trailing_zeros() {
        let usd = Currency::from_code("USD").unwrap();
        assert!(usd.fits(dec("1.10")));
        assert!(usd.fits(dec("1.100")));
        assert!(!usd.fits(dec("1.001")));
        assert!(!usd.fits(dec("19.999999999999999999")));
    }

    proptest! {
        #[test]
        fn plain_text_round_trips(integer in 0u64..10_000_000_000, fraction in proptest::option::of("[0-9]{1,8}")) {
            let text = match &fraction {
                Some(digits) => format!("{integer}.{digits}"),
                None => integer.to_string(),
            };
            let value = parse_decimal(&text).unwrap();
            prop_assert_eq!(value.to_string(), text);
        }

        #[test]
        fn exponent_form_equals_plain_form(mantissa in 1i64..1_000_000, exponent in -8i32..8) {
            let scientific = format!("{mantissa}e{exponent}");
            let expected = Decimal::from(mantissa) * Decimal::from_scientific(&format!("1e{exponent}")).unwrap();
            prop_assert_eq!(parse_decimal(&scientific).unwrap(), expected);
        }

        #[test]
        fn json_number_is_read_without_float(integer in 0u64..1_000_000_000, cents in 0u32..100) {
            let text = format!("{integer}.{cents:02}");
            let json = format!("[{text}]");
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let number = value[0].to_string();
            prop_assert_eq!(parse_decimal(&number).unwrap().to_string(), text);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_decimal(&text);
        }
    }
}
