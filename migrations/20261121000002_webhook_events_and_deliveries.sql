-- The order's payment status as pagos knows it: it only moves forward (see status_rank).
ALTER TABLE orders ADD COLUMN payment_status TEXT;
ALTER TABLE orders ADD COLUMN status_rank BIGINT NOT NULL DEFAULT 0;

-- Every genuine provider event, once: the dedup key for redeliveries.
CREATE TABLE webhook_events (
    provider       TEXT   NOT NULL,
    event_id       TEXT   NOT NULL,
    event_type     TEXT   NOT NULL,
    delivery_id    TEXT,            -- the notification it produced, if any
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- The outbox: one notification to one storefront, delivered until acknowledged or given up.
CREATE TABLE deliveries (
    id                 TEXT   PRIMARY KEY, -- msg_<time-ordered>, also the webhook-id header
    subject_key        TEXT   NOT NULL,    -- notifications about one subject go out in order
    target_url         TEXT   NOT NULL,
    target_key         TEXT   NOT NULL,    -- scheme://host:port, for per-target concurrency
    event_type         TEXT   NOT NULL,
    body               TEXT   NOT NULL,    -- fixed at intake; signed afresh per attempt
    status             TEXT   NOT NULL,    -- pending | delivered | failed
    attempts           BIGINT NOT NULL DEFAULT 0,
    round_base         BIGINT NOT NULL DEFAULT 0, -- attempts made before an operator's retry
    next_attempt_at_ms BIGINT NOT NULL,
    lease_until_ms     BIGINT NOT NULL DEFAULT 0, -- claimed by a worker until then
    last_status_code   BIGINT,
    last_error         TEXT,
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    finished_at_ms     BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX deliveries_pending_by_subject ON deliveries (subject_key, id) WHERE status = 'pending';
CREATE INDEX deliveries_pending_by_target ON deliveries (target_key, lease_until_ms) WHERE status = 'pending';
CREATE INDEX deliveries_by_status ON deliveries (status, created_at_ms);

CREATE TABLE delivery_attempts (
    delivery_id   TEXT   NOT NULL,
    attempt       BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
