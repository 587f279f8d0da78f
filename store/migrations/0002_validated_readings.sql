-- Validated readings carry the interval they close (clause 6.3.1 activity data): the register
-- delta times the multiplier, labelled by the interval [interval_start, ts). Quarantined rows get
-- a natural key so a replayed message never quarantines the same thing twice (clause 8.4).

ALTER TABLE reading
    ADD COLUMN interval_start timestamptz,
    ADD COLUMN quantity double precision,
    ADD COLUMN quantity_unit text,
    ADD CONSTRAINT reading_interval_check CHECK (interval_start IS NULL OR interval_start < ts);

ALTER TABLE meter
    ADD COLUMN max_rate_per_h double precision CHECK (max_rate_per_h IS NULL OR max_rate_per_h > 0),
    ADD COLUMN accuracy_category text;

ALTER TABLE rejected_reading ADD COLUMN dedupe_key text;
UPDATE rejected_reading SET dedupe_key = 'legacy-' || id WHERE dedupe_key IS NULL;
ALTER TABLE rejected_reading ALTER COLUMN dedupe_key SET NOT NULL;
CREATE UNIQUE INDEX rejected_reading_dedupe_idx ON rejected_reading (dedupe_key, rejected_at);
CREATE INDEX rejected_reading_reason_idx ON rejected_reading (reason, rejected_at DESC);

-- Workers cache the registry and refresh it when (count, max(updated_at)) changes.
CREATE FUNCTION meter_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER meter_touch BEFORE UPDATE ON meter FOR EACH ROW EXECUTE FUNCTION meter_touch();
