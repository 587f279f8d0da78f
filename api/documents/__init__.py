"""Controlled documents (clauses 5.2, 7.3)."""
