-- A relay lease names the process holding it (instances.id), so a lease whose owner stopped
-- beating is free at once instead of when it lapses. Expand-only: NULL (leases taken before
-- this, or by a replica not yet upgraded) means the lease alone decides, as before.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
