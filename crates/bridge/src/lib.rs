//! The wamebo-bridge service: configuration, the delivery targets it builds,
//! and the commands of the `wamebo-bridge` binary.

pub mod application;
pub mod cli;
pub mod commands;
pub mod config;
pub mod sample;
pub mod targets;
pub mod telemetry;
pub mod wiring;

pub use application::Application;
pub use config::{Config, ConfigError, ConfigProblem};

#[cfg(test)]
mod docs_tests {
    use wamebo_core::ReasonCode;

    const REASON_CODES_PAGE: &str = include_str!("../../../docs/reason-codes.md");

    #[test]
    fn reason_codes_page_lists_every_code() {
        for code in ReasonCode::ALL {
            let entry = format!("| `{}` |", code.as_str());
            assert!(
                REASON_CODES_PAGE.contains(&entry),
                "docs/reason-codes.md has no table row for `{code}`"
            );
        }
    }
}
