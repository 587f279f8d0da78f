-- Readings of DL/T 645-2007 meters arrive with source 'dlt645' (ingest/dlt645.py); the
-- reading table's source list grows by it.
ALTER TABLE reading DROP CONSTRAINT reading_source_check;

-- TimescaleDB refuses to add a constraint to a hypertable with compression enabled (it would
-- have to decompress every chunk to verify it); there the worker's decoding, which accepts only
-- the sources of stream.records.Source, is the check. Plain PostgreSQL keeps the constraint.
DO $$
DECLARE
    compressed boolean := false;
BEGIN
    IF to_regclass('timescaledb_information.hypertables') IS NOT NULL THEN
        -- Dynamic: without the extension the view does not exist and could not be planned.
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables'
            ' WHERE hypertable_name = ''reading'' AND compression_enabled)' INTO compressed;
    END IF;
    IF NOT compressed THEN
        ALTER TABLE reading ADD CONSTRAINT reading_source_check
            CHECK (source IN ('modbus', 'opcua', 'dlt645', 'ems'));
    END IF;
END $$;
