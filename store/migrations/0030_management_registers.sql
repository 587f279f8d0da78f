-- The management system around the data (clauses 4-10): nonconformities from any source with
-- corrective and preventive tickets (9.4, 10.1), the shared reminder log of the registers, and
-- the first two registers: context issues (4.1) and interested parties' needs and
-- expectations (4.2).

-- Tickets: a nonconformity found by an alert (as before), or by an internal audit, a compliance
-- evaluation, a complaint, a management review or an observation, linked to its source record.
-- A preventive ticket (9.4) deals with a potential nonconformity.
ALTER TABLE ticket ALTER COLUMN rule DROP NOT NULL;
ALTER TABLE ticket ALTER COLUMN suggested_cause DROP NOT NULL;
ALTER TABLE ticket
    ADD COLUMN kind text NOT NULL DEFAULT 'corrective'
        CHECK (kind IN ('corrective', 'preventive')),
    ADD COLUMN source_kind text NOT NULL DEFAULT 'alert' CHECK (source_kind IN (
        'alert', 'internal_audit', 'compliance_evaluation', 'complaint', 'management_review',
        'observation')),
    -- The source record's id in its register (an audit, an evaluation, a complaint number);
    -- an alert ticket's alerts are its occurrences.
    ADD COLUMN source_id text CHECK (length(source_id) BETWEEN 1 AND 200),
    ADD COLUMN description text CHECK (length(description) BETWEEN 1 AND 10000),
    -- Alert tickets carry the deviation rule and its suggested cause; no other ticket does.
    ADD CONSTRAINT ticket_source CHECK (
        (source_kind = 'alert') = (rule IS NOT NULL)
        AND (source_kind = 'alert') = (suggested_cause IS NOT NULL)
        AND (source_kind <> 'alert' OR (kind = 'corrective' AND source_id IS NULL))
        AND (source_kind IN ('alert', 'observation') OR source_id IS NOT NULL));
CREATE INDEX ticket_source_idx ON ticket (source_kind, source_id);

-- Webhook event types: the list lives in api/webhooks/enums.py (every register adds its
-- reminder kinds there); the tables check the form only, so a new kind needs no migration.
ALTER TABLE webhook_endpoint DROP CONSTRAINT webhook_endpoint_event_types_check;
ALTER TABLE webhook_endpoint ADD CONSTRAINT webhook_endpoint_event_types_check CHECK (
    cardinality(event_types) BETWEEN 1 AND 100
    AND array_to_string(event_types, ',') ~ '^[a-z_]+(\.[a-z_]+)*(,[a-z_]+(\.[a-z_]+)*)*$');
ALTER TABLE webhook_message DROP CONSTRAINT webhook_message_event_type_check;
ALTER TABLE webhook_message ADD CONSTRAINT webhook_message_event_type_check
    CHECK (event_type ~ '^[a-z_]+(\.[a-z_]+)*$');

-- Reminders of the registers: one row per (register, record, date kind, date) whose date has
-- passed and was announced through the webhook outbox. The row is written in the transaction
-- that queues the event, so each passing date is announced once; a new date (a review moved on)
-- is announced again when it passes.
CREATE TABLE register_reminder (
    register     text NOT NULL CHECK (register ~ '^[a-z_]{1,64}$'),
    record_id    bigint NOT NULL,
    date_kind    text NOT NULL CHECK (date_kind ~ '^[a-z_]{1,64}$'),
    due_on       date NOT NULL,
    notified_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (register, record_id, date_kind, due_on)
);

-- Clause 4.1: internal and external issues relevant to the park's purpose and to the intended
-- outcomes of its carbon management system, with their effect and the date of their next review.
-- NULL enterprise_id: a park-level record (enterprise keys never see it).
CREATE TABLE context_issue (
    record_id          bigserial PRIMARY KEY,
    park_id            text NOT NULL REFERENCES park (park_id),
    enterprise_id      text REFERENCES enterprise (enterprise_id),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    origin             text NOT NULL CHECK (origin IN ('internal', 'external')),
    category           text NOT NULL CHECK (category IN (
                           'policy', 'regulatory', 'economic', 'social', 'technological',
                           'environmental', 'organisational', 'resources', 'other')),
    description        text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    effect             text NOT NULL CHECK (effect IN ('positive', 'negative', 'mixed')),
    effect_description text NOT NULL CHECK (length(effect_description) BETWEEN 1 AND 10000),
    affected_processes text[] NOT NULL DEFAULT '{}',
    owner              text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    review_on          date NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL CHECK (length(created_by) > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text NOT NULL CHECK (length(updated_by) > 0)
);
CREATE INDEX context_issue_enterprise_idx ON context_issue (enterprise_id, record_id DESC);
CREATE INDEX context_issue_review_idx ON context_issue (review_on) WHERE status = 'active';

-- Clause 4.2: one row per need or expectation of an interested party. A need the park decides
-- to take on (becomes_obligation) is linked to its compliance obligation (6.6) by
-- obligation_id once that register holds it.
CREATE TABLE interested_party (
    record_id          bigserial PRIMARY KEY,
    park_id            text NOT NULL REFERENCES park (park_id),
    enterprise_id      text REFERENCES enterprise (enterprise_id),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    party              text NOT NULL CHECK (length(party) BETWEEN 1 AND 200),
    party_type         text NOT NULL CHECK (party_type IN (
                           'government', 'regulator', 'enterprise', 'employee', 'community',
                           'investor', 'customer', 'supplier', 'financial_institution',
                           'other')),
    need               text NOT NULL CHECK (length(need) BETWEEN 1 AND 10000),
    influence          integer NOT NULL CHECK (influence BETWEEN 1 AND 5),
    interest           integer NOT NULL CHECK (interest BETWEEN 1 AND 5),
    becomes_obligation boolean NOT NULL,
    obligation_id      bigint CHECK (obligation_id >= 1),
    contact            text CHECK (length(contact) BETWEEN 1 AND 200),
    owner              text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    review_on          date NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL CHECK (length(created_by) > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (becomes_obligation OR obligation_id IS NULL)
);
CREATE INDEX interested_party_enterprise_idx ON interested_party (enterprise_id, record_id DESC);
CREATE INDEX interested_party_review_idx ON interested_party (review_on) WHERE status = 'active';
