-- A park's inventory start, and the GB/T 2589 coefficients the dashboards convert energy with.

-- The first local day (park.timezone) the park's inventory covers (GB/T 32150-2015 6.3.1: the
-- inventory's period, a base year included). History readings timed before its local midnight
-- are quarantined BEFORE_INVENTORY_START (accounting.reasons, bit 11): an import of older
-- files cannot slip data from before the inventory into it. NULL: no such bound (each meter's
-- installed_at still applies). Set with store.registry.set_park_inventory_start (audited).
ALTER TABLE park ADD COLUMN inventory_start date;

-- The GB/T 2589-2020 tce coefficients, per the carrier's canonical unit (the unit windows and
-- days are stored in), as SQL reads them (the Grafana energy panels). Not typed here: the one
-- source is accounting/data/gbt2589_energy_coefficients.csv, parsed by accounting.energy;
-- store.energy_coefficients.sync replaces these rows from it each time `parkcarbon migrate`
-- (or anything that calls store.migrate.migrate) runs, so the table follows the packaged file.
CREATE TABLE energy_coefficient (
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    carrier      text NOT NULL,
    -- 'both', or the electricity convention the row serves (park.tce_electricity_convention)
    convention   text NOT NULL CHECK (convention IN ('both', 'equal_value', 'equivalent')),
    tce_per_unit double precision NOT NULL CHECK (tce_per_unit > 0),
    unit         text NOT NULL,  -- the carrier's canonical unit: tce per one of it
    valid_from   date NOT NULL,
    valid_to     date,           -- inclusive; NULL: still valid
    version      text NOT NULL,  -- key@valid_from, as reports name it
    source       text NOT NULL,
    PRIMARY KEY (key, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

GRANT SELECT ON energy_coefficient TO parkcarbon_reader;
