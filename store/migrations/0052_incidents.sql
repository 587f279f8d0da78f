-- Incidents (clauses 9.1 b, 10.1): alerts of one rule on the meters behind one gateway share a
-- cause (the gateway or its line stopped), so they share one ticket whose subject is the
-- gateway, instead of one ticket per meter. A gateway belongs to the park, not to an
-- enterprise: its ticket is park-wide (enterprise_id NULL) and names its park here, so a
-- park's ticket list finds it and no other park's does.
ALTER TABLE ticket DROP CONSTRAINT IF EXISTS ticket_subject_kind_check;
ALTER TABLE ticket ADD CONSTRAINT ticket_subject_kind_check
    CHECK (subject_kind IN ('park', 'enterprise', 'meter', 'gateway'));
ALTER TABLE ticket ADD COLUMN park_id text REFERENCES park (park_id);
ALTER TABLE ticket ADD CONSTRAINT ticket_gateway_has_park
    CHECK (subject_kind <> 'gateway' OR (park_id IS NOT NULL AND enterprise_id IS NULL));
CREATE INDEX ticket_park_idx ON ticket (park_id) WHERE park_id IS NOT NULL;
