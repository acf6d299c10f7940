//! Phone numbers in E.164 form, checked against libphonenumber's metadata.
//!
//! The check is libphonenumber's "possible number" test: a known country
//! calling code and a national number of a length that country uses. The
//! stricter "valid number" test also rejects unassigned ranges, and Wamebo's
//! own documented example number (`15551234567`, area code 555) is one of
//! those, so a strict check would quarantine ordinary test traffic.

use std::fmt;

use serde::{Serialize, Serializer};

/// A validated phone number in E.164 form, such as `+919876543210`.
///
/// `Debug` masks all but the last two digits, so a phone number that reaches a
/// log line by accident still identifies no one.
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

        let e164 = format!("+{digits}");
        let parsed = phonenumber::parse(None, &e164).map_err(|_| PhoneError::Invalid)?;
        if !is_possible(&parsed) {
            return Err(PhoneError::Invalid);
        }
        let formatted = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Phone(formatted))
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

fn is_possible(number: &phonenumber::PhoneNumber) -> bool {
    let national_length = number.national().to_string().len();
    let Ok(national_length) = u16::try_from(national_length) else {
        return false;
    };
    phonenumber::metadata::DATABASE
        .by_code(&number.code().value())
        .unwrap_or_default()
        .iter()
        .any(|meta| {
            // This metadata leaves the general descriptor's lengths empty, so
            // take the union over the number types, as libphonenumber does.
            let descriptors = meta.descriptors();
            [
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
            ]
            .into_iter()
            .flatten()
            .any(|descriptor| descriptor.possible_length().contains(&national_length))
        })
}

/// Masks every digit of a phone-like text but the last two.
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
            } else {
                c
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
}
