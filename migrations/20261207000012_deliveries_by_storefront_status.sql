-- A storefront's list with a status (`GET /deliveries?status=failed` with its API key) read the
-- storefront's whole history on SQLite, filtered by status, when fewer than a page matched; on
-- PostgreSQL it could walk `deliveries_by_status` through every other storefront's newer ones.
-- This index answers it exactly; a storefront's list without a status merges one read per
-- status. The status is keyed as an expression, which the list names, so that no planner can
-- answer that list through `deliveries_by_status` instead (BENCHMARKS.md, "2026-12-07
-- evening"). It replaces the storefront's index: still four full indexes on a notification.
-- `IF NOT EXISTS`: on a large PostgreSQL outbox an operator may build it beforehand with
-- `CONCURRENTLY` (deploy/README.md, "Startup and migrations"); built here, writes to
-- `deliveries` wait while it is (about 1.4 s per 500,000 notifications).
CREATE INDEX IF NOT EXISTS deliveries_by_storefront_status
    ON deliveries (storefront, (status || ''), created_at_ms);
DROP INDEX IF EXISTS deliveries_by_storefront;
