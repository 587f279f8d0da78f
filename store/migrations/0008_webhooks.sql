-- Webhooks to duty staff (issue 6), signed per the Standard Webhooks spec, delivered from a
-- transactional outbox: an event is one webhook_message row plus one webhook_delivery row per
-- matching endpoint, written in the transaction that makes the change, so a notification is
-- never lost when the API restarts. Every attempt is kept (clause 7.3: records kept).

-- A subscription: where to POST which event types. enterprise_id scopes it to one enterprise's
-- events; NULL is park-wide (every event). The secret must be kept in clear: HMAC signing needs
-- it. During a rotation the previous secret stays valid until previous_secret_expires_at.
CREATE TABLE webhook_endpoint (
    endpoint_id                text PRIMARY KEY CHECK (endpoint_id ~ '^ep_[a-z0-9]{20}$'),
    url                        text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    description                text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types                text[] NOT NULL CHECK (
                                   cardinality(event_types) > 0
                                   AND event_types <@ ARRAY['alert.opened', 'alert.resolved',
                                       'ticket.transitioned', 'ticket.overdue', 'ping']),
    enterprise_id              text REFERENCES enterprise (enterprise_id),
    secret                     text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    previous_secret            text CHECK (previous_secret LIKE 'whsec\_%'),
    previous_secret_expires_at timestamptz,
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text,
    disabled_at                timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    created_by                 text NOT NULL CHECK (length(created_by) > 0),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoint_rotation
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL)),
    CONSTRAINT webhook_endpoint_disabled_reason
        CHECK (enabled OR (disabled_reason IS NOT NULL AND disabled_at IS NOT NULL))
);
CREATE INDEX webhook_endpoint_event_idx ON webhook_endpoint USING gin (event_types)
    WHERE enabled;

-- One event. message_id is the webhook-id header: the same on every attempt and redelivery, so
-- receivers de-duplicate by it. body is the exact JSON sent and signed (never re-serialised).
CREATE TABLE webhook_message (
    message_id    text PRIMARY KEY CHECK (message_id ~ '^msg_[a-z0-9]{24}$'),
    event_type    text NOT NULL CHECK (event_type IN ('alert.opened', 'alert.resolved',
                      'ticket.transitioned', 'ticket.overdue', 'ping')),
    enterprise_id text,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One message to one endpoint. A manual redelivery is a new row naming the one it repeats.
CREATE TABLE webhook_delivery (
    delivery_id     bigserial PRIMARY KEY,
    message_id      text NOT NULL REFERENCES webhook_message (message_id),
    endpoint_id     text NOT NULL REFERENCES webhook_endpoint (endpoint_id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the dispatcher may next claim it; a claim pushes it ahead by a lease, so a process
    -- that dies mid-attempt leaves the delivery due again once the lease has passed.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    redelivery_of   bigint REFERENCES webhook_delivery (delivery_id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT webhook_delivery_finished CHECK ((status = 'pending') = (finished_at IS NULL))
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_delivery_endpoint_idx ON webhook_delivery (endpoint_id, delivery_id DESC);

-- Every attempt: when, where, the answer (status, latency, excerpt) or the error, and the delay
-- chosen before the next one.
CREATE TABLE webhook_attempt (
    attempt_id       bigserial PRIMARY KEY,
    delivery_id      bigint NOT NULL REFERENCES webhook_delivery (delivery_id) ON DELETE CASCADE,
    attempt_no       integer NOT NULL CHECK (attempt_no >= 1),
    attempted_at     timestamptz NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN
                         ('delivered', 'http_error', 'network_error', 'gone', 'target_refused')),
    response_status  integer,
    latency_ms       double precision NOT NULL CHECK (latency_ms >= 0),
    error            text NOT NULL DEFAULT '',
    response_excerpt text NOT NULL DEFAULT '',
    retry_in_s       double precision CHECK (retry_in_s >= 0),
    UNIQUE (delivery_id, attempt_no)
);

-- What the API shows of an endpoint: everything but the secrets (shown once, when created or
-- rotated), and the end of a rotation's grace period only while it lasts.
CREATE VIEW webhook_endpoint_public AS
SELECT endpoint_id, url, description, event_types, enterprise_id, enabled, disabled_reason,
       disabled_at,
       CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END
           AS previous_secret_valid_until,
       created_at, created_by, updated_at
  FROM webhook_endpoint;
