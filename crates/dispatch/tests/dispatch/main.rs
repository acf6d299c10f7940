//! Integration tests of the dispatcher against a real SQLite store and a
//! sink that records its calls.

mod support;

mod delivery;
mod lifecycle;
