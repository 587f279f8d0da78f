-- CO2e in event-time windows per meter (clauses 6.3.1, 9.1 a), recomputed from stored readings
-- whenever a reading touches a window, so a window's totals always equal its readings.

-- The emission-factor region of the park (e.g. 'CN', 'CN-JS'; accounting/data/regions.csv).
ALTER TABLE park ADD COLUMN region text NOT NULL DEFAULT 'CN';

CREATE TABLE emission_window (
    meter_id          text NOT NULL,
    width_s           integer NOT NULL CHECK (width_s IN (60, 300, 900, 3600)),
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    enterprise_id     text NOT NULL,
    source_category   text NOT NULL,
    iso_category      text,
    activity          double precision NOT NULL,   -- in activity_unit (carrier's canonical unit)
    activity_unit     text NOT NULL,
    gases             jsonb NOT NULL DEFAULT '{}', -- tonnes of each gas
    tco2e             double precision NOT NULL,
    gwp_set           text,
    factor_versions   text[] NOT NULL DEFAULT '{}',
    readings_present  double precision NOT NULL,   -- interval-weighted readings in the window
    readings_expected double precision NOT NULL,
    completeness      double precision NOT NULL CHECK (completeness BETWEEN 0 AND 1),
    flags             integer NOT NULL DEFAULT 0,  -- OR of the readings' accounting flags
    interpolated      boolean NOT NULL DEFAULT false,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, width_s, window_start),
    CHECK (window_end > window_start)
);
CREATE INDEX emission_window_time_idx ON emission_window (width_s, window_start DESC);
CREATE INDEX emission_window_enterprise_idx
    ON emission_window (enterprise_id, width_s, window_start DESC);

-- The rolling hour that advances every 5 minutes, summed from 5-minute panes.
CREATE VIEW emission_rolling_hour AS
SELECT meter_id,
       window_end - interval '1 hour' AS window_start,
       window_end,
       enterprise_id,
       source_category,
       sum(activity) OVER w AS activity,
       activity_unit,
       sum(tco2e) OVER w AS tco2e,
       sum(readings_present) OVER w / nullif(sum(readings_expected) OVER w, 0) AS completeness
FROM emission_window
WHERE width_s = 300
WINDOW w AS (PARTITION BY meter_id ORDER BY window_start
             RANGE BETWEEN interval '55 minutes' PRECEDING AND CURRENT ROW);

-- Daily totals per meter in the park's own time zone (a park's day is its local day), the same
-- view on plain PostgreSQL and on TimescaleDB.
CREATE VIEW emission_daily AS
SELECT w.meter_id,
       w.enterprise_id,
       w.source_category,
       (w.window_start AT TIME ZONE p.timezone)::date AS day,
       sum(w.activity) AS activity,
       min(w.activity_unit) AS activity_unit,
       sum(w.tco2e) AS tco2e,
       sum(w.readings_present) / nullif(sum(w.readings_expected), 0) AS completeness
FROM emission_window w
JOIN enterprise e ON e.enterprise_id = w.enterprise_id
JOIN park p ON p.park_id = e.park_id
WHERE w.width_s = 3600
GROUP BY 1, 2, 3, 4;
