-- Registry history kept by the API (issue 6 item 2): meter replacements that keep the metering
-- point and its registers (clause 8.3 change control, 9.1 c), and the park's own versions of
-- emission factors and conversion parameters (clauses 6.3.1 e, 6.5, 6.7). Both are append-only
-- documented information (7.3): a mistake is corrected by a new row, never by an edit.

-- The serial number of the device currently installed at a metering point; a replacement
-- changes it, the meter_id (the point) stays.
ALTER TABLE meter ADD COLUMN serial text CHECK (serial IS NULL OR length(serial) BETWEEN 1 AND 64);

-- One row per device swap at a metering point. Consumption across the swap is
--   (final_register - last register read before replaced_at) * multiplier_before
--   + (first register read after replaced_at - initial_register) * multiplier_after,
-- so nothing is lost or double counted however late the readings around it arrive.
CREATE TABLE meter_replacement (
    replacement_id    bigserial PRIMARY KEY,
    meter_id          text NOT NULL REFERENCES meter (meter_id),
    replaced_at       timestamptz NOT NULL,
    old_serial        text CHECK (old_serial IS NULL OR length(old_serial) BETWEEN 1 AND 64),
    new_serial        text NOT NULL CHECK (length(new_serial) BETWEEN 1 AND 64),
    final_register    double precision NOT NULL CHECK (final_register >= 0),  -- old device
    initial_register  double precision NOT NULL CHECK (initial_register >= 0),  -- new device
    multiplier_before double precision NOT NULL CHECK (multiplier_before > 0),
    multiplier_after  double precision NOT NULL CHECK (multiplier_after > 0),
    reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    created_by        text NOT NULL CHECK (length(created_by) > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT meter_replacement_once UNIQUE (meter_id, replaced_at)
);

-- A park's new version of a packaged catalogue entry (accounting/data): an emission factor or
-- a conversion parameter. Every version carries its source document, table and edition.
-- Versions of one key may not overlap; an open-ended earlier version ends the day before a
-- later one starts (accounting.factors.add_version), which the API checks under a lock.
CREATE TABLE factor_override (
    override_id   bigserial PRIMARY KEY,
    catalogue     text NOT NULL CHECK (catalogue IN ('emission_factor', 'conversion_parameter')),
    factor_key    text NOT NULL CHECK (length(factor_key) BETWEEN 1 AND 128),
    gas           text,
    value         double precision NOT NULL
                      CHECK (value >= 0 AND value < 'Infinity'::double precision),
    unit          text NOT NULL CHECK (length(unit) BETWEEN 1 AND 32),
    valid_from    date NOT NULL,
    valid_to      date CHECK (valid_to IS NULL OR valid_to >= valid_from),
    source        text NOT NULL CHECK (length(btrim(source)) > 0),
    source_table  text NOT NULL CHECK (length(btrim(source_table)) > 0),
    edition       text NOT NULL CHECK (length(btrim(edition)) > 0),
    evidence      text NOT NULL CHECK (evidence IN ('cross_checked', 'single_source', 'unverified')),
    note          text NOT NULL DEFAULT '',
    created_by    text NOT NULL CHECK (length(created_by) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT factor_override_version UNIQUE (factor_key, valid_from)
);

CREATE FUNCTION registry_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (clause 7.3): add a new row, % refused',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER meter_replacement_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON meter_replacement FOR EACH STATEMENT EXECUTE FUNCTION registry_history_is_append_only();
CREATE TRIGGER factor_override_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON factor_override FOR EACH STATEMENT EXECUTE FUNCTION registry_history_is_append_only();

-- The audit log read filters by actor and pages newest first.
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id DESC);
