-- How a park chooses its factors, and factor versions of one enterprise or under a new key
-- (GB/T 32150-2015 6.3.1 e; GB/T 2589-2020 for energy in tonnes of standard coal equivalent).

-- The grid level whose location-based electricity factor the park uses in every year: 'national',
-- 'grid' (the regional grid of the park's province) or 'province'. Where the chosen level has no
-- published row for a day, the next coarser level is used and the window is flagged
-- (accounting.reasons.Reason.FACTOR_LEVEL_FALLBACK). 'grid' is the default: the MEE/NBS series has
-- national and regional-grid rows for every published year but provincial rows for 2022 only, so
-- a default of 'province' would switch levels from year to year.
ALTER TABLE park ADD COLUMN grid_level text NOT NULL DEFAULT 'grid'
    CHECK (grid_level IN ('national', 'grid', 'province'));

-- Electricity in tce (GB/T 2589-2020): 'equal_value' (当量值, the heat of 1 kWh, 0.1229 kgce/kWh)
-- or 'equivalent' (等价值, the coal burnt to generate it, as published for the year).
ALTER TABLE park ADD COLUMN tce_electricity_convention text NOT NULL DEFAULT 'equal_value'
    CHECK (tce_electricity_convention IN ('equal_value', 'equivalent'));

-- A version may be one enterprise's (its measured NCV, carbon content, oxidation rate, its
-- supplier's steam factor): applied to that enterprise's meters only. NULL: the whole park.
ALTER TABLE factor_override ADD COLUMN enterprise_id text REFERENCES enterprise (enterprise_id);

-- A version under a key the packaged catalogue does not have (a supplier's factor, a province)
-- states what it is a factor of; for a packaged key these stay NULL and the key's are used.
ALTER TABLE factor_override ADD COLUMN series text CHECK (series IS NULL OR length(series) BETWEEN 1 AND 64);
ALTER TABLE factor_override ADD COLUMN carrier text CHECK (carrier IS NULL OR length(carrier) BETWEEN 1 AND 64);
ALTER TABLE factor_override ADD COLUMN parameter text CHECK (parameter IS NULL OR length(parameter) BETWEEN 1 AND 64);
ALTER TABLE factor_override ADD COLUMN region text CHECK (region IS NULL OR length(region) BETWEEN 1 AND 64);

-- The park's and each enterprise's versions of a key are separate chains.
ALTER TABLE factor_override DROP CONSTRAINT factor_override_version;
CREATE UNIQUE INDEX factor_override_version ON factor_override
    (factor_key, coalesce(enterprise_id, ''), valid_from);
