-- Daily totals per meter and PARK-LOCAL day (clauses 6.3.1, 9.1 a), kept inside the database so
-- every writer of emission_window (the stream sink's COPY and its INSERT ... ON CONFLICT DO
-- UPDATE, recomputations, tests, imports) keeps them exact without knowing about them: the plain
-- PostgreSQL counterpart of TimescaleDB's continuous aggregates (issue 5 item 4).
--
-- A day row is RECOMPUTED from the day's hour windows (width_s = 3600) whenever one of them is
-- inserted, updated or deleted, never incremented: a late or recomputed window, or a replay of
-- the same windows, leaves the day equal to the sum of its hours. A meter's day has one row per
-- (enterprise, source category, ISO category, activity unit) its hours carry (normally one).
-- The day is the window start's local date in the park's time zone (park.timezone) at the time
-- the window is written; after a park's time zone changes, run SELECT emission_day_rebuild().

CREATE TABLE emission_day (
    meter_id          text NOT NULL,
    day               date NOT NULL,                -- park-local date of the windows' starts
    enterprise_id     text NOT NULL,
    source_category   text NOT NULL,
    iso_category      text,
    activity          double precision NOT NULL,    -- in activity_unit, summed
    activity_unit     text NOT NULL,
    gases             jsonb NOT NULL DEFAULT '{}',  -- tonnes of each gas, summed per gas
    -- Per gas: [hour windows carrying it, their readings_present, their readings_expected], so a
    -- query grouped by gas counts exactly what grouping the hour windows by gas counted.
    gas_windows       jsonb NOT NULL DEFAULT '{}',
    tco2e             double precision NOT NULL,
    readings_present  double precision NOT NULL,
    readings_expected double precision NOT NULL,
    windows           integer NOT NULL,             -- hour windows summed into the row
    factor_versions   text[] NOT NULL DEFAULT '{}', -- union of the hours' factor versions
    flags             integer NOT NULL DEFAULT 0,   -- OR of the hours' flags
    computed_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT emission_day_key UNIQUE NULLS NOT DISTINCT
        (meter_id, day, enterprise_id, source_category, iso_category, activity_unit)
);
CREATE INDEX emission_day_day_idx ON emission_day (day);

-- Recompute the given (meter, local day) pairs from the hour windows; the keys come with the
-- UTC span [lo, hi) of the local day in the time zone(s) of the windows that named them.
CREATE FUNCTION emission_day_recompute(meters text[], days date[], los timestamptz[],
                                       his timestamptz[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(meters) IS NULL OR cardinality(meters) = 0 THEN
        RETURN;
    END IF;
    -- Concurrent writers of the same meter-day must not each recompute it without the other's
    -- uncommitted hours: the day's lock is held to commit, and the statements below run after
    -- it is granted, each with a fresh READ COMMITTED snapshot, so they see the committed hours
    -- of whoever held it. Locks are taken in key order (no deadlock between two such
    -- statements); a very large statement locks the whole table instead, keeping the shared
    -- lock table small. (The two-integer advisory key space is used by nothing else.)
    IF cardinality(meters) > 4096 THEN
        LOCK TABLE emission_day IN SHARE ROW EXCLUSIVE MODE;
    ELSE
        LOCK TABLE emission_day IN ROW EXCLUSIVE MODE;
        PERFORM pg_advisory_xact_lock(k.h, k.d)
        FROM (SELECT hashtext(m) AS h, d - date '2000-01-01' AS d
              FROM unnest(meters, days) AS u(m, d) ORDER BY 1, 2 OFFSET 0) AS k;
    END IF;

    DELETE FROM emission_day d
    USING unnest(meters, days) AS k(meter_id, day)
    WHERE d.meter_id = k.meter_id AND d.day = k.day;

    -- One pass over the hours; each group's gases and factor versions are carried as jsonb
    -- arrays and folded per group (no join between separately grouped sets).
    INSERT INTO emission_day (meter_id, day, enterprise_id, source_category, iso_category,
                              activity, activity_unit, gases, gas_windows, tco2e,
                              readings_present, readings_expected, windows, factor_versions,
                              flags)
    SELECT s.meter_id, s.day, s.enterprise_id, s.source_category, s.iso_category, s.activity,
           s.activity_unit, gg.gases, gg.gas_windows, s.tco2e, s.present, s.expected,
           s.windows, vv.factor_versions, s.flags
    FROM (
        SELECT w.meter_id, k.day, w.enterprise_id, w.source_category, w.iso_category,
               w.activity_unit, sum(w.activity) AS activity, sum(w.tco2e) AS tco2e,
               sum(w.readings_present) AS present, sum(w.readings_expected) AS expected,
               count(*)::integer AS windows, bit_or(w.flags) AS flags,
               jsonb_agg(jsonb_build_array(w.gases, w.readings_present, w.readings_expected))
                   AS hours_gases,
               jsonb_agg(to_jsonb(w.factor_versions)) AS hours_versions
        FROM unnest(meters, days, los, his) AS k(meter_id, day, lo, hi)
        CROSS JOIN LATERAL (
            -- A range of the primary key (meter_id, width_s, window_start) per key: written as
            -- row bounds, which no other index can serve, so even a table not yet analysed
            -- (a fresh database filled in bulk) is read by the key, never by time alone.
            SELECT x.* FROM emission_window x
            WHERE (x.meter_id, x.width_s, x.window_start) >= (k.meter_id, 3600, k.lo)
              AND (x.meter_id, x.width_s, x.window_start) < (k.meter_id, 3600, k.hi)
            OFFSET 0
        ) AS w
        JOIN enterprise e ON e.enterprise_id = w.enterprise_id
        JOIN park p ON p.park_id = e.park_id
        WHERE (w.window_start AT TIME ZONE p.timezone)::date = k.day
        GROUP BY 1, 2, 3, 4, 5, 6
    ) AS s
    CROSS JOIN LATERAL (
        SELECT coalesce(jsonb_object_agg(gas, t), '{}') AS gases,
               coalesce(jsonb_object_agg(gas, jsonb_build_array(n, present, expected)), '{}')
                   AS gas_windows
        FROM (SELECT g.gas, sum(g.t::float8) AS t, count(*) AS n,
                     sum((h ->> 1)::float8) AS present, sum((h ->> 2)::float8) AS expected
              FROM jsonb_array_elements(s.hours_gases) AS h
              CROSS JOIN LATERAL jsonb_each_text(h -> 0) AS g(gas, t)
              GROUP BY 1) AS per_gas
    ) AS gg
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(DISTINCT v ORDER BY v), '{}') AS factor_versions
        FROM jsonb_array_elements(s.hours_versions) AS a
        CROSS JOIN LATERAL jsonb_array_elements_text(a) AS v
    ) AS vv;
END;
$$;

-- The (meter, local day) pairs that hour windows (meter, start, enterprise) fall on, each with
-- the day's UTC span in the park's time zone, recomputed. Windows of an enterprise or park not
-- in the registry belong to no day, as in the queries, which join them.
CREATE FUNCTION emission_day_touch(meters text[], starts timestamptz[], enterprises text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_meters text[]; v_days date[]; v_los timestamptz[]; v_his timestamptz[];
BEGIN
    SELECT array_agg(meter_id), array_agg(day), array_agg(lo), array_agg(hi)
    INTO v_meters, v_days, v_los, v_his
    FROM (SELECT u.meter_id, k.day,
                 min(k.day::timestamp AT TIME ZONE p.timezone) AS lo,
                 max((k.day + 1)::timestamp AT TIME ZONE p.timezone) AS hi
          FROM unnest(meters, starts, enterprises) AS u(meter_id, window_start, enterprise_id)
          JOIN enterprise e ON e.enterprise_id = u.enterprise_id
          JOIN park p ON p.park_id = e.park_id
          CROSS JOIN LATERAL (SELECT (u.window_start AT TIME ZONE p.timezone)::date AS day) k
          GROUP BY 1, 2) AS t;
    PERFORM emission_day_recompute(v_meters, v_days, v_los, v_his);
END;
$$;

-- One function for the three statement triggers: PostgreSQL allows transition tables on a
-- trigger of one event only. An UPDATE recomputes the days of the old and the new rows (a
-- window moved to another meter or start leaves its old day too).
CREATE FUNCTION emission_day_after_write() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_meters text[]; v_starts timestamptz[]; v_enterprises text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(meter_id), array_agg(window_start), array_agg(enterprise_id)
        INTO v_meters, v_starts, v_enterprises FROM new_rows WHERE width_s = 3600;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(meter_id), array_agg(window_start), array_agg(enterprise_id)
        INTO v_meters, v_starts, v_enterprises
        FROM (SELECT meter_id, window_start, enterprise_id FROM old_rows WHERE width_s = 3600
              UNION
              SELECT meter_id, window_start, enterprise_id FROM new_rows WHERE width_s = 3600)
             AS t;
    ELSE
        SELECT array_agg(meter_id), array_agg(window_start), array_agg(enterprise_id)
        INTO v_meters, v_starts, v_enterprises FROM old_rows WHERE width_s = 3600;
    END IF;
    IF v_meters IS NOT NULL THEN
        PERFORM emission_day_touch(v_meters, v_starts, v_enterprises);
    END IF;
    RETURN NULL;
END;
$$;

-- TimescaleDB refuses transition tables on hypertables (emission_window is one in that mode),
-- so there the same recomputation runs from a row trigger, once per hour window written.
CREATE FUNCTION emission_day_after_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.width_s = 3600 THEN
        PERFORM emission_day_touch(ARRAY[OLD.meter_id], ARRAY[OLD.window_start],
                                   ARRAY[OLD.enterprise_id]);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.width_s = 3600 THEN
        PERFORM emission_day_touch(ARRAY[NEW.meter_id], ARRAY[NEW.window_start],
                                   ARRAY[NEW.enterprise_id]);
    END IF;
    RETURN NULL;
END;
$$;

-- Installs the statement triggers (plain PostgreSQL: one recomputation per statement) or the
-- row trigger (``per_row``: hypertables), replacing whichever is there.
CREATE FUNCTION emission_day_install_triggers(per_row boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DROP TRIGGER IF EXISTS emission_day_after_insert ON emission_window;
    DROP TRIGGER IF EXISTS emission_day_after_update ON emission_window;
    DROP TRIGGER IF EXISTS emission_day_after_delete ON emission_window;
    DROP TRIGGER IF EXISTS emission_day_after_row ON emission_window;
    IF per_row THEN
        CREATE TRIGGER emission_day_after_row AFTER INSERT OR UPDATE OR DELETE ON emission_window
            FOR EACH ROW EXECUTE FUNCTION emission_day_after_row();
        RETURN;
    END IF;
    CREATE TRIGGER emission_day_after_insert AFTER INSERT ON emission_window
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION emission_day_after_write();
    CREATE TRIGGER emission_day_after_update AFTER UPDATE ON emission_window
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION emission_day_after_write();
    CREATE TRIGGER emission_day_after_delete AFTER DELETE ON emission_window
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION emission_day_after_write();
END;
$$;

DO $$
DECLARE
    hypertable boolean := false;
BEGIN
    -- Dynamic SQL: on plain PostgreSQL the TimescaleDB catalogue does not exist at all.
    IF to_regclass('timescaledb_information.hypertables') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables'
                ' WHERE hypertable_name = ''emission_window'')' INTO hypertable;
    END IF;
    PERFORM emission_day_install_triggers(hypertable);
END $$;

CREATE FUNCTION emission_day_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE emission_day;
    RETURN NULL;
END;
$$;
CREATE TRIGGER emission_day_after_truncate AFTER TRUNCATE ON emission_window
    FOR EACH STATEMENT EXECUTE FUNCTION emission_day_after_truncate();

-- Every day again from every hour window (the backfill below; after a park's time zone
-- changed; after a bulk load with the triggers disabled). Returns the day rows written.
CREATE FUNCTION emission_day_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_meters text[]; v_days date[]; v_los timestamptz[]; v_his timestamptz[];
BEGIN
    LOCK TABLE emission_day IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM emission_day;
    SELECT array_agg(meter_id), array_agg(day), array_agg(lo), array_agg(hi)
    INTO v_meters, v_days, v_los, v_his
    FROM (SELECT w.meter_id, k.day,
                 min(k.day::timestamp AT TIME ZONE p.timezone) AS lo,
                 max((k.day + 1)::timestamp AT TIME ZONE p.timezone) AS hi
          FROM emission_window w
          JOIN enterprise e ON e.enterprise_id = w.enterprise_id
          JOIN park p ON p.park_id = e.park_id
          CROSS JOIN LATERAL (SELECT (w.window_start AT TIME ZONE p.timezone)::date AS day) k
          WHERE w.width_s = 3600
          GROUP BY 1, 2) AS t;
    PERFORM emission_day_recompute(v_meters, v_days, v_los, v_his);
    RETURN (SELECT count(*) FROM emission_day);
END;
$$;

SELECT emission_day_rebuild();
