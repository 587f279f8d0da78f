-- Foundation: the organisation tree (clauses 3.1.1, 4.3), the meter registry (clause 9.1 c,
-- GB 17167), readings and their quarantine (clause 8.4), and the append-only audit log (7.3).

CREATE TABLE park (
    park_id     text PRIMARY KEY CHECK (park_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE enterprise (
    enterprise_id text PRIMARY KEY CHECK (enterprise_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    park_id       text NOT NULL REFERENCES park (park_id),
    name          text NOT NULL,
    industry_code text,                -- GB/T 4754 industry classification, when known
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE site (
    site_id       text PRIMARY KEY CHECK (site_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    enterprise_id text NOT NULL REFERENCES enterprise (enterprise_id),
    name          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per physical meter. The registry is the single source of truth for how a meter's
-- readings are validated and accounted (ARCHITECTURE.md, "Contracts").
CREATE TABLE meter (
    meter_id            text PRIMARY KEY CHECK (meter_id ~ '^[A-Za-z0-9_.:/-]{1,64}$'),
    enterprise_id       text NOT NULL REFERENCES enterprise (enterprise_id),
    site_id             text REFERENCES site (site_id),
    name                text NOT NULL DEFAULT '',
    carrier             text NOT NULL CHECK (carrier IN (
                            'electricity', 'natural_gas', 'raw_coal', 'coke', 'diesel',
                            'gasoline', 'fuel_oil', 'lpg', 'steam', 'heat', 'water',
                            'production_output', 'output_value')),
    unit                text NOT NULL CHECK (length(unit) BETWEEN 1 AND 16),
    register_kind       text NOT NULL CHECK (register_kind IN ('cumulative', 'instantaneous')),
    multiplier          double precision NOT NULL DEFAULT 1 CHECK (multiplier > 0),
    rollover            double precision CHECK (rollover IS NULL OR rollover > 0),
    range_min           double precision,
    range_max           double precision,
    expected_interval_s integer NOT NULL DEFAULT 900 CHECK (expected_interval_s > 0),
    accuracy_class      text NOT NULL DEFAULT '1.0',
    metering_level      text NOT NULL DEFAULT 'unit'
                            CHECK (metering_level IN ('unit', 'secondary_unit', 'equipment')),
    calibration_due     date,
    source_category     text NOT NULL CHECK (source_category IN (
                            'stationary_combustion', 'mobile_combustion', 'process', 'fugitive',
                            'purchased_electricity', 'purchased_heat', 'green_space_sink',
                            'activity_only')),
    factor_key          text,
    in_boundary         boolean NOT NULL DEFAULT true,
    status              text NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'retired')),
    installed_at        timestamptz NOT NULL DEFAULT now(),
    retired_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (range_min IS NULL OR range_max IS NULL OR range_min < range_max),
    CHECK ((status = 'retired') = (retired_at IS NOT NULL))
);
CREATE INDEX meter_enterprise_idx ON meter (enterprise_id);

-- A site, when given, must belong to the meter's enterprise.
CREATE FUNCTION meter_site_matches_enterprise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.site_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM site WHERE site_id = NEW.site_id AND enterprise_id = NEW.enterprise_id
    ) THEN
        RAISE EXCEPTION 'site % does not belong to enterprise %', NEW.site_id, NEW.enterprise_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER meter_site_check BEFORE INSERT OR UPDATE ON meter
    FOR EACH ROW EXECUTE FUNCTION meter_site_matches_enterprise();

-- Accepted readings, one per (meter_id, ts): a replay writes the same row again, never a second.
CREATE TABLE reading (
    meter_id    text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    flags       integer NOT NULL DEFAULT 0,   -- bitmask of accounting reason codes
    source      text NOT NULL CHECK (source IN ('modbus', 'opcua', 'ems')),
    gateway_id  text NOT NULL,
    seq         bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts)
);
CREATE INDEX reading_ts_idx ON reading (ts DESC);

-- Quarantine: every reading or message that failed, with its reason (clause 8.4).
CREATE TABLE rejected_reading (
    id          bigserial,
    meter_id    text,
    ts          timestamptz,
    value       double precision,
    unit        text,
    source      text,
    gateway_id  text,
    seq         bigint,
    reason      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    payload     jsonb,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, rejected_at)
);
CREATE INDEX rejected_reading_at_idx ON rejected_reading (rejected_at DESC);
CREATE INDEX rejected_reading_meter_idx ON rejected_reading (meter_id, rejected_at DESC);

-- Documented information (clause 7.3): who changed what, when, from what to what, and why.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    entity    text NOT NULL,
    entity_id text NOT NULL,
    before    jsonb,
    after     jsonb,
    reason    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (clause 7.3): % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
