-- Portable SQL: the same migration runs on SQLite and PostgreSQL.

-- One row per operation that must happen at the provider at most once: an order per
-- (account, reference_id), a cash reference per (account, reference_id), and any request
-- per (account, Idempotency-Key). It replaces create_records, which covered orders only.
CREATE TABLE claims (
    provider         TEXT   NOT NULL,
    account_hash     TEXT   NOT NULL,  -- SHA-256 of the provider key, never the key
    scope            TEXT   NOT NULL,  -- order | reference | request
    claim_key        TEXT   NOT NULL,  -- the reference_id, or the Idempotency-Key
    fields           TEXT   NOT NULL,  -- the request's identity (JSON): a repeat must match it
    attempt_key      TEXT   NOT NULL,  -- written into the provider object's metadata (pagos_claim)
    attempt_at_ms    BIGINT NOT NULL,  -- when the latest call to the provider started
    attempt_note     TEXT,             -- what the caller saw before that call (e.g. refunds made)
    version          BIGINT NOT NULL,  -- bumped on every change: compare-and-set between replicas
    owner            TEXT,             -- the process (instances.id) holding the lease
    lease_until_ms   BIGINT NOT NULL,  -- the owner is working until then; 0 when nobody is
    expires_at       BIGINT NOT NULL,  -- Unix s: past it the claim binds nothing
    reference_id     TEXT,             -- orders: where news of the order goes, known before
    notification_url TEXT,             --   the provider answers (an event may come first)
    amount_cents     BIGINT,
    currency         TEXT,
    object_id        TEXT,             -- the provider object made (order, customer), once known
    answer_status    BIGINT,           -- the HTTP status answered, once final
    answer           TEXT,             -- the body answered, once final (NULL: open)
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (provider, account_hash, scope, claim_key)
);
CREATE INDEX claims_by_attempt ON claims (attempt_key);
CREATE INDEX claims_open ON claims (scope, attempt_at_ms) WHERE answer IS NULL;

INSERT INTO claims (provider, account_hash, scope, claim_key, fields, attempt_key, attempt_at_ms,
                    version, lease_until_ms, expires_at, reference_id, object_id, answer_status,
                    answer, created_at, updated_at)
SELECT provider, account_hash, 'order', reference_id, fields, idempotency_key, updated_at * 1000,
       version, lease_until_ms, expires_at, reference_id, order_id,
       CASE WHEN response IS NULL THEN NULL ELSE 200 END, response, created_at, updated_at
FROM create_records;

INSERT INTO claims (provider, account_hash, scope, claim_key, fields, attempt_key, attempt_at_ms,
                    version, lease_until_ms, expires_at, reference_id, notification_url,
                    object_id, answer_status, answer, created_at, updated_at)
SELECT provider, account_hash, 'reference', reference_id, fields, customer_id, created_at * 1000,
       1, 0, 253402300799, reference_id, notification_url, customer_id, 200, answer, created_at,
       created_at
FROM payment_references;

DROP TABLE create_records;

-- Events about an order whose create is still being recorded, kept until the order is known
-- (then they become notifications) or, if it never is, dropped after a day.
CREATE TABLE held_events (
    provider       TEXT   NOT NULL,
    event_id       TEXT   NOT NULL,
    order_id       TEXT   NOT NULL,
    delivery_id    TEXT   NOT NULL,  -- the notification's id, fixed when the event arrived
    event          TEXT   NOT NULL,  -- the event as received (JSON)
    trace_context  TEXT,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX held_events_by_order ON held_events (provider, order_id);
CREATE INDEX held_events_by_age ON held_events (received_at_ms);

-- Running pagos processes: a claim whose owner stopped beating is taken over at once.
CREATE TABLE instances (
    id            TEXT   PRIMARY KEY,
    started_at_ms BIGINT NOT NULL,
    heartbeat_ms  BIGINT NOT NULL
);
