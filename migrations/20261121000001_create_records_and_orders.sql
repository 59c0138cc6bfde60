-- Portable SQL: the same migration runs on SQLite and PostgreSQL.

-- One row per (provider, account, reference_id): the idempotency record of a create.
CREATE TABLE create_records (
    provider        TEXT   NOT NULL,
    account_hash    TEXT   NOT NULL,  -- SHA-256 of the provider key, never the key
    reference_id    TEXT   NOT NULL,
    fingerprint     TEXT   NOT NULL,  -- SHA-256 of the normalised request fields
    fields          TEXT   NOT NULL,  -- those fields as JSON, to name what differs on a conflict
    idempotency_key TEXT   NOT NULL,  -- sent to the provider; reused when an attempt's outcome is unknown
    version         BIGINT NOT NULL,  -- bumped on every change: compare-and-set between replicas
    lease_until_ms  BIGINT NOT NULL,  -- a create is in flight until then; 0 when none is
    expires_at      BIGINT NOT NULL,  -- the checkout's expiry (Unix s): past it the record binds nothing
    order_id        TEXT,
    response        TEXT,             -- the provider's order exactly as it answered
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (provider, account_hash, reference_id)
);

-- Every order created through pagos: where its news must go.
CREATE TABLE orders (
    provider         TEXT   NOT NULL,
    order_id         TEXT   NOT NULL,
    account_hash     TEXT   NOT NULL,
    reference_id     TEXT   NOT NULL,
    notification_url TEXT   NOT NULL,
    amount_cents     BIGINT NOT NULL,
    currency         TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (provider, order_id)
);
CREATE INDEX orders_by_reference ON orders (provider, account_hash, reference_id);
