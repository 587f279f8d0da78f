-- Which gateway may send which meters (clause 8.4: data come from known, controlled sources).
-- A gateway is granted whole enterprises (every meter of theirs, also meters added later)
-- and/or single meters, all in its own park. A park with at least one gateway row enforces the
-- grants: the stream worker quarantines a gateway-sourced reading (modbus, opcua) of the park's
-- meters that its gateway was not granted as UNAUTHORIZED_SOURCE. A park without gateway rows
-- is not enforced (as before this migration). EMS pushes (source ems) are authorized by the
-- API key that made them and are not subject to gateway grants.
CREATE TABLE gateway (
    gateway_id     text PRIMARY KEY CHECK (gateway_id ~ '^[A-Za-z0-9_.:/-]{1,64}$'),
    park_id        text NOT NULL REFERENCES park (park_id),
    name           text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    enterprise_ids text[] NOT NULL DEFAULT '{}',
    meter_ids      text[] NOT NULL DEFAULT '{}',
    -- A disabled gateway keeps its park enforcing and may send nothing (a revoked device).
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gateway_grants_not_null CHECK (
        array_position(enterprise_ids, NULL) IS NULL AND array_position(meter_ids, NULL) IS NULL)
);
CREATE INDEX gateway_park_idx ON gateway (park_id);

-- Grants name existing enterprises and meters of the gateway's own park: arrays carry no
-- foreign keys, so this trigger is their referential check.
CREATE FUNCTION gateway_grants_in_park() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stray text;
BEGIN
    SELECT string_agg(g, ', ' ORDER BY g) INTO stray
    FROM unnest(NEW.enterprise_ids) AS g
    WHERE NOT EXISTS (SELECT 1 FROM enterprise e WHERE e.enterprise_id = g AND e.park_id = NEW.park_id);
    IF stray IS NOT NULL THEN
        RAISE EXCEPTION 'enterprise(s) % are not in park %', stray, NEW.park_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT string_agg(g, ', ' ORDER BY g) INTO stray
    FROM unnest(NEW.meter_ids) AS g
    WHERE NOT EXISTS (
        SELECT 1 FROM meter m JOIN enterprise e USING (enterprise_id)
        WHERE m.meter_id = g AND e.park_id = NEW.park_id);
    IF stray IS NOT NULL THEN
        RAISE EXCEPTION 'meter(s) % are not in park %', stray, NEW.park_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER gateway_grants_check BEFORE INSERT OR UPDATE ON gateway
    FOR EACH ROW EXECUTE FUNCTION gateway_grants_in_park();

-- The scope alert the worker raises for such readings.
ALTER TABLE alert DROP CONSTRAINT alert_rule_check;
ALTER TABLE alert ADD CONSTRAINT alert_rule_check CHECK (rule IN (
    'EMISSIONS_ABOVE_TARGET', 'EMISSIONS_ABOVE_BASELINE', 'INTENSITY_ABOVE_TARGET',
    'COMPLETENESS_LOW', 'VALIDATION_FAILURE_RATE_HIGH', 'CALIBRATION_OVERDUE', 'UNKNOWN_METER',
    'EMISSION_FACTOR_MISSING', 'UNAUTHORIZED_SOURCE'));
