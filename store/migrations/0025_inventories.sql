-- The park's (or an enterprise's) GHG inventory for a period, kept as a record (GB/T 32150,
-- clause 6.3.1 f; its records kept unchanged, 7.3). Each row is one version: a recomputation
-- for the same boundary and period is a new row that names the one it supersedes; no row is
-- ever changed or deleted.
CREATE TABLE inventory (
    inventory_id   bigserial PRIMARY KEY,
    park_id        text NOT NULL REFERENCES park (park_id),
    -- NULL: the park's boundary (every enterprise and the park's own records).
    enterprise_id  text REFERENCES enterprise (enterprise_id),
    -- Local days of the park's time zone, both inclusive.
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    period_label   text NOT NULL CHECK (length(period_label) BETWEEN 1 AND 32),
    version        integer NOT NULL CHECK (version >= 1),
    supersedes     bigint UNIQUE REFERENCES inventory (inventory_id),
    gwp_set        text NOT NULL,
    location_tco2e double precision NOT NULL,
    market_tco2e   double precision,  -- NULL: not available (the content's notes say why)
    removals_tco2  double precision NOT NULL CHECK (removals_tco2 >= 0),
    -- The content exactly as hashed: canonical JSON (keys sorted, no spaces, UTF-8).
    content        text NOT NULL CHECK (content::jsonb IS NOT NULL),
    content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    created_by     text NOT NULL CHECK (length(created_by) > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (period_end >= period_start),
    CHECK ((version = 1) = (supersedes IS NULL))
);
-- One version number per boundary and period; the park boundary is the empty enterprise.
CREATE UNIQUE INDEX inventory_version_key
    ON inventory (park_id, coalesce(enterprise_id, ''), period_start, period_end, version);
CREATE INDEX inventory_enterprise_idx ON inventory (enterprise_id, inventory_id DESC);

CREATE FUNCTION inventory_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable (clause 7.3): % refused; a recomputation is a new version',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER inventory_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON inventory
    FOR EACH STATEMENT EXECUTE FUNCTION inventory_is_immutable();
