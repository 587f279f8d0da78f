"""Reports: the period inventory (clause 6.3.1) and the management-review inputs (9.5.1)."""
