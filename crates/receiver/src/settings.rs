//! Per-store routing and receiver limits, as the binary builds them from
//! its configuration.

use std::time::Duration;

use wamebo_core::{ClassifyPolicy, ConfigSecret, StoreId, TargetId};

/// The event type that matches every event in [`TargetRoute::events`].
pub const ANY_EVENT: &str = "*";

/// A target that a store sends events to, and which event types it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRoute {
    /// The delivery target.
    pub target_id: TargetId,
    /// Event types routed to it, such as `order.created`; `*` matches every
    /// type.
    pub events: Vec<String>,
}

impl TargetRoute {
    /// Returns true when this target takes events of `event_type`.
    pub fn accepts(&self, event_type: &str) -> bool {
        self.events
            .iter()
            .any(|routed| routed == ANY_EVENT || routed == event_type)
    }
}

/// One merchant store: its signing secrets, validation policy and routes.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The id in `POST /webhooks/{store}`.
    pub id: StoreId,
    /// Every secret that may sign this store's webhooks; several during a
    /// rotation.
    pub secrets: Vec<ConfigSecret>,
    /// The validation policy of this store's events, including their maximum
    /// age.
    pub policy: ClassifyPolicy,
    /// The targets of this store's events.
    pub targets: Vec<TargetRoute>,
}

impl StoreSettings {
    /// Returns the targets that take events of `event_type`, in
    /// configuration order.
    pub fn targets_for(&self, event_type: &str) -> Vec<TargetId> {
        self.targets
            .iter()
            .filter(|route| route.accepts(event_type))
            .map(|route| route.target_id.clone())
            .collect()
    }
}

/// Limits of the webhook route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverSettings {
    /// Maximum webhook body size in bytes. A larger body gets 413.
    pub max_body_bytes: usize,
    /// Maximum time to read a body once its headers arrived. A
    /// slower body gets 408, so a client sending a byte at a time cannot hold
    /// a connection and its buffer open indefinitely.
    pub body_read_timeout: Duration,
}

impl Default for ReceiverSettings {
    fn default() -> Self {
        ReceiverSettings {
            max_body_bytes: 1024 * 1024,
            // Wamebo counts a response later than 3 seconds as a failure, so
            // a body still arriving after 10 seconds cannot succeed anyway.
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(target: &str, events: &[&str]) -> TargetRoute {
        TargetRoute {
            target_id: TargetId::new(target).unwrap(),
            events: events.iter().map(|event| event.to_string()).collect(),
        }
    }

    #[test]
    fn route_accepts_listed_types_and_wildcard() {
        let orders = route("shop", &["order.created"]);
        let everything = route("erp", &["*"]);

        assert!(orders.accepts("order.created"));
        assert!(!orders.accepts("message.received"));
        assert!(everything.accepts("message.received"));
        assert!(everything.accepts("unknown"));
        assert!(!route("none", &[]).accepts("order.created"));
    }

    #[test]
    fn targets_for_keeps_configuration_order() {
        let store = StoreSettings {
            id: StoreId::new("acme").unwrap(),
            secrets: vec![ConfigSecret::from_value("test", "wh_sec_test")],
            policy: ClassifyPolicy::default(),
            targets: vec![
                route("erp", &["*"]),
                route("shop", &["order.created"]),
                route("chat", &["message.received"]),
            ],
        };

        let orders: Vec<String> = store
            .targets_for("order.created")
            .iter()
            .map(|id| id.to_string())
            .collect();
        let messages: Vec<String> = store
            .targets_for("message.received")
            .iter()
            .map(|id| id.to_string())
            .collect();

        assert_eq!(orders, ["erp", "shop"]);
        assert_eq!(messages, ["erp", "chat"]);
    }
}
