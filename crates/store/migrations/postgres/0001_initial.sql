-- Events, deliveries, attempts and conflicting bodies.
--
-- Exactly-once rests on two unique keys: one event per (store_id, key) and
-- one delivery per (event_id, target_id). Writers insert with
-- ON CONFLICT DO NOTHING and then read, so concurrent replicas that record
-- the same key create one row between them.

CREATE TABLE events (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id          TEXT NOT NULL,
    key               TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    -- Wamebo's order ids are unsigned 64-bit integers, beyond BIGINT's range.
    order_id          NUMERIC(20, 0),
    body              BYTEA NOT NULL,
    body_sha256       BYTEA NOT NULL CHECK (octet_length(body_sha256) = 32),
    received_at       TIMESTAMPTZ NOT NULL,
    occurred_at       TIMESTAMPTZ,
    status            TEXT NOT NULL CHECK (status IN ('accepted', 'quarantined')),
    quarantine_reason TEXT,
    quarantine_detail TEXT,
    CONSTRAINT events_store_key_unique UNIQUE (store_id, key),
    CONSTRAINT events_quarantine_reason CHECK ((status = 'quarantined') = (quarantine_reason IS NOT NULL))
);

CREATE INDEX events_order_id ON events (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE event_conflicts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES events (id),
    received_at TIMESTAMPTZ NOT NULL,
    body        BYTEA NOT NULL,
    body_sha256 BYTEA NOT NULL CHECK (octet_length(body_sha256) = 32),
    CONSTRAINT event_conflicts_body_unique UNIQUE (event_id, body_sha256)
);

CREATE TABLE deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         BIGINT NOT NULL REFERENCES events (id),
    store_id         TEXT NOT NULL,
    target_id        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'in_flight', 'succeeded', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Set while pending: when the next attempt is due.
    next_attempt_at  TIMESTAMPTZ,
    -- Set while in flight: the claim's token, its worker and its expiry.
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    -- True when an earlier attempt may have created the order on the target.
    reconcile        BOOLEAN NOT NULL DEFAULT FALSE,
    last_reason      TEXT,
    last_error       TEXT,
    remote_id        TEXT,
    note             TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    -- Set by a replay: the attempts made before it and when it happened, so
    -- the attempt and age limits count afresh from there.
    attempts_before_replay INTEGER NOT NULL DEFAULT 0 CHECK (attempts_before_replay >= 0),
    replayed_at      TIMESTAMPTZ,
    CONSTRAINT deliveries_event_target_unique UNIQUE (event_id, target_id),
    CONSTRAINT deliveries_pending_due CHECK (status <> 'pending' OR next_attempt_at IS NOT NULL),
    CONSTRAINT deliveries_in_flight_lease CHECK (
        status <> 'in_flight' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)
    )
);

-- Claims scan these two partial indexes: due pending deliveries and expired leases.
CREATE INDEX deliveries_pending_due_at ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_lease_expires_at ON deliveries (lease_expires_at) WHERE status = 'in_flight';
CREATE INDEX deliveries_store_id ON deliveries (store_id, id);
CREATE INDEX deliveries_status ON deliveries (status, id);

CREATE TABLE attempts (
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    attempt     INTEGER NOT NULL CHECK (attempt > 0),
    finished_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('succeeded', 'adopted', 'retry', 'dead')),
    reason      TEXT,
    message     TEXT,
    remote_id   TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
