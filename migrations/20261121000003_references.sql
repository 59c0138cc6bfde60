-- Reusable cash references (cash_recurrent / oxxo_recurrent payment sources), with the
-- storefront's rules for the synchronous questions Conekta asks about each payment.
CREATE TABLE payment_references (
    provider          TEXT   NOT NULL,
    account_hash      TEXT   NOT NULL,
    reference_id      TEXT   NOT NULL,  -- the storefront's id
    customer_id       TEXT   NOT NULL,
    payment_source_id TEXT   NOT NULL,
    reference         TEXT   NOT NULL,  -- the number the buyer shows at the till
    notification_url  TEXT   NOT NULL,
    approval_url      TEXT,
    min_cents         BIGINT NOT NULL,
    max_cents         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,  -- Unix s; 0: never
    active            BIGINT NOT NULL DEFAULT 1,
    fields            TEXT   NOT NULL,  -- the request's fields, to answer repeats and name differences
    answer            TEXT   NOT NULL,  -- what the storefront was answered
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (provider, account_hash, reference_id)
);
CREATE INDEX payment_references_by_number ON payment_references (provider, reference);
CREATE INDEX payment_references_by_customer ON payment_references (provider, customer_id);
