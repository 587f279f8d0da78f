-- Readings collected by a gateway from an IEC 60870-5-104 outstation (a substation RTU's
-- integrated totals and measured values) carry source 'iec104'. They are gateway traffic like
-- modbus, opcua, dlt645 and mqtt: subject to the gateway grants of 0014. Only the CHECK changes;
-- as in 0040 and 0041, a TimescaleDB hypertable with compression enabled keeps no CHECK (the
-- worker's decoding, which accepts only the sources of stream.records.Source, is the check).
ALTER TABLE reading DROP CONSTRAINT IF EXISTS reading_source_check;

DO $$
DECLARE
    compressed boolean := false;
BEGIN
    IF to_regclass('timescaledb_information.hypertables') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables'
            ' WHERE hypertable_name = ''reading'' AND compression_enabled)' INTO compressed;
    END IF;
    IF NOT compressed THEN
        ALTER TABLE reading ADD CONSTRAINT reading_source_check
            CHECK (source IN ('modbus', 'opcua', 'dlt645', 'mqtt', 'iec104', 'ems'));
    END IF;
END $$;
