-- Compliance obligations (6.6), their evaluation (9.2) and internal audits (9.3) as registers of
-- the management system, on the shared register columns of 0030 (record_id, park_id,
-- enterprise_id NULL for a park-level record, status active/archived, created/updated).

-- Clause 6.6: a legal or other requirement the park or its enterprises must or choose to meet,
-- from its source document and clause, evaluated every evaluation_frequency_months; the next
-- evaluation's due date raises obligation.evaluation_due when it passes (an evaluation moves it).
CREATE TABLE obligation (
    record_id                   bigserial PRIMARY KEY,
    park_id                     text NOT NULL REFERENCES park (park_id),
    enterprise_id               text REFERENCES enterprise (enterprise_id),
    status                      text NOT NULL DEFAULT 'active'
                                    CHECK (status IN ('active', 'archived')),
    title                       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    kind                        text NOT NULL CHECK (kind IN (
                                    'law', 'regulation', 'standard', 'permit', 'contract',
                                    'voluntary_commitment', 'other')),
    source_document             text NOT NULL CHECK (length(source_document) BETWEEN 1 AND 200),
    clause                      text CHECK (length(clause) BETWEEN 1 AND 200),
    summary                     text NOT NULL CHECK (length(summary) BETWEEN 1 AND 10000),
    applicability               text NOT NULL CHECK (applicability IN ('all', 'named_enterprises')),
    applies_to                  text[] NOT NULL DEFAULT '{}',
    owner                       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    evaluation_frequency_months integer NOT NULL
                                    CHECK (evaluation_frequency_months BETWEEN 1 AND 120),
    next_evaluation_due         date NOT NULL,
    obligation_status           text NOT NULL CHECK (obligation_status IN (
                                    'in_force', 'upcoming', 'superseded')),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    created_by                  text NOT NULL CHECK (length(created_by) > 0),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    updated_by                  text NOT NULL CHECK (length(updated_by) > 0),
    CHECK ((applicability = 'all') = (cardinality(applies_to) = 0))
);
CREATE INDEX obligation_enterprise_idx ON obligation (enterprise_id, record_id DESC);
CREATE INDEX obligation_due_idx ON obligation (next_evaluation_due) WHERE status = 'active';

-- An interested party's need taken on as an obligation (4.2 c) links to it. Rows written
-- before this register existed keep the number they hold (NOT VALID); every write from now on
-- names an obligation that exists.
ALTER TABLE interested_party ADD CONSTRAINT interested_party_obligation_fk
    FOREIGN KEY (obligation_id) REFERENCES obligation (record_id) NOT VALID;

-- Clause 9.2: one evaluation of one obligation over a period, with its evidence; a
-- non-compliant result opens a nonconformity ticket in the same transaction (ticket_id).
CREATE TABLE compliance_evaluation (
    record_id          bigserial PRIMARY KEY,
    park_id            text NOT NULL REFERENCES park (park_id),
    enterprise_id      text REFERENCES enterprise (enterprise_id),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    obligation_id      bigint NOT NULL REFERENCES obligation (record_id),
    period_start       date NOT NULL,
    period_end         date NOT NULL,
    result             text NOT NULL CHECK (result IN (
                           'compliant', 'non_compliant', 'not_applicable')),
    finding            text NOT NULL CHECK (length(finding) BETWEEN 1 AND 10000),
    evidence_ref       text NOT NULL CHECK (length(evidence_ref) BETWEEN 1 AND 200),
    evidence_file_name text CHECK (length(evidence_file_name) BETWEEN 1 AND 200),
    evidence_sha256    text CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
    evaluator          text NOT NULL CHECK (length(evaluator) BETWEEN 1 AND 200),
    evaluated_on       date NOT NULL,
    ticket_id          bigint REFERENCES ticket (ticket_id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL CHECK (length(created_by) > 0),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (period_start <= period_end),
    CHECK ((evidence_file_name IS NULL) = (evidence_sha256 IS NULL))
);
CREATE INDEX compliance_evaluation_enterprise_idx
    ON compliance_evaluation (enterprise_id, record_id DESC);
CREATE INDEX compliance_evaluation_obligation_idx ON compliance_evaluation (obligation_id);

-- Clause 9.3: the audit programme (the audits planned for a year) and each audit, with its
-- scope, criteria, auditors and their independence from the area audited; a closed audit holds
-- its report (a file whose sha256 the record declares, kept in register_file).
CREATE TABLE internal_audit (
    record_id            bigserial PRIMARY KEY,
    park_id              text NOT NULL REFERENCES park (park_id),
    enterprise_id        text REFERENCES enterprise (enterprise_id),
    status               text NOT NULL DEFAULT 'active'
                             CHECK (status IN ('active', 'archived')),
    programme_year       integer NOT NULL CHECK (programme_year BETWEEN 2000 AND 9000),
    title                text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    scope                text NOT NULL CHECK (length(scope) BETWEEN 1 AND 10000),
    criteria             text NOT NULL CHECK (length(criteria) BETWEEN 1 AND 10000),
    audited_area         text NOT NULL CHECK (length(audited_area) BETWEEN 1 AND 200),
    auditors             text[] NOT NULL CHECK (cardinality(auditors) BETWEEN 1 AND 20),
    auditors_independent boolean NOT NULL,
    independence_note    text CHECK (length(independence_note) BETWEEN 1 AND 10000),
    planned_start        date NOT NULL,
    planned_end          date NOT NULL,
    actual_start         date,
    actual_end           date,
    audit_status         text NOT NULL CHECK (audit_status IN (
                             'planned', 'in_progress', 'closed', 'cancelled')),
    report_file_name     text CHECK (length(report_file_name) BETWEEN 1 AND 200),
    report_sha256        text CHECK (report_sha256 ~ '^[0-9a-f]{64}$'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text NOT NULL CHECK (length(created_by) > 0),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           text NOT NULL CHECK (length(updated_by) > 0),
    CHECK (planned_start <= planned_end),
    CHECK (actual_end IS NULL OR (actual_start IS NOT NULL AND actual_start <= actual_end)),
    CHECK (auditors_independent OR independence_note IS NOT NULL),
    CHECK ((report_file_name IS NULL) = (report_sha256 IS NULL)),
    CHECK (audit_status <> 'closed'
           OR (actual_end IS NOT NULL AND report_sha256 IS NOT NULL))
);
CREATE INDEX internal_audit_enterprise_idx ON internal_audit (enterprise_id, record_id DESC);
CREATE INDEX internal_audit_year_idx ON internal_audit (programme_year);

-- A finding of an internal audit; a nonconformity opens a ticket in the same transaction.
CREATE TABLE audit_finding (
    record_id     bigserial PRIMARY KEY,
    park_id       text NOT NULL REFERENCES park (park_id),
    enterprise_id text REFERENCES enterprise (enterprise_id),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    audit_id      bigint NOT NULL REFERENCES internal_audit (record_id),
    finding_type  text NOT NULL CHECK (finding_type IN (
                      'nonconformity', 'observation', 'opportunity_for_improvement')),
    clause        text NOT NULL CHECK (length(clause) BETWEEN 1 AND 200),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description   text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    evidence      text NOT NULL CHECK (length(evidence) BETWEEN 1 AND 10000),
    ticket_id     bigint REFERENCES ticket (ticket_id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL CHECK (length(created_by) > 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL CHECK (length(updated_by) > 0)
);
CREATE INDEX audit_finding_enterprise_idx ON audit_finding (enterprise_id, record_id DESC);
CREATE INDEX audit_finding_audit_idx ON audit_finding (audit_id);

-- Files a register record declares by name and sha256 (an evaluation's evidence, an audit's
-- report), checked against that declaration when uploaded; one per record and kind.
CREATE TABLE register_file (
    register     text NOT NULL CHECK (register ~ '^[a-z_]{1,64}$'),
    record_id    bigint NOT NULL,
    kind         text NOT NULL CHECK (kind ~ '^[a-z_]{1,64}$'),
    file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL CHECK (length(content_type) BETWEEN 1 AND 200),
    size_bytes   integer NOT NULL CHECK (size_bytes > 0),
    content      bytea NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    uploaded_by  text NOT NULL CHECK (length(uploaded_by) > 0),
    PRIMARY KEY (register, record_id, kind)
);
