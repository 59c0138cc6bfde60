-- The W3C trace context of the request that queued a notification, so its delivery attempts
-- continue that trace.
ALTER TABLE deliveries ADD COLUMN trace_context TEXT;
