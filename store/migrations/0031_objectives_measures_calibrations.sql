-- Objectives (clause 6.2), reduction measures with their measurement and verification and the
-- ranking of opportunities (6.2.2, 6.3, 6.3.1 a), and the calibration and maintenance log of
-- meters (9.1 c, Annex A item 9). NULL enterprise_id: a park-level record (enterprise keys never
-- see it). Every change is also written to audit_log by the API.

-- Clause 6.2: an objective with a measurable indicator, linked to the target whose figures
-- measure it (its progress is read from the target, as /v1/progress reads it).
CREATE TABLE objective (
    record_id          bigserial PRIMARY KEY,
    park_id            text NOT NULL REFERENCES park (park_id),
    enterprise_id      text REFERENCES enterprise (enterprise_id),
    status             text NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active', 'achieved', 'not_achieved', 'withdrawn')),
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    indicator          text NOT NULL CHECK (length(indicator) BETWEEN 1 AND 10000),
    target_id          bigint NOT NULL REFERENCES target (target_id),
    owner              text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    resources          text NOT NULL CHECK (length(resources) BETWEEN 1 AND 10000),
    due_on             date NOT NULL,
    evaluation_method  text NOT NULL CHECK (length(evaluation_method) BETWEEN 1 AND 10000),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL CHECK (length(created_by) > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text NOT NULL CHECK (length(updated_by) > 0)
);
CREATE INDEX objective_enterprise_idx ON objective (enterprise_id, record_id DESC);
CREATE INDEX objective_due_idx ON objective (due_on) WHERE status = 'active';

-- Clauses 6.2.2, 6.3, 6.3.1 a: a reduction measure. Its states move only along the table in
-- api/measures/flows.py, each with its own time. meter_ids names the meters it affects (all of
-- the record's enterprise); empty: the whole enterprise, or the park for a park-level measure.
CREATE TABLE measure (
    record_id                bigserial PRIMARY KEY,
    park_id                  text NOT NULL REFERENCES park (park_id),
    enterprise_id            text REFERENCES enterprise (enterprise_id),
    status                   text NOT NULL DEFAULT 'proposed' CHECK (status IN (
                                 'proposed', 'approved', 'in_progress', 'implemented',
                                 'verified', 'cancelled')),
    title                    text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description              text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    source_category          text NOT NULL CHECK (source_category IN (
                                 'stationary_combustion', 'mobile_combustion', 'process',
                                 'fugitive', 'purchased_electricity', 'purchased_heat',
                                 'green_space_sink')),
    expected_tco2e_per_year  double precision NOT NULL
                                 CHECK (expected_tco2e_per_year >= 0
                                        AND expected_tco2e_per_year < 'Infinity'),
    expected_tce_per_year    double precision
                                 CHECK (expected_tce_per_year >= 0
                                        AND expected_tce_per_year < 'Infinity'),
    capex_cny                double precision CHECK (capex_cny >= 0 AND capex_cny < 'Infinity'),
    owner                    text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    planned_start            date NOT NULL,
    planned_end              date NOT NULL,
    meter_ids                text[] NOT NULL DEFAULT '{}' CHECK (cardinality(meter_ids) <= 100),
    implemented_on           date,  -- when it went live: M&V periods start on or after it
    cancel_reason            text CHECK (length(cancel_reason) BETWEEN 1 AND 10000),
    approved_at              timestamptz,
    in_progress_at           timestamptz,
    implemented_at           timestamptz,
    verified_at              timestamptz,
    cancelled_at             timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    created_by               text NOT NULL CHECK (length(created_by) > 0),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    updated_by               text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (planned_end >= planned_start),
    CHECK ((status IN ('implemented', 'verified')) = (implemented_on IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL))
);
CREATE INDEX measure_enterprise_idx ON measure (enterprise_id, record_id DESC);
CREATE INDEX measure_due_idx ON measure (planned_end)
    WHERE status IN ('proposed', 'approved', 'in_progress');

-- One measurement-and-verification record: the figures it used (each baseline with its id,
-- period kind and value; the stored emissions and how many hour windows they came from) so the
-- verified savings can be checked by hand later. Append-only.
CREATE TABLE measure_verification (
    verification_id         bigserial PRIMARY KEY,
    measure_id              bigint NOT NULL REFERENCES measure (record_id),
    period_start            date NOT NULL,
    period_end              date NOT NULL CHECK (period_end > period_start),
    subject_kind            text NOT NULL CHECK (subject_kind IN ('park', 'enterprise', 'meter')),
    baselines               jsonb NOT NULL CHECK (jsonb_typeof(baselines) = 'array'),
    baseline_tco2e          double precision NOT NULL,
    actual_tco2e            double precision NOT NULL,
    hour_windows            integer NOT NULL CHECK (hour_windows >= 0),
    verified_savings_tco2e  double precision NOT NULL,
    expected_savings_tco2e  double precision,
    realisation             double precision,
    note                    text CHECK (length(note) BETWEEN 1 AND 10000),
    created_at              timestamptz NOT NULL DEFAULT now(),
    created_by              text NOT NULL CHECK (length(created_by) > 0)
);
CREATE INDEX measure_verification_measure_idx ON measure_verification (measure_id);

-- Clause 9.1 c and Annex A item 9: calibration and maintenance events per meter. A passing (or
-- adjusted) calibration or verification carries the next due date and moves the registry's
-- meter.calibration_due, which the worker's CALIBRATION_OVERDUE flag reads; the due date before
-- and after are kept here. A failure may open a nonconformity (ticket_id). Append-only.
CREATE TABLE meter_calibration (
    event_id                bigserial PRIMARY KEY,
    meter_id                text NOT NULL REFERENCES meter (meter_id),
    kind                    text NOT NULL CHECK (kind IN (
                                'calibration', 'verification', 'repair', 'replacement_check')),
    performed_on            date NOT NULL,
    result                  text NOT NULL CHECK (result IN ('pass', 'fail', 'adjusted')),
    certificate_no          text CHECK (length(certificate_no) BETWEEN 1 AND 200),
    laboratory              text CHECK (length(laboratory) BETWEEN 1 AND 200),
    next_due                date CHECK (next_due > performed_on),
    note                    text CHECK (length(note) BETWEEN 1 AND 10000),
    calibration_due_before  date,
    calibration_due_after   date,
    ticket_id               bigint REFERENCES ticket (ticket_id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    created_by              text NOT NULL CHECK (length(created_by) > 0),
    -- A certificate comes from a laboratory: a calibration or a verification names both.
    CHECK (kind NOT IN ('calibration', 'verification')
           OR (certificate_no IS NOT NULL AND laboratory IS NOT NULL)),
    -- A passing calibration or verification says when the next one is due.
    CHECK (kind NOT IN ('calibration', 'verification') OR result = 'fail'
           OR next_due IS NOT NULL)
);
CREATE INDEX meter_calibration_meter_idx ON meter_calibration (meter_id, performed_on DESC);

-- The calibration log as a register (its XLSX sheet and the calibration.due reminder): each
-- event with its meter's park and enterprise. status 'active' marks the event whose next_due is
-- in force - the meter's latest passing certificate, still its calibration_due, the meter in
-- service - and 'archived' the history, so a superseded due date never reminds.
CREATE VIEW meter_calibration_register AS
SELECT c.event_id AS record_id, e.park_id, m.enterprise_id,
       CASE WHEN c.event_id = latest.event_id AND m.status = 'active'
                 AND m.calibration_due = c.next_due
            THEN 'active' ELSE 'archived' END AS status,
       c.meter_id, c.kind, c.performed_on, c.result, c.certificate_no, c.laboratory, c.next_due,
       c.note, c.ticket_id
FROM meter_calibration c
JOIN meter m ON m.meter_id = c.meter_id
JOIN enterprise e ON e.enterprise_id = m.enterprise_id
LEFT JOIN LATERAL (
    SELECT l.event_id FROM meter_calibration l
    WHERE l.meter_id = c.meter_id AND l.kind IN ('calibration', 'verification')
      AND l.result <> 'fail'
    ORDER BY l.performed_on DESC, l.event_id DESC
    LIMIT 1
) latest ON true;
