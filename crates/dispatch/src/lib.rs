//! Delivery workers of the bridge.
