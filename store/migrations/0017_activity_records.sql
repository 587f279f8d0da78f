-- Manual activity records (clause 6.3.1 e activity data no meter measures: fuel invoices, a
-- diesel ledger, steam bills, refrigerant top-ups, carbonate consumption, green-space areas),
-- and meters of every source category of 6.3.1 c.

-- Meters may measure process materials (carbonates fed to a kiln) and fugitive gases (SF6
-- refills): the carriers accounting/carriers.py names for them.
ALTER TABLE meter DROP CONSTRAINT meter_carrier_check;
ALTER TABLE meter ADD CONSTRAINT meter_carrier_check CHECK (carrier IN (
    'electricity', 'natural_gas', 'raw_coal', 'coke', 'diesel', 'gasoline', 'fuel_oil', 'lpg',
    'steam', 'heat', 'water', 'production_output', 'output_value', 'fugitive_gas',
    'process_material'));

-- One row per record: who owns it and where it stands. Its content is in its versions; a
-- correction adds a version and never changes an old one (7.3).
CREATE TABLE activity_record (
    record_id         bigserial PRIMARY KEY,
    park_id           text NOT NULL REFERENCES park (park_id),
    -- NULL: a park-level record (the park's own boilers, green space); enterprise keys never
    -- see it.
    enterprise_id     text REFERENCES enterprise (enterprise_id),
    state             text NOT NULL DEFAULT 'draft'
                          CHECK (state IN ('draft', 'confirmed', 'withdrawn')),
    version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),  -- the current one
    created_by        text NOT NULL CHECK (length(created_by) > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    confirmed_by      text,
    confirmed_at      timestamptz,
    withdrawn_by      text,
    withdrawn_at      timestamptz,
    withdrawal_reason text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activity_record_confirmed
        CHECK ((state = 'confirmed') = (confirmed_at IS NOT NULL AND confirmed_by IS NOT NULL)),
    CONSTRAINT activity_record_withdrawn
        CHECK ((state = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL))
);
CREATE INDEX activity_record_enterprise_idx ON activity_record (enterprise_id, record_id DESC);
CREATE INDEX activity_record_park_idx ON activity_record (park_id, state);

CREATE TABLE activity_record_version (
    record_id          bigint NOT NULL REFERENCES activity_record (record_id),
    version            integer NOT NULL CHECK (version >= 1),
    -- Local days of the park's time zone, both inclusive.
    period_start       date NOT NULL,
    period_end         date NOT NULL,
    source_category    text NOT NULL CHECK (source_category IN (
                           'stationary_combustion', 'mobile_combustion', 'process', 'fugitive',
                           'purchased_electricity', 'purchased_heat', 'green_space_sink')),
    iso_category       text CHECK (iso_category IN (
                           '1 direct emissions and removals',
                           '2 indirect emissions from imported energy',
                           '3 indirect emissions from transportation',
                           '4 indirect emissions from products the organization uses',
                           '5 indirect emissions from the use of the organization''s products',
                           '6 indirect emissions from other sources')),
    carrier            text NOT NULL CHECK (carrier IN (
                           'electricity', 'natural_gas', 'raw_coal', 'coke', 'diesel',
                           'gasoline', 'fuel_oil', 'lpg', 'steam', 'heat', 'fugitive_gas',
                           'process_material', 'green_space')),
    material           text CHECK (length(material) BETWEEN 1 AND 64),
    quantity           double precision NOT NULL CHECK (quantity >= 0),
    unit               text NOT NULL CHECK (length(unit) BETWEEN 1 AND 16),
    activity           double precision NOT NULL CHECK (activity >= 0),  -- in activity_unit
    activity_unit      text NOT NULL,                    -- the carrier's canonical unit
    -- Factor parameters the record carries: purity, calcination, ncv_gj_per_unit,
    -- density_kg_per_l.
    parameters         jsonb NOT NULL DEFAULT '{}',
    -- Meters whose windows this record replaces for its period (no double counting).
    replaces_meters    text[] NOT NULL DEFAULT '{}',
    document_ref       text NOT NULL CHECK (length(document_ref) BETWEEN 1 AND 200),
    evidence_file_name text CHECK (length(evidence_file_name) BETWEEN 1 AND 200),
    evidence_sha256    text CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
    note               text NOT NULL DEFAULT '',
    entered_by         text NOT NULL CHECK (length(entered_by) > 0),
    entered_at         timestamptz NOT NULL DEFAULT now(),
    reason             text NOT NULL DEFAULT '',  -- why a correction was made
    PRIMARY KEY (record_id, version),
    CHECK (period_end >= period_start),
    CHECK ((evidence_file_name IS NULL) = (evidence_sha256 IS NULL)),
    CHECK (version = 1 OR length(reason) > 0)
);

-- The evidence file of a version, once its bytes were checked against the declared sha256.
CREATE TABLE activity_evidence (
    record_id     bigint NOT NULL,
    version       integer NOT NULL,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    content       bytea NOT NULL,
    uploaded_by   text NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, version),
    FOREIGN KEY (record_id, version) REFERENCES activity_record_version (record_id, version)
);

CREATE FUNCTION activity_version_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (clause 7.3): % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER activity_record_version_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON activity_record_version
    FOR EACH STATEMENT EXECUTE FUNCTION activity_version_is_append_only();
CREATE TRIGGER activity_evidence_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON activity_evidence
    FOR EACH STATEMENT EXECUTE FUNCTION activity_version_is_append_only();
