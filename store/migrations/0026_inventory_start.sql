-- A park's inventory start.

-- The first local day (park.timezone) the park's inventory covers (GB/T 32150-2015 6.3.1: the
-- inventory's period, a base year included). History readings timed before its local midnight
-- are quarantined BEFORE_INVENTORY_START (accounting.reasons, bit 11): an import of older
-- files cannot slip data from before the inventory into it. NULL: no such bound (each meter's
-- installed_at still applies). Set with store.registry.set_park_inventory_start (audited).
ALTER TABLE park ADD COLUMN inventory_start date;
