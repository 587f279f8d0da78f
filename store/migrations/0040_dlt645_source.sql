-- Readings of DL/T 645-2007 meters arrive with source 'dlt645' (ingest/dlt645.py); the
-- reading table's source list grows by it.
ALTER TABLE reading DROP CONSTRAINT reading_source_check;

-- TimescaleDB refuses to add a constraint to a hypertable with compression enabled (it would
-- have to decompress every chunk to verify it); there the worker's decoding, which accepts only
-- the sources of stream.records.Source, is the check. Plain PostgreSQL keeps the constraint.
DO $$
BEGIN
    IF to_regclass('timescaledb_information.hypertables') IS NOT NULL AND EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables
        WHERE hypertable_name = 'reading' AND compression_enabled
    ) THEN
        RETURN;
    END IF;
    ALTER TABLE reading ADD CONSTRAINT reading_source_check
        CHECK (source IN ('modbus', 'opcua', 'dlt645', 'ems'));
END $$;
