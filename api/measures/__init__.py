"""Reduction measures, objectives and the meter calibration log (clauses 6.2, 6.3, 9.1 c)."""
