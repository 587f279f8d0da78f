"""Every register, for what runs over all of them (the reminder check). A new register adds
its ``SPEC`` here."""

from __future__ import annotations

from api.context_issues.spec import SPEC as CONTEXT_ISSUES
from api.interested_parties.spec import SPEC as INTERESTED_PARTIES
from api.internal_audits.spec import AUDITS, FINDINGS
from api.obligations.spec import EVALUATIONS, OBLIGATIONS
from api.registers.spec import RegisterSpec

REGISTERS: tuple[RegisterSpec, ...] = (
    CONTEXT_ISSUES,
    INTERESTED_PARTIES,
    OBLIGATIONS,
    EVALUATIONS,
    AUDITS,
    FINDINGS,
)
