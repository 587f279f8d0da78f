-- TimescaleDB extras for 0001: time-partitioned hypertables with compression and retention.
-- Readers see the same tables and columns as on plain PostgreSQL.
SELECT create_hypertable('reading', by_range('ts', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('rejected_reading', by_range('rejected_at', INTERVAL '7 days'),
                         migrate_data => true);
ALTER TABLE reading SET (timescaledb.compress, timescaledb.compress_segmentby = 'meter_id',
                         timescaledb.compress_orderby = 'ts DESC');
SELECT add_compression_policy('reading', INTERVAL '7 days');
-- Raw readings are kept five years (windows and inventories are kept longer, in later tables);
-- quarantined ones two years, long enough for an annual verification (clause 6.3.1).
SELECT add_retention_policy('reading', INTERVAL '5 years');
SELECT add_retention_policy('rejected_reading', INTERVAL '2 years');
