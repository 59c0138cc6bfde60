-- Claims count live leases per target: reach them without walking the whole pending queue.
CREATE INDEX deliveries_leased ON deliveries (lease_until_ms, target_key) WHERE status = 'pending';
