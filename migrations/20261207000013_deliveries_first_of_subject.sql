-- The relay checks that a notification is the first pending one of its subject (one order's
-- news goes out in order) by a lookup per candidate. With the partial index keyed on
-- `status = 'pending'`, statistics taken when nothing was pending let PostgreSQL answer that
-- lookup by walking `deliveries_due` instead, every pending notification per candidate: a read
-- of the queue took 1.5-5.7 s for a few thousand pending, and the relay stalled (BENCHMARKS.md,
-- "2026-12-07 late evening"). Here the status is named as an expression, which the lookup names
-- too and which no other index answers, so no statistics can turn the lookup into a walk.
-- `IF NOT EXISTS`: on a large PostgreSQL outbox an operator may build it beforehand with
-- `CONCURRENTLY` (deploy/README.md, "Startup and migrations"); it holds only pending rows, but
-- building it reads the whole table.
CREATE INDEX IF NOT EXISTS deliveries_first_of_subject
    ON deliveries (subject_key, id) WHERE (status || '') = 'pending';
DROP INDEX IF EXISTS deliveries_pending_by_subject;
