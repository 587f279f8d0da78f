-- Validation state per meter (last accepted register and time, last seq ...), written in the
-- same transaction as the readings it describes: a restart, a rebalance or a replay resumes
-- from exactly what is stored (clause 8.4), whichever worker picks the meter up.
CREATE TABLE meter_state (
    meter_id   text PRIMARY KEY,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
