-- Targets (clause 6.2), baselines and their restatements (6.5, recorded per 6.7/8.3 and 7.3),
-- and deviation alerts with a suggested cause from the five categories of 9.1 b.

-- A target for a subject over one local calendar period (the park's time zone): absolute tCO2e
-- and/or an intensity (tCO2e per output unit, 3.3.10). Revisions go through the audit log.
CREATE TABLE target (
    target_id      bigserial PRIMARY KEY,
    subject_kind   text NOT NULL CHECK (subject_kind IN ('park', 'enterprise', 'meter_group', 'meter')),
    subject_id     text NOT NULL CHECK (subject_id ~ '^[A-Za-z0-9_.:/-]{1,64}$'),
    period_kind    text NOT NULL CHECK (period_kind IN ('year', 'month', 'day')),
    period_start   date NOT NULL,
    period_end     date GENERATED ALWAYS AS ((period_start + CASE period_kind
                        WHEN 'year' THEN interval '1 year'
                        WHEN 'month' THEN interval '1 month'
                        ELSE interval '1 day' END)::date) STORED,
    method         text NOT NULL DEFAULT 'location_based'
                        CHECK (method IN ('location_based', 'market_based')),
    absolute_tco2e double precision CHECK (absolute_tco2e >= 0),
    intensity      double precision CHECK (intensity >= 0),
    intensity_unit text CHECK (intensity_unit IN ('t product', '10^4 CNY')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL CHECK (length(created_by) > 0),
    -- A period starts on its own boundary: a month on the 1st, a year on 1 January.
    CONSTRAINT target_period_aligned
        CHECK (date_trunc(period_kind, period_start::timestamp)::date = period_start),
    CONSTRAINT target_has_a_limit CHECK (absolute_tco2e IS NOT NULL OR intensity IS NOT NULL),
    CONSTRAINT target_intensity_unit CHECK ((intensity IS NULL) = (intensity_unit IS NULL)),
    UNIQUE (subject_kind, subject_id, period_kind, period_start, method)
);
CREATE INDEX target_period_idx ON target (subject_kind, subject_id, period_start);

-- A baseline is never changed in place (6.5): a restatement is a new row naming the one it
-- recalculates, why (6.5 a-c) and with which factor versions.
CREATE TABLE baseline (
    baseline_id       bigserial PRIMARY KEY,
    subject_kind      text NOT NULL
                          CHECK (subject_kind IN ('park', 'enterprise', 'meter_group', 'meter')),
    subject_id        text NOT NULL CHECK (subject_id ~ '^[A-Za-z0-9_.:/-]{1,64}$'),
    method            text NOT NULL CHECK (method IN ('base_year', 'regression')),
    base_year         integer CHECK (base_year BETWEEN 1990 AND 2100),
    -- {"intercept": tCO2e, "slopes": {"driver": tCO2e per unit}, "r_squared": x, ...}
    regression        jsonb,
    period_kind       text NOT NULL DEFAULT 'year' CHECK (period_kind IN ('year', 'month', 'day')),
    value_tco2e       double precision NOT NULL,  -- expected tCO2e per period_kind, no drivers
    factor_versions   text[] NOT NULL DEFAULT '{}',
    reason            text CHECK (reason IN
                          ('performance_parameters', 'static_factors', 'factors_or_method')),
    note              text NOT NULL DEFAULT '',
    recalculated_from bigint,
    effective         date NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL CHECK (length(created_by) > 0),
    CONSTRAINT baseline_method_params CHECK (
        (method = 'base_year' AND base_year IS NOT NULL)
        -- coalesce: jsonb_typeof(NULL) is NULL, and a NULL check passes.
        OR (method = 'regression' AND jsonb_typeof(coalesce(regression, 'null')) = 'object')),
    -- A restatement says why and what changed; an original baseline has neither.
    CONSTRAINT baseline_restatement_reason CHECK (
        (recalculated_from IS NULL) = (reason IS NULL)
        AND (reason IS NULL OR length(note) > 0)),
    UNIQUE (baseline_id, subject_kind, subject_id),
    -- Restated from a baseline of the same subject, and each baseline restated at most once, so
    -- a subject's baselines form one chain whose head is the current one.
    CONSTRAINT baseline_restates_same_subject
        FOREIGN KEY (recalculated_from, subject_kind, subject_id)
        REFERENCES baseline (baseline_id, subject_kind, subject_id),
    CONSTRAINT baseline_restated_once UNIQUE (recalculated_from)
);
CREATE INDEX baseline_subject_idx ON baseline (subject_kind, subject_id);

CREATE FUNCTION baseline_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a baseline is never changed in place (clause 6.5): restate it, % refused',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER baseline_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON baseline
    FOR EACH STATEMENT EXECUTE FUNCTION baseline_is_append_only();

-- One row per alert, upserted by its deterministic id; the alerts topic carries every step.
-- enterprise_id has no foreign key: an unknown meter's alert has none, and a refused write
-- would lose the evidence of a deviation.
CREATE TABLE alert (
    alert_id           uuid PRIMARY KEY,
    rule               text NOT NULL CHECK (rule IN (
                           'EMISSIONS_ABOVE_TARGET', 'EMISSIONS_ABOVE_BASELINE',
                           'INTENSITY_ABOVE_TARGET', 'COMPLETENESS_LOW',
                           'VALIDATION_FAILURE_RATE_HIGH', 'CALIBRATION_OVERDUE', 'UNKNOWN_METER',
                           'EMISSION_FACTOR_MISSING')),
    subject_kind       text NOT NULL CHECK (subject_kind IN ('park', 'enterprise', 'meter')),
    subject_id         text NOT NULL,
    enterprise_id      text,
    width_s            integer NOT NULL CHECK (width_s > 0),
    first_window_start timestamptz NOT NULL,
    window_start       timestamptz NOT NULL,   -- the window of the latest step
    window_end         timestamptz NOT NULL,
    measured           double precision NOT NULL,
    expected           double precision NOT NULL,
    unit               text NOT NULL,
    tolerance          double precision NOT NULL CHECK (tolerance >= 0),
    -- Exactly the five cause categories of clause 9.1 b.
    cause              text NOT NULL CHECK (cause IN (
                           'accounting_scope_deviation', 'methodology_missing_or_misused',
                           'data_missing', 'unreliable_measurement_or_statistics', 'other')),
    message            text NOT NULL,
    state              text NOT NULL CHECK (state IN ('RAISED', 'UPDATED', 'RESOLVED')),
    first_raised_at    timestamptz NOT NULL,
    last_updated_at    timestamptz NOT NULL,
    resolved_at        timestamptz,
    CONSTRAINT alert_windows CHECK (first_window_start <= window_start AND window_start < window_end),
    CONSTRAINT alert_resolved_at CHECK ((state = 'RESOLVED') = (resolved_at IS NOT NULL)),
    CONSTRAINT alert_times CHECK (first_raised_at <= last_updated_at)
);
CREATE INDEX alert_open_idx ON alert (first_raised_at DESC) WHERE state <> 'RESOLVED';
CREATE INDEX alert_subject_idx ON alert (subject_kind, subject_id, first_window_start DESC);
CREATE INDEX alert_enterprise_idx ON alert (enterprise_id, first_window_start DESC);
