//! Integration tests of the receiver against a real SQLite store in a
//! temporary directory.

mod support;

mod admin;
mod health;
mod webhook;
