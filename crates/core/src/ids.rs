//! Identifiers parsed once at the edge: store and target ids.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A text that is not a valid store or target id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid id: use 1 to 64 characters from a-z, 0-9, `-` and `_`, starting with a letter or digit")]
pub struct InvalidId {
    /// The rejected text.
    pub value: String,
}

fn validate_id(value: &str) -> Result<(), InvalidId> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(InvalidId {
            value: value.to_owned(),
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id: lower-case letters, digits, `-` and `_`.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                validate_id(&value)?;
                Ok(Self(value))
            }

            /// Returns the id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A merchant store, as it appears in `POST /webhooks/{store}`.
    StoreId
);
id_type!(
    /// A configured delivery target, such as a WooCommerce shop.
    TargetId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_are_accepted() {
        for value in ["acme", "acme-woo", "store_1", "9lives"] {
            assert!(StoreId::new(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn invalid_ids_are_rejected() {
        let long = "a".repeat(65);
        for value in [
            "",
            "Acme",
            "-acme",
            "_a",
            "a b",
            "a/b",
            "a.b",
            "ä",
            long.as_str(),
        ] {
            assert!(TargetId::new(value).is_err(), "`{value}` was accepted");
        }
    }
}
