"""Compliance obligations (clause 6.6) and their evaluation (clause 9.2)."""
