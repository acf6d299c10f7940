//! Phone numbers in E.164 form, checked against libphonenumber's metadata.
//!
//! The check is libphonenumber's "possible number" test: a known country
//! calling code and a national number of a length that country uses. The
//! stricter "valid number" test also rejects unassigned ranges, and Wamebo's
//! own documented example number (`15551234567`, area code 555) is one of
//! those, so a strict check would quarantine ordinary test traffic.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};

/// A validated phone number in E.164 form, such as `+919876543210`.
///
/// `Debug` masks all but the first two and the last two digits, so a phone
/// number that reaches a log line by accident still identifies no one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// A phone number that is not a valid international number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The text contains something other than digits and an optional `+`.
    #[error("phone number contains characters other than digits")]
    NotDigits,
    /// E.164 allows 8 to 15 digits including the country code.
    #[error("phone number has {0} digits, but E.164 allows 8 to 15")]
    Length(usize),
    /// The country code is unknown, or the national number has a length
    /// that country does not use.
    #[error("phone number has no known country code or a length that country does not use")]
    Invalid,
}

impl Phone {
    /// Parses digits with the country code and no `+` (as Wamebo sends
    /// them, `919876543210`), or a number that already starts with `+`.
    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotDigits);
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneError::Length(digits.len()));
        }

        if !is_possible(digits) {
            return Err(PhoneError::Invalid);
        }
        Ok(Phone(format!("+{digits}")))
    }

    /// Returns the number in E.164 form, with its leading `+`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// Returns the number masked for display: `+91********10`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Checks that `digits` start with a known country calling code followed by
/// a national number of a length that country uses.
///
/// Calling codes are prefix-free (ITU-T E.164), so the first prefix of one
/// to three digits that names a country is the only candidate. A table
/// lookup is used rather than `phonenumber::parse`, whose regular
/// expressions cost more than all other work on the webhook path.
fn is_possible(digits: &str) -> bool {
    let lengths = possible_lengths();
    (1..=3).any(|split| {
        let Some((code, national)) = digits.split_at_checked(split) else {
            return false;
        };
        let Ok(code) = code.parse::<u16>() else {
            return false;
        };
        let Ok(national_length) = u16::try_from(national.len()) else {
            return false;
        };
        lengths
            .get(&code)
            .is_some_and(|known| known.contains(&national_length))
    })
}

/// National number lengths per country calling code, from libphonenumber's
/// metadata, built once.
fn possible_lengths() -> &'static HashMap<u16, Vec<u16>> {
    static LENGTHS: OnceLock<HashMap<u16, Vec<u16>>> = OnceLock::new();
    LENGTHS.get_or_init(|| {
        let mut lengths: HashMap<u16, Vec<u16>> = HashMap::new();
        for meta in phonenumber::metadata::DATABASE.iter() {
            // This metadata leaves the general descriptor's lengths empty, so
            // take the union over the number types, as libphonenumber does.
            let descriptors = meta.descriptors();
            let known = lengths.entry(meta.country_code()).or_default();
            let all = [
                Some(descriptors.general()),
                descriptors.fixed_line(),
                descriptors.mobile(),
                descriptors.toll_free(),
                descriptors.premium_rate(),
                descriptors.shared_cost(),
                descriptors.personal_number(),
                descriptors.voip(),
                descriptors.pager(),
                descriptors.uan(),
                descriptors.voicemail(),
            ];
            for descriptor in all.into_iter().flatten() {
                known.extend_from_slice(descriptor.possible_length());
            }
            known.sort_unstable();
            known.dedup();
        }
        // Codes such as 800 (international freephone) have no lengths here.
        lengths.retain(|_, known| !known.is_empty());
        lengths
    })
}

/// Masks a phone-like text for display: every digit but the first two and
/// the last two becomes `*`, and so does every character other than a digit,
/// a space or `+ - ( ) .`, because a malformed phone field may hold a name.
pub fn mask_phone(text: &str) -> String {
    let digit_count = text.bytes().filter(u8::is_ascii_digit).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                // Keep the first two digits (the country code's start) and the last two.
                if seen <= 2 || seen + 2 > digit_count {
                    c
                } else {
                    '*'
                }
            } else if matches!(c, ' ' | '+' | '-' | '(' | ')' | '.') {
                c
            } else {
                '*'
            }
        })
        .collect()
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_many_countries_are_possible() {
        let numbers = [
            "390612345678",
            "5511987654321",
            "81312345678",
            "971501234567",
            "2348031234567",
            "4915112345678",
            "861012345678",
            "6591234567",
        ];
        for digits in numbers {
            let phone = Phone::parse(digits);
            assert_eq!(
                phone.map(|p| p.as_e164().to_owned()),
                Ok(format!("+{digits}")),
                "{digits}"
            );
        }
    }

    #[test]
    fn wamebo_digits_become_e164() {
        assert_eq!(
            Phone::parse("919876543210").unwrap().as_e164(),
            "+919876543210"
        );
        assert_eq!(
            Phone::parse("15551234567").unwrap().as_e164(),
            "+15551234567"
        );
        assert_eq!(
            Phone::parse("+447911123456").unwrap().as_e164(),
            "+447911123456"
        );
        assert_eq!(
            Phone::parse(" 4915112345678 ").unwrap().as_e164(),
            "+4915112345678"
        );
    }

    #[test]
    fn invalid_phones_are_rejected() {
        let cases = [
            ("", PhoneError::NotDigits),
            ("+", PhoneError::NotDigits),
            ("91-98765-43210", PhoneError::NotDigits),
            ("phone", PhoneError::NotDigits),
            ("1234567", PhoneError::Length(7)),
            ("1234567890123456", PhoneError::Length(16)),
            ("999123456789", PhoneError::Invalid),
            ("1555123456", PhoneError::Invalid),
            ("4479111234567890", PhoneError::Length(16)),
            ("0919876543", PhoneError::Invalid),
            ("919876543", PhoneError::Invalid),
        ];
        for (text, expected) in cases {
            assert_eq!(Phone::parse(text), Err(expected), "`{text}`");
        }
    }

    #[test]
    fn debug_masks_the_number() {
        let phone = Phone::parse("919876543210").unwrap();
        let shown = format!("{phone:?}");
        assert_eq!(shown, "Phone(+91********10)");
        assert!(!shown.contains("98765"));
    }

    #[test]
    fn mask_phone_hides_letters_and_symbols() {
        let cases = [
            ("15551234567", "15*******67"),
            ("+1 (555) 123-4567", "+1 (5**) ***-**67"),
            ("abc Yolanda", "*** *******"),
            ("call 15551234567 now", "**** 15*******67 ***"),
            ("Zoë +44", "*** +44"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_phone(text), expected, "`{text}`");
        }
    }
}
