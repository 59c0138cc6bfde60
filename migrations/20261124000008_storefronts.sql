-- Portable SQL. Expand only: a pod of the previous release ignores these columns.
-- The storefront (of the PAGOS_CONFIG file) each record belongs to; NULL in single-storefront
-- mode and for records made before storefronts existed.
ALTER TABLE claims ADD COLUMN storefront TEXT;
ALTER TABLE orders ADD COLUMN storefront TEXT;
ALTER TABLE payment_references ADD COLUMN storefront TEXT;
ALTER TABLE deliveries ADD COLUMN storefront TEXT;
CREATE INDEX deliveries_by_storefront ON deliveries (storefront, created_at_ms);
