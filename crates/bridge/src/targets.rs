//! Delivery targets: one `[[targets]]` table becomes a [`TargetSpec`], and a
//! spec builds its sink.
//!
//! Every table has the common keys `id`, `kind` and `events`. The other keys
//! belong to the kind and are read into that kind's own config struct, which
//! rejects keys it does not know. Adding a kind means adding one arm to
//! [`prepare_kind`] and its name to [`KNOWN_KINDS`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use wamebo_core::event::ORDER_CREATED;
use wamebo_core::{OrderSink, TargetId};
use wamebo_erp::{ErpConfig, ErpSink};
use wamebo_file::{FileSink, FileTargetConfig};
use wamebo_shopify::{ShopifyConfig, ShopifySink};
use wamebo_woocommerce::{WooCommerceConfig, WooCommerceSink};

use crate::config::ConfigProblem;

/// Every value `kind` may take.
pub const KNOWN_KINDS: &[&str] = &["file", "woocommerce", "shopify", "erp"];

type SinkBuilder = dyn Fn() -> anyhow::Result<Arc<dyn OrderSink>> + Send + Sync;

/// A checked `[[targets]]` table, ready to build its sink.
#[derive(Clone)]
pub struct TargetSpec {
    /// The target's id, as stores name it in their `targets`.
    pub id: TargetId,
    /// The kind, such as `file`.
    pub kind: &'static str,
    /// The event types it receives; `["order.created"]` unless set.
    pub events: Vec<String>,
    /// The maximum duration of one delivery attempt on the target (its
    /// lookup and create calls together), for kinds that make requests. The
    /// dispatch lease must be longer.
    pub max_attempt_duration: Option<Duration>,
    /// A local file the target writes, which no other target may share.
    pub exclusive_file: Option<PathBuf>,
    build: Arc<SinkBuilder>,
}

impl fmt::Debug for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl TargetSpec {
    /// Builds the sink: opens its file or creates its HTTP client.
    pub fn build(&self) -> anyhow::Result<Arc<dyn OrderSink>> {
        (self.build)()
    }
}

/// The part of a target that depends on its kind, returned by its arm.
struct PreparedKind {
    kind: &'static str,
    max_attempt_duration: Option<Duration>,
    exclusive_file: Option<PathBuf>,
    build: Arc<SinkBuilder>,
}

/// Checks the `index`th `[[targets]]` table and returns its spec, or every
/// problem found in it.
pub fn prepare_target(index: usize, table: &toml::Table) -> Result<TargetSpec, Vec<ConfigProblem>> {
    let key = format!("targets[{index}]");
    let mut rest = table.clone();
    let mut problems = Vec::new();

    let id = match rest.remove("id") {
        Some(toml::Value::String(text)) => match TargetId::new(text) {
            Ok(id) => Some(id),
            Err(error) => {
                problems.push(ConfigProblem::new(format!("{key}.id"), error.to_string()));
                None
            }
        },
        Some(_) => {
            problems.push(ConfigProblem::new(format!("{key}.id"), "must be a string"));
            None
        }
        None => {
            problems.push(ConfigProblem::new(
                format!("{key}.id"),
                "missing; give the target an id such as \"shop-file\"",
            ));
            None
        }
    };
    let kind = match rest.remove("kind") {
        Some(toml::Value::String(text)) => Some(text),
        Some(_) => {
            problems.push(ConfigProblem::new(
                format!("{key}.kind"),
                "must be a string",
            ));
            None
        }
        None => {
            problems.push(ConfigProblem::new(
                format!("{key}.kind"),
                format!("missing; set it to one of: {}", KNOWN_KINDS.join(", ")),
            ));
            None
        }
    };
    let events = match read_events(&key, rest.remove("events")) {
        Ok(events) => events,
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };

    // The kind's own keys are checked only once the id is known, because
    // some kinds name the target in their messages.
    let prepared = match (&id, kind) {
        (Some(id), Some(kind)) => match prepare_kind(&key, id, &kind, &events, rest) {
            Ok(prepared) => Some(prepared),
            Err(kind_problems) => {
                problems.extend(kind_problems);
                None
            }
        },
        _ => None,
    };

    match (id, prepared) {
        (Some(id), Some(prepared)) if problems.is_empty() => Ok(TargetSpec {
            id,
            kind: prepared.kind,
            events,
            max_attempt_duration: prepared.max_attempt_duration,
            exclusive_file: prepared.exclusive_file,
            build: prepared.build,
        }),
        _ => Err(problems),
    }
}

/// Reads the kind's own keys and returns how to build its sink.
fn prepare_kind(
    key: &str,
    id: &TargetId,
    kind: &str,
    events: &[String],
    rest: toml::Table,
) -> Result<PreparedKind, Vec<ConfigProblem>> {
    match kind {
        "file" => {
            let config: FileTargetConfig = kind_config(key, kind, rest)?;
            only_orders(key, kind, events)?;
            let path = config.path.clone();
            Ok(PreparedKind {
                kind: "file",
                max_attempt_duration: None,
                exclusive_file: Some(path),
                build: Arc::new(move || {
                    let sink = FileSink::open(&config)?;
                    Ok(Arc::new(sink) as Arc<dyn OrderSink>)
                }),
            })
        }
        "woocommerce" => {
            let config: WooCommerceConfig = kind_config(key, kind, rest)?;
            only_orders(key, kind, events)?;
            // Building the sink only validates and creates an HTTP client,
            // so it happens here and `check-config` reports its problems.
            let sink = WooCommerceSink::new(id.clone(), config)
                .map_err(|error| vec![ConfigProblem::new(error.key, error.problem)])?;
            let sink = Arc::new(sink);
            Ok(PreparedKind {
                kind: "woocommerce",
                max_attempt_duration: Some(sink.max_attempt_duration()),
                exclusive_file: None,
                build: Arc::new(move || Ok(Arc::clone(&sink) as Arc<dyn OrderSink>)),
            })
        }
        "shopify" => {
            let config: ShopifyConfig = kind_config(key, kind, rest)?;
            only_orders(key, kind, events)?;
            let sink = ShopifySink::new(id.clone(), config).map_err(|error| {
                vec![ConfigProblem::new(
                    format!("targets.{}.{}", error.target, error.key),
                    error.problem,
                )]
            })?;
            let sink = Arc::new(sink);
            Ok(PreparedKind {
                kind: "shopify",
                max_attempt_duration: Some(sink.max_attempt_duration()),
                exclusive_file: None,
                build: Arc::new(move || Ok(Arc::clone(&sink) as Arc<dyn OrderSink>)),
            })
        }
        "erp" => {
            // An ERP target forwards any event type unchanged, so `events`
            // is not limited here.
            let config: ErpConfig = kind_config(key, kind, rest)?;
            let sink = ErpSink::new(id.clone(), config).map_err(|error| {
                vec![ConfigProblem::new(
                    error.key,
                    format!("{}; {}", error.problem, error.fix),
                )]
            })?;
            let sink = Arc::new(sink);
            Ok(PreparedKind {
                kind: "erp",
                max_attempt_duration: Some(sink.max_attempt_duration()),
                exclusive_file: None,
                build: Arc::new(move || Ok(Arc::clone(&sink) as Arc<dyn OrderSink>)),
            })
        }
        other => Err(vec![ConfigProblem::new(
            format!("{key}.kind"),
            format!(
                "unknown target kind `{other}`; use one of: {}",
                KNOWN_KINDS.join(", ")
            ),
        )]),
    }
}

/// Deserializes the keys left after the common ones into a kind's config
/// struct.
fn kind_config<T: DeserializeOwned>(
    key: &str,
    kind: &str,
    rest: toml::Table,
) -> Result<T, Vec<ConfigProblem>> {
    T::deserialize(toml::Value::Table(rest)).map_err(|error| {
        vec![ConfigProblem::new(
            key,
            format!("invalid `{kind}` target: {}", error.message().trim_end()),
        )]
    })
}

/// Rejects event types other than `order.created`, for kinds that only
/// create orders.
fn only_orders(key: &str, kind: &str, events: &[String]) -> Result<(), Vec<ConfigProblem>> {
    if events.iter().all(|event| event == ORDER_CREATED) {
        return Ok(());
    }
    Err(vec![ConfigProblem::new(
        format!("{key}.events"),
        format!("a `{kind}` target only receives orders; set events = [\"{ORDER_CREATED}\"] or remove the key"),
    )])
}

fn read_events(key: &str, value: Option<toml::Value>) -> Result<Vec<String>, ConfigProblem> {
    let key = format!("{key}.events");
    let Some(value) = value else {
        return Ok(vec![ORDER_CREATED.to_owned()]);
    };
    let toml::Value::Array(items) = value else {
        return Err(ConfigProblem::new(
            key,
            "must be a list of event types, such as [\"order.created\"]",
        ));
    };
    let mut events: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let toml::Value::String(event) = item else {
            return Err(ConfigProblem::new(key, "every event type must be a string"));
        };
        if event.trim().is_empty() || event.trim() != event {
            return Err(ConfigProblem::new(
                key,
                format!("`{event}` is not an event type; use names such as \"order.created\""),
            ));
        }
        if events.contains(&event) {
            return Err(ConfigProblem::new(
                key,
                format!("`{event}` is listed twice"),
            ));
        }
        events.push(event);
    }
    if events.is_empty() {
        return Err(ConfigProblem::new(
            key,
            "is empty, so the target would receive nothing; list at least one event type",
        ));
    }
    Ok(events)
}
