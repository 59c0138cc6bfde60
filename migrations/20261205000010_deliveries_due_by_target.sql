-- On PostgreSQL, claims and hand-overs name a target, how many of its notifications they want
-- and where to start; the store takes the oldest due ones from there that are free when the
-- statement runs. So two replicas serving one target split its slots instead of both naming the
-- same notification, and a target's queue is read from where its slots start whatever the
-- backlog of the others. Only pending rows are indexed. (SQLite, one replica, leases by id.)
CREATE INDEX deliveries_due_by_target ON deliveries (target_key, next_attempt_at_ms, id)
    WHERE status = 'pending';
