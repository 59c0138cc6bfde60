-- Portable SQL. Expand only: a pod of the previous release ignores these columns.
-- The storefront (of the PAGOS_CONFIG file) each record belongs to; NULL in single-storefront
-- mode and for records made before storefronts existed.
ALTER TABLE claims ADD COLUMN storefront TEXT;
ALTER TABLE orders ADD COLUMN storefront TEXT;
ALTER TABLE payment_references ADD COLUMN storefront TEXT;
ALTER TABLE deliveries ADD COLUMN storefront TEXT;
CREATE INDEX deliveries_by_storefront ON deliveries (storefront, created_at_ms);
-- The storefront's reference a notification is about, for `?reference_id=` (NULL on rows
-- queued by an older release: pagos fills it in from the body after it starts).
ALTER TABLE deliveries ADD COLUMN reference_id TEXT;
CREATE INDEX deliveries_by_reference ON deliveries (reference_id);
