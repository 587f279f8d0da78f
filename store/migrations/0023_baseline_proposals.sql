-- Proposed baseline restatements (clause 6.5 c: emission factors or accounting method changed).
-- When a factor version or the GWP set changes, the platform recomputes a base-year baseline
-- from the base period's stored activity and proposes the new figure; accepting it records the
-- restatement in `baseline` (migration 0004) exactly as a hand-made one. A proposal keeps both
-- figures and the factor versions before and after, so the decision is auditable (7.3).

CREATE TABLE baseline_proposal (
    proposal_id          bigserial PRIMARY KEY,
    baseline_id          bigint NOT NULL REFERENCES baseline (baseline_id),
    -- What made it: a new park factor version (its key@valid_from in trigger_ref), or a request.
    trigger              text NOT NULL CHECK (trigger IN ('factor_version', 'on_demand')),
    trigger_ref          text,
    reason               text NOT NULL DEFAULT 'factors_or_method'
                             CHECK (reason = 'factors_or_method'),
    -- The base period as the park's local days, [period_start, period_end).
    period_start         date NOT NULL,
    period_end           date NOT NULL,
    gwp_set              text NOT NULL CHECK (gwp_set IN ('AR4', 'AR5', 'AR6')),
    hour_windows         integer NOT NULL CHECK (hour_windows > 0),
    stored_tco2e         double precision NOT NULL,  -- the base period's windows as stored
    restated_tco2e       double precision NOT NULL,  -- the same activity, factors in force now
    previous_value_tco2e double precision NOT NULL,  -- the baseline's figure (per period_kind)
    proposed_value_tco2e double precision NOT NULL,  -- restated_tco2e per period_kind
    factor_versions_before text[] NOT NULL,
    factor_versions_after  text[] NOT NULL,
    -- meter@day of activity that no factor covers now (recorded with tCO2e 0, as the worker does)
    lacking_factor       text[] NOT NULL DEFAULT '{}',
    note                 text NOT NULL CHECK (length(note) > 0),
    status               text NOT NULL DEFAULT 'proposed'
                             CHECK (status IN ('proposed', 'accepted', 'rejected', 'superseded')),
    decided_at           timestamptz,
    decided_by           text,
    decision_note        text NOT NULL DEFAULT '',
    restatement_id       bigint REFERENCES baseline (baseline_id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text NOT NULL CHECK (length(created_by) > 0),
    CONSTRAINT baseline_proposal_period CHECK (period_end > period_start),
    CONSTRAINT baseline_proposal_decided
        CHECK ((status = 'proposed') = (decided_at IS NULL AND decided_by IS NULL)),
    CONSTRAINT baseline_proposal_accepted
        CHECK ((status = 'accepted') = (restatement_id IS NOT NULL))
);
CREATE INDEX baseline_proposal_baseline_idx ON baseline_proposal (baseline_id, proposal_id);
-- At most one open proposal per baseline: a newer one supersedes it.
CREATE UNIQUE INDEX baseline_proposal_one_open ON baseline_proposal (baseline_id)
    WHERE status = 'proposed';

-- A proposal's figures never change, and only an open proposal is decided, once.
CREATE FUNCTION baseline_proposal_decide_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    decision text[] := ARRAY['status', 'decided_at', 'decided_by', 'decision_note',
                             'restatement_id'];
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'a baseline proposal is kept (clause 7.3): % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'proposed' THEN
        RAISE EXCEPTION 'baseline proposal % is already %', OLD.proposal_id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - decision) IS DISTINCT FROM (to_jsonb(OLD) - decision) THEN
        RAISE EXCEPTION 'the figures of baseline proposal % never change', OLD.proposal_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER baseline_proposal_decide_once BEFORE UPDATE OR DELETE ON baseline_proposal
    FOR EACH ROW EXECUTE FUNCTION baseline_proposal_decide_once();
CREATE TRIGGER baseline_proposal_no_truncate BEFORE TRUNCATE ON baseline_proposal
    FOR EACH STATEMENT EXECUTE FUNCTION baseline_proposal_decide_once();
