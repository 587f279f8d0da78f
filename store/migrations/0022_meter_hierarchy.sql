-- The accounting boundary of the meters (clauses 4.3, 6.3.1; GB/T 32150-2015's accounting
-- formula, net purchased electricity and heat): which meters' windows count in a total, and
-- with which sign, so no energy is counted twice. docs/boundary.md explains the rule; accounting/boundary.py describes it purely.
--
-- * A sub-meter names its parent (same enterprise, same carrier, no cycles): its windows are
--   detail of the parent's consumption and never added to a total.
-- * An export meter (role 'export') measures electricity or heat an enterprise sells or passes
--   on (an in-park CHP plant's sales): GB/T 32150 counts an enterprise's NET purchased
--   electricity and heat, so its windows count with the sign -1 in every total. The buyer's
--   own meter counts the purchase as usual, so the park total holds the seller's combustion
--   once (what left the park stays deducted, as net import of the park).
-- * A meter with in_boundary = false is outside the accounting boundary: stored, shown, never
--   counted.
--
-- The rule is applied WHEN READING: the windows and their day/month rollups (0003, 0012, 0013)
-- stay per meter and as measured, and every total reads them through the views below, which
-- take the sign from one place (meter_count_basis). A change of the hierarchy thus restates
-- every period at once (an audited registry change, clause 6.5/8.3), and the rollups never go
-- stale when it changes.

ALTER TABLE meter
    ADD COLUMN parent_meter_id text REFERENCES meter (meter_id),
    ADD COLUMN role text NOT NULL DEFAULT 'consumption'
        CHECK (role IN ('consumption', 'export'));
CREATE INDEX meter_parent_idx ON meter (parent_meter_id) WHERE parent_meter_id IS NOT NULL;

-- An export is purchased electricity or heat flowing the other way: GB/T 32150 nets the two,
-- and nothing else is netted.
ALTER TABLE meter ADD CONSTRAINT meter_export_is_energy CHECK (
    role <> 'export'
    OR (carrier = 'electricity' AND source_category = 'purchased_electricity')
    OR (carrier IN ('steam', 'heat') AND source_category = 'purchased_heat'));

-- Parent and child measure the same flow at two points: same enterprise and carrier, and a
-- tree (no meter is its own ancestor). An export is a boundary crossing measured at one point:
-- it is neither a parent nor a child.
CREATE FUNCTION meter_hierarchy_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent meter%ROWTYPE;
    child_id text;
BEGIN
    IF NEW.parent_meter_id IS NOT NULL THEN
        -- Two concurrent edits could each close half of a cycle: hierarchy edits take turns.
        LOCK TABLE meter IN SHARE ROW EXCLUSIVE MODE;
        SELECT * INTO parent FROM meter WHERE meter_id = NEW.parent_meter_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'parent meter % does not exist', NEW.parent_meter_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'meter_parent';
        END IF;
        IF parent.carrier <> NEW.carrier OR parent.enterprise_id <> NEW.enterprise_id THEN
            RAISE EXCEPTION 'parent meter % measures % of enterprise %, not % of %',
                parent.meter_id, parent.carrier, parent.enterprise_id, NEW.carrier,
                NEW.enterprise_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'meter_parent';
        END IF;
        IF NEW.role = 'export' OR parent.role = 'export' THEN
            RAISE EXCEPTION 'an export meter is neither a sub-meter nor a parent (meter %, parent %)',
                NEW.meter_id, parent.meter_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'meter_parent';
        END IF;
        IF EXISTS (
            WITH RECURSIVE up(meter_id, parent_meter_id) AS (
                SELECT meter_id, parent_meter_id FROM meter WHERE meter_id = NEW.parent_meter_id
                UNION
                SELECT m.meter_id, m.parent_meter_id
                FROM meter m JOIN up ON m.meter_id = up.parent_meter_id
            )
            SELECT 1 FROM up WHERE meter_id = NEW.meter_id
        ) THEN
            RAISE EXCEPTION 'meter % cannot have parent %: it would be its own ancestor',
                NEW.meter_id, NEW.parent_meter_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'meter_parent';
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- A parent's own change must keep its children valid.
        SELECT meter_id INTO child_id FROM meter
        WHERE parent_meter_id = NEW.meter_id
          AND (carrier <> NEW.carrier OR enterprise_id <> NEW.enterprise_id
               OR NEW.role = 'export')
        LIMIT 1;
        IF child_id IS NOT NULL THEN
            RAISE EXCEPTION 'meter % is the parent of %: same carrier and enterprise, never export',
                NEW.meter_id, child_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'meter_parent';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER meter_hierarchy_check BEFORE INSERT OR UPDATE ON meter
    FOR EACH ROW EXECUTE FUNCTION meter_hierarchy_check();

-- THE rule, once: how each meter's windows enter a total. weight 1 counted, -1 netted
-- (export), 0 left out (sub-meter detail, outside the boundary). accounting/boundary.py states
-- the same rule; a test checks the two agree on every combination.
CREATE VIEW meter_count_basis AS
SELECT m.meter_id, m.enterprise_id,
       CASE WHEN NOT m.in_boundary THEN 'out_of_boundary'
            WHEN m.parent_meter_id IS NOT NULL THEN 'sub_meter'
            WHEN m.role = 'export' THEN 'export'
            ELSE 'counted' END AS basis,
       CASE WHEN NOT m.in_boundary OR m.parent_meter_id IS NOT NULL THEN 0
            WHEN m.role = 'export' THEN -1
            ELSE 1 END AS weight
FROM meter m;

-- Tonnes of each gas times the weight (1 returns the object as it is).
CREATE FUNCTION gases_scaled(gases jsonb, k integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN k = 1 THEN gases ELSE
        coalesce((SELECT jsonb_object_agg(g.key, g.value::float8 * k)
                  FROM jsonb_each_text(gases) AS g), '{}'::jsonb) END
$$;

-- The windows, days and months as totals count them: counted meters only, measures signed.
-- Counts of windows and readings (completeness) are not signed. The column lists are those of
-- the tables (0003, 0012, 0013); tests/store/test_meter_hierarchy.py checks they stay whole.
CREATE VIEW counted_window AS
SELECT w.meter_id, w.width_s, w.window_start, w.window_end, w.enterprise_id, w.source_category,
       w.iso_category, w.activity * c.weight AS activity, w.activity_unit,
       gases_scaled(w.gases, c.weight) AS gases, w.tco2e * c.weight AS tco2e, w.gwp_set,
       w.factor_versions, w.readings_present, w.readings_expected, w.completeness, w.flags,
       w.interpolated, w.computed_at, c.weight
FROM emission_window w
JOIN meter_count_basis c ON c.meter_id = w.meter_id
WHERE c.weight <> 0;

CREATE VIEW counted_day AS
SELECT d.meter_id, d.day, d.enterprise_id, d.source_category, d.iso_category,
       d.activity * c.weight AS activity, d.activity_unit,
       gases_scaled(d.gases, c.weight) AS gases, d.gas_windows, d.tco2e * c.weight AS tco2e,
       d.readings_present, d.readings_expected, d.windows, d.factor_versions, d.flags,
       d.computed_at, c.weight
FROM emission_day d
JOIN meter_count_basis c ON c.meter_id = d.meter_id
WHERE c.weight <> 0;

CREATE VIEW counted_month AS
SELECT d.meter_id, d.month, d.enterprise_id, d.source_category, d.iso_category,
       d.activity * c.weight AS activity, d.activity_unit,
       gases_scaled(d.gases, c.weight) AS gases, d.gas_windows, d.tco2e * c.weight AS tco2e,
       d.readings_present, d.readings_expected, d.windows, d.factor_versions, d.flags,
       d.computed_at, c.weight
FROM emission_month d
JOIN meter_count_basis c ON c.meter_id = d.meter_id
WHERE c.weight <> 0;

-- What the dashboards read (0011): the totals through these views.
GRANT SELECT ON meter_count_basis, counted_window, counted_day, counted_month
    TO parkcarbon_reader;
