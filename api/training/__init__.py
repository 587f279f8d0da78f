"""Competence and training records (clause 7.2)."""
