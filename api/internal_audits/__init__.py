"""Internal audits (clause 9.3): the yearly programme, the audits and their findings."""
