-- The read-only role Grafana's PostgreSQL datasource logs in as (deploy/grafana/). Roles are
-- cluster-wide: created once, whichever database migrates first, and never with a password here
-- (no secret in the repository): a deployment sets it, e.g.
--   ALTER ROLE parkcarbon_reader PASSWORD '...';
-- with the same value in GRAFANA_DB_PASSWORD (Grafana's provisioning file) or
-- PARKCARBON_GRAFANA_DB_PASSWORD (`parkcarbon grafana push`).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'parkcarbon_reader') THEN
        CREATE ROLE parkcarbon_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
EXCEPTION
    -- Another database of the cluster created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO parkcarbon_reader', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO parkcarbon_reader;

-- What the dashboards read, and nothing else: no API keys, no webhook secrets, no raw EMS
-- payloads. A later migration whose table a dashboard needs grants SELECT on it here too.
GRANT SELECT ON park, enterprise, site, meter, reading, rejected_reading, meter_state,
                emission_window, emission_rolling_hour, emission_daily, target, baseline,
                alert, alert_ack, ticket, ticket_occurrence, ticket_action, ticket_history
    TO parkcarbon_reader;

-- Bounded work per dashboard query, whatever a panel's time range.
ALTER ROLE parkcarbon_reader SET statement_timeout = '30s';
