-- EMS push (issue 6, item 3): what the API has handed to readings.raw, and Idempotency-Key
-- replies. A reading is recorded here only after Kafka acknowledged it (acks=all), so a row
-- means "durably in the stream"; the worker's verdict lands in reading / rejected_reading.

-- Per-source sequence numbers of EMS readings: one value per produced message, the reading's
-- index in the low 14 bits, so seq only grows (the worker tells replays from late readings by it).
CREATE SEQUENCE ems_push_seq;

-- One row per (meter, time) ever accepted from a push: a second push of it is a duplicate.
CREATE TABLE ems_reading (
    meter_id    text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    key_id      text NOT NULL,       -- the API key that pushed it
    seq         bigint NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts)
);

-- The stored reply of a push sent with an Idempotency-Key, per API key, kept 24 hours.
CREATE TABLE ems_idempotency (
    key_id          text NOT NULL REFERENCES api_key (key_id),
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    body_sha256     bytea NOT NULL CHECK (length(body_sha256) = 32),
    status          integer NOT NULL,
    response        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX ems_idempotency_created_idx ON ems_idempotency (created_at);
