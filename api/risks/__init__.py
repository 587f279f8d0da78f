"""Risks and opportunities, and the admission screening of two-high projects (6.1, 6.3.5)."""
