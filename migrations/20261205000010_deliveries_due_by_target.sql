-- Claims and hand-overs name a target and how many of its notifications they want; the store
-- takes the oldest due ones that are free when the statement runs. So two replicas serving one
-- target split its slots instead of both naming the same notification, and one target's queue
-- is read from its front whatever the backlog of the others. Only pending rows are indexed.
CREATE INDEX deliveries_due_by_target ON deliveries (target_key, next_attempt_at_ms, id)
    WHERE status = 'pending';
