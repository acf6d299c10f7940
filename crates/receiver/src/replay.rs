//! Replaying an event: a quarantined one is validated again first, then its
//! dead deliveries are revived and missing ones created. The admin API and
//! the command line both use it.

use chrono::{DateTime, Utc};
use wamebo_core::{classify, ClassifyPolicy, ReasonCode, StoreId, TargetId, Verdict};
use wamebo_store::{EventId, EventRecord, EventStatus, ReplayOutcome, Store, StoreError};

use crate::settings::StoreSettings;

/// An error that prevents an event replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No event has this id.
    #[error("event {0} not found: list events to find its id")]
    NotFound(EventId),
    /// The event belongs to another store than the settings given.
    #[error("event {event_id} belongs to store `{event_store}`, not `{given_store}`")]
    WrongStore {
        /// The event.
        event_id: EventId,
        /// The store the event arrived for.
        event_store: StoreId,
        /// The store whose settings were passed.
        given_store: StoreId,
    },
    /// The quarantined event still fails validation under the store's
    /// current policy, even without the age limit.
    #[error("event {event_id} is still invalid ({reason}): {detail}; fix the store's policy or leave it quarantined")]
    StillInvalid {
        /// The event.
        event_id: EventId,
        /// Why, as a stable code.
        reason: ReasonCode,
        /// The field at fault and the rule it broke, without personal data.
        detail: String,
    },
    /// The event has no dead delivery and no routed target without one.
    #[error("event {0} has no dead delivery and no target left to deliver to: nothing to replay")]
    NothingToReplay(EventId),
    /// Storage refused the replay for the event's current state.
    #[error("event {event_id} cannot be replayed: {message}")]
    NotApplicable {
        /// The event.
        event_id: EventId,
        /// The store's explanation.
        message: String,
    },
    /// Storage failed.
    #[error("failed to replay event: {0}")]
    Storage(#[source] StoreError),
}

/// Replays one event of the store `settings` describes.
///
/// A quarantined event is classified again with the store's current policy
/// and no age limit, since its age is why replay exists. If it is still
/// invalid, nothing changes and [`ReplayError::StillInvalid`] carries the
/// reason. Otherwise [`Store::replay_event`] marks it accepted, revives its
/// dead deliveries and creates one for each routed target it lacks.
pub async fn replay_event(
    store: &dyn Store,
    settings: &StoreSettings,
    event_id: EventId,
    now: DateTime<Utc>,
) -> Result<ReplayOutcome, ReplayError> {
    let record = store
        .get_event(event_id)
        .await
        .map_err(|error| storage_error(event_id, error))?
        .ok_or(ReplayError::NotFound(event_id))?;
    if record.summary.store_id != settings.id {
        return Err(ReplayError::WrongStore {
            event_id,
            event_store: record.summary.store_id,
            given_store: settings.id.clone(),
        });
    }

    let targets = routed_targets(settings, &record, now)?;

    let outcome = store
        .replay_event(event_id, &targets)
        .await
        .map_err(|error| storage_error(event_id, error))?;
    if outcome.revived.is_empty() && outcome.created.is_empty() {
        return Err(ReplayError::NothingToReplay(event_id));
    }
    Ok(outcome)
}

/// Returns the targets the event should reach, validating a quarantined
/// event again first.
fn routed_targets(
    settings: &StoreSettings,
    record: &EventRecord,
    now: DateTime<Utc>,
) -> Result<Vec<TargetId>, ReplayError> {
    if record.summary.status == EventStatus::Accepted {
        return Ok(settings.targets_for(&record.summary.event_type));
    }

    let policy = ClassifyPolicy {
        max_event_age: None,
        ..settings.policy
    };
    let classified = classify(&record.body, &policy, now);
    match classified.verdict {
        Verdict::Accepted(_) => Ok(settings.targets_for(&classified.event_type)),
        Verdict::Quarantined { reason, detail } => Err(ReplayError::StillInvalid {
            event_id: record.summary.id,
            reason,
            detail,
        }),
    }
}

fn storage_error(event_id: EventId, error: StoreError) -> ReplayError {
    match error {
        StoreError::NotFound { .. } => ReplayError::NotFound(event_id),
        StoreError::InvalidState(message) => ReplayError::NotApplicable { event_id, message },
        other => ReplayError::Storage(other),
    }
}
