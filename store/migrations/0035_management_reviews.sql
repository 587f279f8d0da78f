-- Clause 9.5: management reviews. A review is a draft while its inputs are gathered from the
-- platform (and refreshed) and its outputs recorded; closing it stores its record for good:
-- the record text is the canonical JSON that content_sha256 was computed over, and neither can
-- change afterwards (7.3: documented information kept as evidence). NULL enterprise_id: a
-- park-level review (enterprise keys never see it).
CREATE TABLE management_review (
    review_id      bigserial PRIMARY KEY,
    park_id        text NOT NULL REFERENCES park (park_id),
    enterprise_id  text REFERENCES enterprise (enterprise_id),
    state          text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'closed')),
    held_on        date NOT NULL,
    chair          text NOT NULL CHECK (length(chair) BETWEEN 1 AND 200),
    period_start   date NOT NULL,
    period_end     date NOT NULL,  -- the last local day reviewed, included
    -- The review as JSON (header, gathered inputs, outputs); once closed, canonical JSON
    -- (keys sorted, no spaces, UTF-8), exactly as hashed.
    record         text NOT NULL CHECK (record::jsonb IS NOT NULL),
    content_sha256 text CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    closed_at      timestamptz,
    closed_by      text CHECK (length(closed_by) > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL CHECK (length(created_by) > 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (period_end >= period_start),
    CHECK ((state = 'closed') = (content_sha256 IS NOT NULL)),
    CHECK ((state = 'closed') = (closed_at IS NOT NULL AND closed_by IS NOT NULL))
);
CREATE INDEX management_review_enterprise_idx ON management_review (enterprise_id, review_id DESC);

-- A closed review is immutable: the draft -> closed update is the last change a row takes.
CREATE FUNCTION management_review_closed_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'closed' THEN
        RAISE EXCEPTION 'management review % is closed (clause 9.5, 7.3): % refused',
            OLD.review_id, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER management_review_immutable
    BEFORE UPDATE OR DELETE ON management_review
    FOR EACH ROW EXECUTE FUNCTION management_review_closed_is_immutable();

CREATE FUNCTION management_review_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% keeps closed management reviews (clause 7.3): TRUNCATE refused',
        TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER management_review_truncate
    BEFORE TRUNCATE ON management_review
    FOR EACH STATEMENT EXECUTE FUNCTION management_review_no_truncate();

-- The outputs of closed reviews (9.5.2: decisions, resource needs, changes to objectives), one
-- row each, written in the transaction that closes the review and never changed: they carry
-- the register system columns so the shared reminder check announces each due date once
-- (review_output.due), and a later review reads them as the status of its actions.
CREATE TABLE management_review_output (
    record_id     bigserial PRIMARY KEY,
    review_id     bigint NOT NULL REFERENCES management_review (review_id),
    position      integer NOT NULL CHECK (position >= 1),
    park_id       text NOT NULL REFERENCES park (park_id),
    enterprise_id text REFERENCES enterprise (enterprise_id),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    kind          text NOT NULL CHECK (kind IN ('decision', 'resource_need', 'objective_change')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description   text CHECK (length(description) BETWEEN 1 AND 10000),
    owner         text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    due_on        date NOT NULL,
    nonconformity boolean NOT NULL,
    ticket_id     bigint REFERENCES ticket (ticket_id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (review_id, position),
    CHECK (nonconformity = (ticket_id IS NOT NULL))
);
CREATE INDEX management_review_output_due_idx ON management_review_output (due_on);

CREATE FUNCTION management_review_output_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND EXISTS (
        SELECT 1 FROM management_review WHERE review_id = NEW.review_id AND state = 'draft'
    ) THEN
        RETURN NEW;  -- written while its review closes
    END IF;
    RAISE EXCEPTION 'the outputs of a closed management review are immutable (clause 9.5, 7.3): '
        '% refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER management_review_output_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON management_review_output
    FOR EACH ROW EXECUTE FUNCTION management_review_output_guard();
CREATE TRIGGER management_review_output_truncate
    BEFORE TRUNCATE ON management_review_output
    FOR EACH STATEMENT EXECUTE FUNCTION management_review_no_truncate();
