//! Domain types of wamebo-bridge: exact money, phones, validated orders,
//! Wamebo's events and the [`OrderSink`] trait that delivery targets
//! implement.

pub mod canonical;
pub mod event;
pub mod ids;
pub mod money;
pub mod order;
pub mod phone;
pub mod reason;
pub mod secret;
pub mod sink;

pub use canonical::{CanonicalOrder, CANONICAL_SCHEMA_VERSION};
pub use event::{classify, Classified, ClassifyPolicy, Payload, Verdict};
pub use ids::{InvalidId, StoreId, TargetId};
pub use money::{parse_decimal, Currency, Money};
pub use order::{Customer, LineItem, Order, PersonName, TotalMismatchPolicy};
pub use phone::Phone;
pub use reason::ReasonCode;
pub use rust_decimal::Decimal;
pub use secret::{ConfigSecret, SecretError};
pub use sink::{Delivered, DeliveryContext, DeliveryError, OrderSink};
