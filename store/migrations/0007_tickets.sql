-- Corrective-action tickets opened from deviation alerts (clauses 9.1 b, 9.4, 10.1): the
-- nonconformity is reviewed, contained, its cause found (one of the five categories of 9.1 b),
-- similar nonconformities checked (10.1 b), actions decided and implemented, and their
-- effectiveness reviewed before the ticket closes. Every step is kept (7.3).

-- Who acknowledged an alert, once (a second acknowledgement changes nothing).
CREATE TABLE alert_ack (
    alert_id  uuid PRIMARY KEY REFERENCES alert (alert_id),
    acked_by  text NOT NULL CHECK (length(acked_by) > 0),
    acked_at  timestamptz NOT NULL DEFAULT now()
);

-- Messages of the alerts topic the API could not use: kept with their bytes and the reason, so
-- nothing is dropped without a trace (8.4). One row per (topic, partition, offset): a replay of
-- the same message adds nothing.
CREATE TABLE alert_rejected (
    rejected_id  bigserial PRIMARY KEY,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    key          bytea,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);

CREATE TABLE ticket (
    ticket_id              bigserial PRIMARY KEY,
    rule                   text NOT NULL,
    subject_kind           text NOT NULL CHECK (subject_kind IN ('park', 'enterprise', 'meter')),
    subject_id             text NOT NULL,
    -- NULL: a park-wide ticket (e.g. an unknown meter): enterprise keys never see it.
    enterprise_id          text,
    state                  text NOT NULL DEFAULT 'open' CHECK (state IN (
                               'open', 'contained', 'cause_identified', 'action_in_progress',
                               'effectiveness_check', 'closed', 'dismissed')),
    title                  text NOT NULL,
    -- The cause the deviation rule suggested (9.1 b); cause_category is the one the people
    -- working the ticket identified.
    suggested_cause        text NOT NULL,
    containment            text,
    cause_category         text CHECK (cause_category IN (
                               'accounting_scope_deviation', 'methodology_missing_or_misused',
                               'data_missing', 'unreliable_measurement_or_statistics', 'other')),
    root_cause             text,
    similar_nonconformities text,           -- the outcome of the 10.1 b check
    effectiveness_review   text,            -- the latest review's finding
    effectiveness_failures integer NOT NULL DEFAULT 0 CHECK (effectiveness_failures >= 0),
    dismissal_reason       text,
    -- The condition the alerts reported has cleared (a RESOLVED alert); it does not close the
    -- ticket: only a successful effectiveness review does.
    condition_cleared_at   timestamptz,
    opened_at              timestamptz NOT NULL DEFAULT now(),
    contained_at           timestamptz,
    cause_identified_at    timestamptz,
    action_in_progress_at  timestamptz,
    effectiveness_check_at timestamptz,
    closed_at              timestamptz,
    dismissed_at           timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ticket_dismissal CHECK ((state = 'dismissed') = (dismissed_at IS NOT NULL)
                                       AND (dismissed_at IS NULL) = (dismissal_reason IS NULL)),
    CONSTRAINT ticket_closed CHECK ((state = 'closed') = (closed_at IS NOT NULL)),
    CONSTRAINT ticket_cause CHECK (state IN ('open', 'contained', 'dismissed')
                                   OR (cause_category IS NOT NULL AND root_cause IS NOT NULL
                                       AND similar_nonconformities IS NOT NULL))
);
-- One ticket per (rule, subject) while it is being worked; a closed or dismissed one leaves room
-- for the next.
CREATE UNIQUE INDEX ticket_one_active_idx ON ticket (rule, subject_kind, subject_id)
    WHERE state NOT IN ('closed', 'dismissed');
CREATE INDEX ticket_enterprise_idx ON ticket (enterprise_id, ticket_id DESC);
CREATE INDEX ticket_state_idx ON ticket (state, ticket_id DESC);

-- Each alert step attached to its ticket; a step is (alert, state, window), so a replayed
-- message attaches nothing new.
CREATE TABLE ticket_occurrence (
    occurrence_id  bigserial PRIMARY KEY,
    ticket_id      bigint NOT NULL REFERENCES ticket (ticket_id),
    alert_id       uuid NOT NULL REFERENCES alert (alert_id),
    alert_state    text NOT NULL CHECK (alert_state IN ('RAISED', 'UPDATED', 'RESOLVED')),
    width_s        integer NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    measured       double precision NOT NULL,
    expected       double precision NOT NULL,
    unit           text NOT NULL,
    cause          text NOT NULL,
    message        text NOT NULL,
    raised_at      timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, alert_state, window_start)
);
CREATE INDEX ticket_occurrence_ticket_idx ON ticket_occurrence (ticket_id, occurrence_id);

-- Corrective actions (10.1 c-d), each with an owner and a due date; an overdue one is notified
-- once (overdue_notified_at).
CREATE TABLE ticket_action (
    action_id           bigserial PRIMARY KEY,
    ticket_id           bigint NOT NULL REFERENCES ticket (ticket_id),
    description         text NOT NULL CHECK (length(description) > 0),
    owner               text NOT NULL CHECK (length(owner) > 0),
    due_at              timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL,
    done_at             timestamptz,
    done_by             text,
    done_note           text,
    overdue_notified_at timestamptz,
    CONSTRAINT ticket_action_done CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX ticket_action_ticket_idx ON ticket_action (ticket_id, action_id);
CREATE INDEX ticket_action_pending_idx ON ticket_action (due_at)
    WHERE done_at IS NULL AND overdue_notified_at IS NULL;

CREATE TABLE ticket_comment (
    comment_id  bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES ticket (ticket_id),
    author      text NOT NULL,
    body        text NOT NULL CHECK (length(body) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_comment_ticket_idx ON ticket_comment (ticket_id, comment_id);

-- Attachments are links to evidence kept elsewhere (http or https only).
CREATE TABLE ticket_link (
    link_id    bigserial PRIMARY KEY,
    ticket_id  bigint NOT NULL REFERENCES ticket (ticket_id),
    url        text NOT NULL CHECK (url ~ '^https?://'),
    title      text NOT NULL DEFAULT '',
    added_by   text NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_link_ticket_idx ON ticket_link (ticket_id, link_id);

-- Everything that happened to a ticket, in order: each transition with its actor, time and the
-- fields it recorded, and every other event (occurrences, actions, comments, links). Append-only.
CREATE TABLE ticket_history (
    history_id  bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES ticket (ticket_id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL CHECK (length(actor) > 0),
    event       text NOT NULL CHECK (event IN (
                    'opened', 'transition', 'occurrence', 'condition_cleared', 'action_added',
                    'action_done', 'action_overdue', 'comment_added', 'link_added')),
    from_state  text,
    to_state    text,
    detail      jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT ticket_history_transition
        CHECK ((event = 'transition') = (from_state IS NOT NULL AND to_state IS NOT NULL))
);
CREATE INDEX ticket_history_ticket_idx ON ticket_history (ticket_id, history_id);

CREATE FUNCTION ticket_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket history is append-only (clause 7.3), % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ticket_history_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ticket_history
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_history_is_append_only();
