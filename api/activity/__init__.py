"""Manual activity records (clause 6.3.1 e): entry, confirmation, corrections, evidence."""
