-- TimescaleDB extras for 0003: windows in a hypertable, compressed after a month.
SELECT create_hypertable('emission_window', by_range('window_start', INTERVAL '7 days'),
                         migrate_data => true);
ALTER TABLE emission_window SET (timescaledb.compress,
                                 timescaledb.compress_segmentby = 'meter_id, width_s',
                                 timescaledb.compress_orderby = 'window_start DESC');
SELECT add_compression_policy('emission_window', INTERVAL '30 days');
-- Minute windows are for the live view; hourly and longer are the record.
-- (Retention by width needs a job; the 1-minute and 5-minute rows are small enough to keep.)
