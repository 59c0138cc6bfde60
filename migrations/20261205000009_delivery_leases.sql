-- A relay lease in a narrow row of its own: taking one inserts a small row instead of writing a
-- new version of the notification's row (on PostgreSQL, with an entry in each of its indexes),
-- so a notification's row changes once per attempt. Recording the attempt deletes its lease:
-- the table holds the leases in flight, and a few of replicas that died holding them.
CREATE TABLE delivery_leases (
    delivery_id    TEXT   PRIMARY KEY,
    target_key     TEXT   NOT NULL, -- the delivery's, so leases count per target without a join
    lease_until_ms BIGINT NOT NULL,
    lease_owner    TEXT   NOT NULL  -- instances.id
);
-- The lease columns of `deliveries` stay for an older pod during a rollout (its leases are
-- respected); these indexes served only its counts of them, and cost an entry on every write
-- of a pending notification.
DROP INDEX deliveries_pending_by_target;
DROP INDEX deliveries_leased;
