-- Events, their conflicting bodies, deliveries and attempts.
--
-- Every timestamp is an INTEGER count of microseconds since the Unix epoch,
-- UTC (the precision PostgreSQL keeps as well). Exactly-once rests on two
-- unique keys: UNIQUE (store_id, key) on events and UNIQUE (event_id,
-- target_id) on deliveries.

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    store_id    TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    -- Wamebo's order id, a u64 kept in its two's-complement i64 form.
    order_id    INTEGER,
    -- The body exactly as received, and its SHA-256.
    body        BLOB    NOT NULL,
    body_sha256 BLOB    NOT NULL CHECK (length(body_sha256) = 32),
    received_at INTEGER NOT NULL,
    occurred_at INTEGER,
    status      TEXT    NOT NULL CHECK (status IN ('accepted', 'quarantined')),
    -- Why the event was quarantined. Both stay after a replay accepts it.
    reason      TEXT,
    detail      TEXT,
    CHECK (status <> 'quarantined' OR reason IS NOT NULL),
    UNIQUE (store_id, key)
);

CREATE INDEX events_order_id ON events (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX events_quarantined ON events (id) WHERE status = 'quarantined';

-- Bodies that arrived under an existing key with different content, each
-- distinct body once.
CREATE TABLE event_conflicts (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    body        BLOB    NOT NULL,
    body_sha256 BLOB    NOT NULL CHECK (length(body_sha256) = 32),
    received_at INTEGER NOT NULL,
    UNIQUE (event_id, body_sha256)
);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES events (id),
    -- Copied from the event so that listings filter without a join.
    store_id         TEXT    NOT NULL,
    target_id        TEXT    NOT NULL,
    status           TEXT    NOT NULL
        CHECK (status IN ('pending', 'in_flight', 'succeeded', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Set while pending: when the next attempt is due.
    next_attempt_at  INTEGER,
    -- Set while in flight: the claim's proof, who holds it, and until when.
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    -- 1 once an attempt may have reached the platform; the next attempt
    -- then looks for an existing order first. It is never cleared.
    reconcile        INTEGER NOT NULL DEFAULT 0 CHECK (reconcile IN (0, 1)),
    last_reason      TEXT,
    last_error       TEXT,
    remote_id        TEXT,
    note             TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    -- Set by a replay: the attempts made before it and when it happened, so
    -- the attempt and age limits count afresh from there.
    attempts_before_replay INTEGER NOT NULL DEFAULT 0,
    replayed_at      INTEGER,
    -- When the delivery can next be claimed: the due time while pending,
    -- the lease expiry while in flight, NULL once succeeded or dead.
    due_at           INTEGER GENERATED ALWAYS AS (
        CASE status
            WHEN 'pending' THEN next_attempt_at
            WHEN 'in_flight' THEN lease_expires_at
        END
    ) VIRTUAL,
    CHECK (status <> 'pending' OR next_attempt_at IS NOT NULL),
    CHECK (status <> 'in_flight' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    UNIQUE (event_id, target_id)
);

-- Claims and next_due_at read this index in due order.
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX deliveries_status ON deliveries (status);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    -- 1 for the first attempt.
    attempt     INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'adopted', 'retry', 'dead')),
    reason      TEXT,
    message     TEXT,
    remote_id   TEXT,
    UNIQUE (delivery_id, attempt)
);
