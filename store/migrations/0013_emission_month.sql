-- Monthly totals per meter and PARK-LOCAL month (clauses 6.3.1, 9.1 a), rolled up from the
-- daily rollup emission_day (0012) inside the database, so a year of a meter is 12 rows for the
-- month and year buckets of GET /v1/emissions instead of 365.
--
-- A month row is RECOMPUTED from the month's day rows whenever one of them is inserted or
-- deleted (emission_day_recompute only ever deletes and re-inserts day rows), never
-- incremented: recomputing twice gives the same row. emission_day is a plain table in both
-- storage modes, so statement triggers with transition tables serve both. The month is the
-- first day of the day row's local month (day is already the park-local date).

CREATE TABLE emission_month (
    meter_id          text NOT NULL,
    month             date NOT NULL,                -- first park-local day of the month
    enterprise_id     text NOT NULL,
    source_category   text NOT NULL,
    iso_category      text,
    activity          double precision NOT NULL,    -- in activity_unit, summed
    activity_unit     text NOT NULL,
    gases             jsonb NOT NULL DEFAULT '{}',  -- tonnes of each gas, summed per gas
    gas_windows       jsonb NOT NULL DEFAULT '{}',  -- per gas [hours, present, expected], summed
    tco2e             double precision NOT NULL,
    readings_present  double precision NOT NULL,
    readings_expected double precision NOT NULL,
    windows           integer NOT NULL,             -- hour windows summed into the row
    factor_versions   text[] NOT NULL DEFAULT '{}', -- union of the days' factor versions
    flags             integer NOT NULL DEFAULT 0,   -- OR of the days' flags
    computed_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT emission_month_key UNIQUE NULLS NOT DISTINCT
        (meter_id, month, enterprise_id, source_category, iso_category, activity_unit)
);
CREATE INDEX emission_month_month_idx ON emission_month (month);

-- Recompute the given (meter, month) pairs from their day rows.
CREATE FUNCTION emission_month_recompute(meters text[], months date[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(meters) IS NULL OR cardinality(meters) = 0 THEN
        RETURN;
    END IF;
    -- As in emission_day_recompute: the month's lock is held to commit and each statement below
    -- takes a fresh snapshot after it is granted, so two writers of different days of one month
    -- both count. The advisory keys are negative, apart from the day keys (days since 2000).
    IF cardinality(meters) > 4096 THEN
        LOCK TABLE emission_month IN SHARE ROW EXCLUSIVE MODE;
    ELSE
        LOCK TABLE emission_month IN ROW EXCLUSIVE MODE;
        PERFORM pg_advisory_xact_lock(k.h, k.m)
        FROM (SELECT DISTINCT hashtext(m) AS h,
                     -1 - ((extract(year FROM d)::int - 2000) * 12 + extract(month FROM d)::int)
                         AS m
              FROM unnest(meters, months) AS u(m, d) ORDER BY 1, 2 OFFSET 0) AS k;
    END IF;

    DELETE FROM emission_month mo
    USING unnest(meters, months) AS k(meter_id, month)
    WHERE mo.meter_id = k.meter_id AND mo.month = k.month;

    INSERT INTO emission_month (meter_id, month, enterprise_id, source_category, iso_category,
                                activity, activity_unit, gases, gas_windows, tco2e,
                                readings_present, readings_expected, windows, factor_versions,
                                flags)
    SELECT s.meter_id, s.month, s.enterprise_id, s.source_category, s.iso_category, s.activity,
           s.activity_unit, gg.gases, gg.gas_windows, s.tco2e, s.present, s.expected,
           s.windows, vv.factor_versions, s.flags
    FROM (
        SELECT d.meter_id, k.month, d.enterprise_id, d.source_category, d.iso_category,
               d.activity_unit, sum(d.activity) AS activity, sum(d.tco2e) AS tco2e,
               sum(d.readings_present) AS present, sum(d.readings_expected) AS expected,
               sum(d.windows)::integer AS windows, bit_or(d.flags) AS flags,
               jsonb_agg(jsonb_build_array(d.gases, d.gas_windows)) AS days_gases,
               jsonb_agg(to_jsonb(d.factor_versions)) AS days_versions
        FROM (SELECT DISTINCT * FROM unnest(meters, months) AS u(meter_id, month)) AS k
        JOIN emission_day d
          ON d.meter_id = k.meter_id AND d.day >= k.month
         AND d.day < (k.month + interval '1 month')::date
        GROUP BY 1, 2, 3, 4, 5, 6
    ) AS s
    CROSS JOIN LATERAL (
        -- Per gas: tonnes summed, and [hours, present, expected] summed element-wise.
        SELECT coalesce(jsonb_object_agg(gas, t), '{}') AS gases,
               coalesce(jsonb_object_agg(gas, jsonb_build_array(n, present, expected)), '{}')
                   AS gas_windows
        FROM (SELECT g.gas, sum(g.t::float8) AS t,
                     sum((h -> 1 -> g.gas ->> 0)::bigint) AS n,
                     sum((h -> 1 -> g.gas ->> 1)::float8) AS present,
                     sum((h -> 1 -> g.gas ->> 2)::float8) AS expected
              FROM jsonb_array_elements(s.days_gases) AS h
              CROSS JOIN LATERAL jsonb_each_text(h -> 0) AS g(gas, t)
              GROUP BY 1) AS per_gas
    ) AS gg
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') AS factor_versions
        FROM jsonb_array_elements(s.days_versions) AS a
        CROSS JOIN LATERAL jsonb_array_elements_text(a) AS v
    ) AS vv;
END;
$$;

-- One function for both statement triggers (transition tables allow one event per trigger).
CREATE FUNCTION emission_month_after_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_meters text[]; v_months date[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(meter_id), array_agg(month) INTO v_meters, v_months
        FROM (SELECT DISTINCT meter_id, date_trunc('month', day::timestamp)::date AS month
              FROM new_rows) AS t;
    ELSE
        SELECT array_agg(meter_id), array_agg(month) INTO v_meters, v_months
        FROM (SELECT DISTINCT meter_id, date_trunc('month', day::timestamp)::date AS month
              FROM old_rows) AS t;
    END IF;
    PERFORM emission_month_recompute(v_meters, v_months);
    RETURN NULL;
END;
$$;

CREATE TRIGGER emission_month_after_insert AFTER INSERT ON emission_day
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION emission_month_after_write();
CREATE TRIGGER emission_month_after_delete AFTER DELETE ON emission_day
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION emission_month_after_write();

CREATE FUNCTION emission_month_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE emission_month;
    RETURN NULL;
END;
$$;
CREATE TRIGGER emission_month_after_truncate AFTER TRUNCATE ON emission_day
    FOR EACH STATEMENT EXECUTE FUNCTION emission_month_after_truncate();

-- Every month again from every day row (the backfill below; after a bulk load with the
-- triggers disabled). Returns the month rows written.
CREATE FUNCTION emission_month_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_meters text[]; v_months date[];
BEGIN
    LOCK TABLE emission_month IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM emission_month;
    SELECT array_agg(meter_id), array_agg(month) INTO v_meters, v_months
    FROM (SELECT DISTINCT meter_id, date_trunc('month', day::timestamp)::date AS month
          FROM emission_day) AS t;
    PERFORM emission_month_recompute(v_meters, v_months);
    RETURN (SELECT count(*) FROM emission_month);
END;
$$;

SELECT emission_month_rebuild();
