"""Every register, for what runs over all of them (the reminder check). A new register adds
its ``SPEC`` here."""

from __future__ import annotations

from api.context_issues.spec import SPEC as CONTEXT_ISSUES
from api.documents.spec import SPEC as DOCUMENTS
from api.interested_parties.spec import SPEC as INTERESTED_PARTIES
from api.registers.spec import RegisterSpec
from api.risks.spec import ACTIONS as RISK_ACTIONS
from api.risks.spec import RISKS, SCREENINGS
from api.training.spec import SHEETS as TRAINING

REGISTERS: tuple[RegisterSpec, ...] = (
    CONTEXT_ISSUES,
    INTERESTED_PARTIES,
    DOCUMENTS,
    RISKS,
    RISK_ACTIONS,
    SCREENINGS,
    *(spec for spec, _ in TRAINING.values()),
)
