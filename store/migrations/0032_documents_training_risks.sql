-- Three registers of the management system: controlled documents with their versions (5.2
-- carbon policy, 7.3 document control), competence and training records (7.2), and risks and
-- opportunities with the admission screening of "two-high" projects (6.1, 6.3.5).
-- Every record belongs to a park and optionally one enterprise of it (NULL: park-level, never
-- seen by enterprise keys), as the other registers do.

-- 7.3: a controlled document (identified by its code within the park) and the version in force.
CREATE TABLE controlled_document (
    document_id    bigserial PRIMARY KEY,
    park_id        text NOT NULL REFERENCES park (park_id),
    enterprise_id  text REFERENCES enterprise (enterprise_id),
    -- 7.3 a-e and 5.2: the carbon policy, the manual, procedures, management rules, work
    -- instructions, record forms, and documents of external origin.
    kind           text NOT NULL CHECK (kind IN (
                       'carbon_policy', 'manual', 'procedure', 'management_rule',
                       'work_instruction', 'record_form', 'external')),
    code           text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    owner          text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    issued_version integer CHECK (issued_version >= 1),  -- NULL: none in force
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL CHECK (length(created_by) > 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (park_id, code),
    -- 5.2: the policy is top management's, for the whole park.
    CONSTRAINT controlled_document_policy_park CHECK (kind <> 'carbon_policy' OR enterprise_id IS NULL)
);
CREATE INDEX controlled_document_enterprise_idx
    ON controlled_document (enterprise_id, document_id DESC);
-- 5.2: one carbon policy in force per park at a time.
CREATE UNIQUE INDEX controlled_document_one_policy ON controlled_document (park_id)
    WHERE kind = 'carbon_policy' AND issued_version IS NOT NULL;

CREATE TABLE document_version (
    document_id       bigint NOT NULL REFERENCES controlled_document (document_id),
    version           integer NOT NULL CHECK (version >= 1),
    state             text NOT NULL DEFAULT 'draft'
                          CHECK (state IN ('draft', 'approved', 'issued', 'withdrawn')),
    author            text NOT NULL CHECK (length(author) BETWEEN 1 AND 200),
    change_note       text NOT NULL DEFAULT '' CHECK (length(change_note) <= 10000),
    effective_on      date NOT NULL,
    review_on         date NOT NULL,  -- the post-evaluation of 7.3 (后评价); a reminder
    file_name         text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    file_sha256       text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    approver          text CHECK (length(approver) BETWEEN 1 AND 200),
    approved_at       timestamptz,
    approved_by       text,
    issued_at         timestamptz,
    issued_by         text,
    withdrawn_at      timestamptz,
    withdrawn_by      text,
    withdrawal_reason text CHECK (length(withdrawal_reason) BETWEEN 1 AND 10000),
    superseded_by     integer,  -- the version whose issue withdrew this one
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL CHECK (length(created_by) > 0),
    PRIMARY KEY (document_id, version),
    CHECK (review_on >= effective_on),
    -- The approver is someone else than the author (7.3: reviewed and approved before issue).
    CHECK (approver IS NULL OR lower(btrim(approver)) <> lower(btrim(author))),
    CHECK ((state = 'draft') = (approved_at IS NULL AND approver IS NULL)
           OR state = 'withdrawn'),
    CHECK (state NOT IN ('approved', 'issued') OR approved_at IS NOT NULL),
    CHECK ((state = 'issued') <= (issued_at IS NOT NULL)),
    CHECK ((state = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL))
);
-- One version in force per document, and one in preparation (draft or approved) at a time.
CREATE UNIQUE INDEX document_version_one_issued ON document_version (document_id)
    WHERE state = 'issued';
CREATE UNIQUE INDEX document_version_one_open ON document_version (document_id)
    WHERE state IN ('draft', 'approved');
CREATE INDEX document_version_review_idx ON document_version (review_on) WHERE state = 'issued';

-- A version's content never changes once written; only its state moves on (7.3 change control).
CREATE FUNCTION document_version_content_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moving text[] := ARRAY['state', 'approver', 'approved_at', 'approved_by', 'issued_at',
                           'issued_by', 'withdrawn_at', 'withdrawn_by', 'withdrawal_reason',
                           'superseded_by'];
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'document versions are kept (clause 7.3): % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - moving) IS DISTINCT FROM (to_jsonb(OLD) - moving) THEN
        RAISE EXCEPTION 'the content of document % version % never changes',
            OLD.document_id, OLD.version USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER document_version_content_fixed BEFORE UPDATE OR DELETE ON document_version
    FOR EACH ROW EXECUTE FUNCTION document_version_content_fixed();
CREATE TRIGGER document_version_no_truncate BEFORE TRUNCATE ON document_version
    FOR EACH STATEMENT EXECUTE FUNCTION document_version_content_fixed();

-- The file of a version, stored once its bytes matched the declared sha256 and type.
CREATE TABLE document_file (
    document_id  bigint NOT NULL,
    version      integer NOT NULL,
    content_type text NOT NULL,
    size_bytes   integer NOT NULL CHECK (size_bytes > 0),
    content      bytea NOT NULL,
    uploaded_by  text NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, version),
    FOREIGN KEY (document_id, version) REFERENCES document_version (document_id, version)
);
CREATE FUNCTION document_file_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (clause 7.3): % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER document_file_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON document_file
    FOR EACH STATEMENT EXECUTE FUNCTION document_file_append_only();

-- 7.2: the competence a role needs, and how it is acquired.
CREATE TABLE competence_requirement (
    requirement_id bigserial PRIMARY KEY,
    park_id        text NOT NULL REFERENCES park (park_id),
    enterprise_id  text REFERENCES enterprise (enterprise_id),  -- NULL: every enterprise's role
    role           text NOT NULL CHECK (length(role) BETWEEN 1 AND 200),
    competence     text NOT NULL CHECK (length(competence) BETWEEN 1 AND 200),
    acquired_by    text NOT NULL CHECK (acquired_by IN ('training', 'education', 'experience')),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL CHECK (length(created_by) > 0),
    UNIQUE NULLS NOT DISTINCT (park_id, enterprise_id, role, competence)
);

-- Who holds which role (a person is named within an enterprise, or as park staff).
CREATE TABLE role_holder (
    holder_id     bigserial PRIMARY KEY,
    park_id       text NOT NULL REFERENCES park (park_id),
    enterprise_id text REFERENCES enterprise (enterprise_id),
    person        text NOT NULL CHECK (length(person) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (length(role) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CHECK (length(created_by) > 0),
    UNIQUE NULLS NOT DISTINCT (park_id, enterprise_id, person, role)
);

CREATE TABLE training_event (
    event_id      bigserial PRIMARY KEY,
    park_id       text NOT NULL REFERENCES park (park_id),
    enterprise_id text REFERENCES enterprise (enterprise_id),
    held_on       date NOT NULL,
    topic         text NOT NULL CHECK (length(topic) BETWEEN 1 AND 200),
    trainer       text NOT NULL CHECK (length(trainer) BETWEEN 1 AND 200),
    competences   text[] NOT NULL CHECK (cardinality(competences) BETWEEN 1 AND 50),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CHECK (length(created_by) > 0)
);
CREATE INDEX training_event_enterprise_idx ON training_event (enterprise_id, event_id DESC);

-- One attendee of an event and the evaluation of what they learnt (7.2 c: assessed).
CREATE TABLE training_attendance (
    attendance_id bigserial PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES training_event (event_id),
    person        text NOT NULL CHECK (length(person) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (length(role) BETWEEN 1 AND 200),
    enterprise_id text REFERENCES enterprise (enterprise_id),  -- NULL: park staff
    result        text NOT NULL CHECK (result IN ('passed', 'failed', 'not_evaluated')),
    method        text CHECK (method IN (
                      'written_test', 'practical_test', 'interview', 'observation')),
    evaluated_by  text CHECK (length(evaluated_by) BETWEEN 1 AND 200),
    note          text NOT NULL DEFAULT '' CHECK (length(note) <= 10000),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    recorded_by   text NOT NULL CHECK (length(recorded_by) > 0),
    UNIQUE NULLS NOT DISTINCT (event_id, enterprise_id, person),
    CHECK ((result = 'not_evaluated') = (method IS NULL)),
    CHECK ((result = 'not_evaluated') = (evaluated_by IS NULL))
);
CREATE INDEX training_attendance_person_idx ON training_attendance (enterprise_id, person);

-- 6.1: risks and opportunities, scored likelihood x consequence on a 5 x 5 matrix.
CREATE TABLE risk (
    risk_id             bigserial PRIMARY KEY,
    park_id             text NOT NULL REFERENCES park (park_id),
    enterprise_id       text REFERENCES enterprise (enterprise_id),
    kind                text NOT NULL CHECK (kind IN ('risk', 'opportunity')),
    -- 6.1.2 a-e
    category            text NOT NULL CHECK (category IN (
                            'strategic', 'operational', 'financial', 'emergent',
                            'opportunity')),
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description         text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    -- 6.1.1 a, b, d: where it was identified (optional links into the other registers).
    -- The context issue and the interested party are real links (0030's registers); the
    -- obligations register (6.6) does not exist yet, so its id stays a plain reference.
    context_issue_id    bigint REFERENCES context_issue (record_id),
    interested_party_id bigint REFERENCES interested_party (record_id),
    obligation_id       bigint CHECK (obligation_id >= 1),
    likelihood          integer NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
    consequence         integer NOT NULL CHECK (consequence BETWEEN 1 AND 5),
    score               integer NOT NULL,
    owner               text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    review_on           date NOT NULL,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL CHECK (length(created_by) > 0),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (score = likelihood * consequence),
    CHECK ((kind = 'opportunity') = (category = 'opportunity'))
);
CREATE INDEX risk_enterprise_idx ON risk (enterprise_id, risk_id DESC);
CREATE INDEX risk_review_idx ON risk (review_on) WHERE status = 'open';

-- 6.1.3 a: an action on a risk, and b 2): the review of its effectiveness.
CREATE TABLE risk_action (
    action_id   bigserial PRIMARY KEY,
    risk_id     bigint NOT NULL REFERENCES risk (risk_id),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    owner       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    due_on      date NOT NULL,
    review_on   date NOT NULL,  -- when its effectiveness is to be reviewed; a reminder
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL CHECK (length(created_by) > 0)
);
CREATE INDEX risk_action_risk_idx ON risk_action (risk_id, action_id);

CREATE TABLE risk_action_review (
    review_id   bigserial PRIMARY KEY,
    action_id   bigint NOT NULL REFERENCES risk_action (action_id),
    reviewed_on date NOT NULL,
    effective   boolean NOT NULL,
    note        text NOT NULL CHECK (length(note) BETWEEN 1 AND 10000),
    reviewed_by text NOT NULL CHECK (length(reviewed_by) > 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_action_review_action_idx ON risk_action_review (action_id, review_id);

-- 6.3.5, 6.1.2 b: the admission screening of a new "two-high" (high energy consumption, high
-- emissions) project: its expected figures, the criteria applied and the decision, once.
CREATE TABLE project_screening (
    screening_id           bigserial PRIMARY KEY,
    park_id                text NOT NULL REFERENCES park (park_id),
    enterprise_id          text REFERENCES enterprise (enterprise_id),  -- the applicant, if known
    project                text NOT NULL CHECK (length(project) BETWEEN 1 AND 200),
    applicant              text NOT NULL CHECK (length(applicant) BETWEEN 1 AND 200),
    industry               text NOT NULL CHECK (length(industry) BETWEEN 1 AND 200),
    annual_energy_tce      double precision NOT NULL CHECK (annual_energy_tce >= 0),
    annual_emissions_tco2e double precision NOT NULL CHECK (annual_emissions_tco2e >= 0),
    criteria               jsonb NOT NULL CHECK (jsonb_typeof(criteria) = 'array'),
    decision               text CHECK (decision IN ('admit', 'admit_with_conditions', 'refuse')),
    conditions             text CHECK (length(conditions) BETWEEN 1 AND 10000),
    decision_reason        text CHECK (length(decision_reason) BETWEEN 1 AND 10000),
    decided_by             text CHECK (length(decided_by) BETWEEN 1 AND 200),
    decided_at             timestamptz,
    recorded_by            text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    created_by             text NOT NULL CHECK (length(created_by) > 0),
    CHECK ((decision IS NULL) = (decided_by IS NULL)),
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision IS NULL) = (decision_reason IS NULL)),
    CHECK ((decision = 'admit_with_conditions') IS TRUE = (conditions IS NOT NULL))
);
CREATE INDEX project_screening_enterprise_idx ON project_screening (enterprise_id, screening_id DESC);

-- The figures and criteria of a screening never change, and it is decided once.
CREATE FUNCTION project_screening_decide_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    decision text[] := ARRAY['decision', 'conditions', 'decision_reason', 'decided_by',
                             'decided_at', 'recorded_by'];
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'a project screening is kept (clause 7.3): % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.decision IS NOT NULL THEN
        RAISE EXCEPTION 'project screening % is already decided (%)', OLD.screening_id,
            OLD.decision USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - decision) IS DISTINCT FROM (to_jsonb(OLD) - decision) THEN
        RAISE EXCEPTION 'the figures of project screening % never change', OLD.screening_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER project_screening_decide_once BEFORE UPDATE OR DELETE ON project_screening
    FOR EACH ROW EXECUTE FUNCTION project_screening_decide_once();
CREATE TRIGGER project_screening_no_truncate BEFORE TRUNCATE ON project_screening
    FOR EACH STATEMENT EXECUTE FUNCTION project_screening_decide_once();

-- The registers as the shared register machinery (api/registers) reads them: one row per
-- record with the system columns record_id, park_id, enterprise_id, status, then the content
-- columns of the register's XLSX sheet. Export and the date reminders read these views; every
-- write goes through the register's own service and its workflow.

-- 7.3: one row per document with the version in force (blank while none is), whose review
-- date raises document.review_due.
CREATE VIEW document_register AS
SELECT d.document_id AS record_id, d.park_id, d.enterprise_id, 'active'::text AS status,
       d.kind, d.code, d.title, d.owner, d.issued_version,
       v.author, v.change_note, v.effective_on, v.review_on, v.file_name, v.file_sha256 AS sha256
FROM controlled_document d
LEFT JOIN document_version v ON v.document_id = d.document_id AND v.version = d.issued_version;

CREATE VIEW competence_requirement_register AS
SELECT requirement_id AS record_id, park_id, enterprise_id, 'active'::text AS status,
       role, competence, acquired_by, description
FROM competence_requirement;

CREATE VIEW role_holder_register AS
SELECT holder_id AS record_id, park_id, enterprise_id, 'active'::text AS status, person, role
FROM role_holder;

CREATE VIEW training_event_register AS
SELECT event_id AS record_id, park_id, enterprise_id, 'active'::text AS status,
       held_on, topic, trainer, competences
FROM training_event;

-- An attendee's record belongs to the attendee's enterprise (NULL: park staff, in the event's
-- park), as the attendance an event shows a key does.
CREATE VIEW training_attendance_register AS
SELECT a.attendance_id AS record_id, e.park_id, a.enterprise_id, 'active'::text AS status,
       a.event_id, a.person, a.role, a.result, a.method, a.evaluated_by, a.note
FROM training_attendance a JOIN training_event e ON e.event_id = a.event_id;

-- 6.1: an open risk is an active record (its review date raises risk.review_due); a closed
-- one is archived.
CREATE VIEW risk_register AS
SELECT risk_id AS record_id, park_id, enterprise_id,
       CASE status WHEN 'open' THEN 'active' ELSE 'archived' END AS status,
       kind, category, title, description, context_issue_id, interested_party_id,
       obligation_id, likelihood, consequence, score, owner, review_on
FROM risk;

-- 6.1.3 b 2): an action is active until its effectiveness has been reviewed (or its risk is
-- closed); until then its review date raises risk_action.review_due.
CREATE VIEW risk_action_register AS
SELECT a.action_id AS record_id, r.park_id, r.enterprise_id,
       CASE WHEN r.status = 'open' AND NOT EXISTS (
                SELECT 1 FROM risk_action_review v WHERE v.action_id = a.action_id)
            THEN 'active' ELSE 'archived' END AS status,
       a.risk_id, a.description, a.owner, a.due_on, a.review_on
FROM risk_action a JOIN risk r ON r.risk_id = a.risk_id;

-- 6.3.5: the criteria as JSON text (one cell of the sheet).
CREATE VIEW project_screening_register AS
SELECT screening_id AS record_id, park_id, enterprise_id, 'active'::text AS status,
       project, applicant, industry, annual_energy_tce, annual_emissions_tco2e,
       criteria::text AS criteria, decision, conditions, decision_reason, decided_by, decided_at
FROM project_screening;
